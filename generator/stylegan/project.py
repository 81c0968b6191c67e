"""Projection: find the w (one style vector for every layer) and then the W+ (one per layer) whose
render best reproduces a target image. Loss: pixel error at several scales (no network weights needed),
plus a small pull towards w_avg so that w stays in the region the mapping network produces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from catalogue import ArtworkDraft, MediaDraft
from gallery.errors import BadInput
from gallery.hashing import sha256_file
from gallery.media import DEFAULTS as MEDIA_DEFAULTS
from gallery.media import limits_of, probe_image, read_image
from generator import titles
from generator.stylegan.common import common, load_model, make_recipe, still_media
from generator.stylegan.model import Generator, to_uint8

if TYPE_CHECKING:
    from generator.job_params import StyleGANProject
    from generator.jobs import JobContext


@dataclass
class Projection:
    w: torch.Tensor  # [w_dim]
    wplus: torch.Tensor | None  # [num_ws, w_dim]
    loss_w: float
    loss_wplus: float | None
    image_w: np.ndarray
    image_wplus: np.ndarray | None
    history: list[float]


def load_target(path: Path, resolution: int, max_pixels: int = MEDIA_DEFAULTS.max_image_pixels) -> np.ndarray:
    """Read an image (any size up to ``media.max_image_pixels``, decoded reduced to no less than the
    resolution), centre-crop to a square and resize: RGB uint8 [res, res, 3]. BadInput (MediaTooLarge,
    MediaUnreadable) for a file that is missing, over the budget or not a readable image."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"image to project not found: {path}")
    img = read_image(path, what=f"image to project {path}", max_pixels=max_pixels,
                     fit=(resolution, resolution), cover=True)
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    interp = cv2.INTER_AREA if s > resolution else cv2.INTER_CUBIC
    return cv2.resize(img, (resolution, resolution), interpolation=interp)


def _loss(img: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    loss = F.mse_loss(img, target)
    a, b = img, target
    while a.shape[-1] > 8:
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        loss = loss + F.mse_loss(a, b)
    return loss


def project(G: Generator, target: np.ndarray, steps: int = 300, wplus: bool = True, lr: float = 0.05,
            seed: int = 0, noise_mode: str = "const", reg: float = 1e-3,
            on_step: Callable[[int, int, float], None] | None = None) -> Projection:
    """``on_step(step, steps, loss)`` after every optimisation step (W steps first, then W+)."""
    dev = G.mapping.w_avg.device
    tgt = torch.from_numpy(target).permute(2, 0, 1)[None].float().to(dev) / 127.5 - 1
    G = G.eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # start from the best of a few mapped samples (and w_avg)
        cands = torch.cat([G.mapping.w_avg[None], G.mapping.map_w(torch.randn(16, G.z_dim, generator=gen).to(dev))])
        errs = [float(_loss(G.synthesis(c[None, None].repeat(1, G.num_ws, 1), noise_mode=noise_mode), tgt))
                for c in cands]
    w = cands[int(np.argmin(errs))].clone().requires_grad_(True)
    w_std = float(G.mapping.map_w(torch.randn(256, G.z_dim, generator=gen).to(dev)).std(0).mean())
    history: list[float] = []

    def run(param: torch.Tensor, n: int, expand: bool) -> float:
        opt = torch.optim.Adam([param], lr=lr * w_std, betas=(0.9, 0.999))
        last = float("nan")
        for _ in range(n):
            ws = param[None, None].repeat(1, G.num_ws, 1) if expand else param[None]
            rec = _loss(G.synthesis(ws, noise_mode=noise_mode), tgt)
            loss = rec + reg * ((param - G.mapping.w_avg) / w_std).square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            last = float(rec.detach())
            history.append(last)
            if on_step is not None:
                on_step(len(history), steps, last)
        return last

    n_w = steps if not wplus else max(1, steps * 2 // 3)
    run(w, n_w, True)
    with torch.no_grad():
        ws_w = w.detach()[None, None].repeat(1, G.num_ws, 1)
        img_w = G.synthesis(ws_w, noise_mode=noise_mode)
        loss_w = float(_loss(img_w, tgt))
    wp = img_wp = loss_wp = None
    if wplus:
        wp = ws_w[0].clone().requires_grad_(True)
        run(wp, max(1, steps - n_w), False)
        with torch.no_grad():
            img = G.synthesis(wp.detach()[None], noise_mode=noise_mode)
            loss_wp = float(_loss(img, tgt))
            img_wp = to_uint8(img)[0]
        wp = wp.detach()
    return Projection(w.detach(), wp, loss_w, loss_wp, to_uint8(img_w)[0], img_wp, history)


def project_job(params: StyleGANProject, ctx: JobContext) -> list[ArtworkDraft]:
    """Job ``stylegan.project``: image (path), steps, wplus, lr -> artwork kind ``projection``."""
    from gallery.imaging import png_bytes
    from generator.stylegan.render import resize

    if not params.image and params.w is not None:
        return render_projection(params, ctx)
    if not params.image:
        raise BadInput("stylegan.project needs an image path (or a projection's w / ws to render)")
    path = Path(params.image)
    if not path.is_file():
        raise BadInput(f"image to project not found: {path}")
    max_pixels = limits_of(ctx.settings).max_image_pixels
    probe_image(path, what=f"image to project {path}", max_pixels=max_pixels)  # before the model loads
    m = load_model(params, ctx)
    c = common(params, ctx, m)
    steps = params.steps
    lr = params.lr
    wplus = params.wplus
    target = load_target(path, m.cfg.resolution, max_pixels)
    torch.manual_seed(c["seed"])
    from gallery.progress import report

    p = project(m.G, target, steps, wplus, lr, c["seed"], c["noise_mode"],
                on_step=lambda k, n, loss: report(ctx, "projecting (W, then W+)" if wplus else "projecting (W)", k,
                                                  n, loss=f"{loss:.4f}"))
    best = p.image_wplus if p.image_wplus is not None else p.image_w
    s = c["size"]
    comparison = np.concatenate([resize(target, s), resize(p.image_w, s)] +
                                ([resize(p.image_wplus, s)] if p.image_wplus is not None else []), axis=1)
    recipe = make_recipe("project", m, c, steps=steps, lr=lr, wplus=wplus,
                         target={"name": path.name, "sha256": sha256_file(path)},
                         w=[float(v) for v in p.w.cpu()],
                         ws=[[float(v) for v in row] for row in p.wplus.cpu()] if p.wplus is not None else None,
                         loss_w=p.loss_w, loss_wplus=p.loss_wplus)
    media = still_media(resize(best, s)) + [
        MediaDraft(role="comparison", mime="image/png", data=png_bytes(comparison), width=comparison.shape[1],
                   height=comparison.shape[0], meta={"panels": ["target", "w", "w+"][:comparison.shape[1] // s]})]
    feats = {"loss_w": p.loss_w} | ({"loss_wplus": p.loss_wplus} if p.loss_wplus is not None else {})
    return [ArtworkDraft(kind="projection", recipe=recipe, media=media, title=titles.for_recipe("projection", recipe),
                         model_sha256=m.sha256, tags=["stylegan", "projection"], features=feats)]


def render_projection(params: StyleGANProject, ctx: JobContext) -> list[ArtworkDraft]:
    """``stylegan.project`` given a projection's ``w`` (and W+ ``ws``) instead of an image: no optimisation,
    the (varied, with ``ctx.vary``) latent is rendered. A variation of a projection is made this way."""
    from generator.stylegan.render import render, w_to_ws
    from generator.variation import perturb, vary_steps

    m = load_model(params, ctx)
    c = common(params, ctx, m)
    G = m.G
    steps = vary_steps(ctx.vary)
    try:
        w = np.asarray(params.w, dtype=np.float64)
        ws = None if params.ws is None else np.asarray(params.ws, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInput("stylegan.project: w must be a list of numbers and ws a list of lists of numbers") from None
    if w.shape != (G.w_dim,) or (ws is not None and ws.shape != (G.num_ws, G.w_dim)):
        raise BadInput(f"stylegan.project: w {w.shape} / ws {None if ws is None else ws.shape} do not fit model "
                       f"{m.name!r} (w_dim {G.w_dim}, {G.num_ws} layers)")
    if not np.all(np.isfinite(w)) or (ws is not None and not np.all(np.isfinite(ws))):
        raise BadInput("stylegan.project: w / ws hold non-finite numbers")
    w_avg = G.mapping.w_avg.cpu().double().numpy()
    w = perturb(w, steps, key=(0,), centre=w_avg)
    wplus = params.wplus and ws is not None  # (unset: true, and so with ws only)
    if ws is not None:
        ws = perturb(ws, steps, key=(1,), centre=w_avg)
    img = render(G, w_to_ws(G, ws[None] if wplus else w[None]), 1, c["noise_mode"], c["size"])[0]
    recipe = make_recipe("project", m, c, wplus=wplus, target=params.target, rendered_from="latent",
                         w=[float(v) for v in w],
                         ws=None if ws is None else [[float(v) for v in row] for row in ws],
                         **({"vary": steps} if steps else {}))
    title = titles.for_recipe("projection", recipe)
    return [ArtworkDraft(kind="projection", recipe=recipe, media=still_media(img), title=title,
                         model_sha256=m.sha256, tags=["stylegan", "projection"] + (["variation"] if steps else []))]
