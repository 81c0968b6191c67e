"""The amplified uncanny (after Broad, Leymarie and Grierson, 2020).

Fine-tune the generator against its own frozen discriminator with the objective inverted: instead of
``softplus(-D(G(z)))`` (look real) it minimises ``softplus(D(G(z)))`` (look fake), so it drifts towards
what the discriminator judges least real. Every ``snapshot_every`` steps a fixed set of latents is
rendered through the current generator: the progression from faces to uncanny to abstract, as a grid
(rows: faces, columns: snapshots) and a video that cross-fades from snapshot to snapshot. The frozen
discriminator's mean score of those renders is recorded per snapshot.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from catalogue import ArtworkDraft, MediaDraft
from gallery.errors import BadInput
from generator.stylegan.model import Discriminator, Generator, to_uint8, z_from_seed
from generator.stylegan.render import png_bytes, resize


@dataclass
class Snapshot:
    step: int
    d_score: float
    images: np.ndarray  # [faces, H, W, 3] uint8 at the model's resolution


def amplify(G0: Generator, D: Discriminator, seeds: list[int], steps: int, snapshot_every: int, lr: float = 0.002,
            batch: int = 8, psi: float = 0.7, seed: int = 0, noise_mode: str = "const",
            keep: Any = None, fixed_z: torch.Tensor | None = None) -> tuple[Generator, list[Snapshot]]:
    """Fine-tune a copy of G0 against frozen D with the inverted objective; returns it and its snapshots.
    ``fixed_z`` [len(seeds), z_dim]: the faces' latents when not those of ``seeds`` (variations)."""
    if steps < 1 or snapshot_every < 1:
        raise BadInput("uncanny: steps and snapshot_every must be >= 1")
    dev = G0.mapping.w_avg.device
    G = copy.deepcopy(G0).train().requires_grad_(True)
    G.mapping.requires_grad_(False)  # the latent space stays put; the synthesis network drifts
    D = D.eval().requires_grad_(False)
    opt = torch.optim.Adam([p for p in G.synthesis.parameters() if p.requires_grad], lr=lr, betas=(0.0, 0.99))
    gen = torch.Generator().manual_seed(seed)
    fixed_z = (torch.cat([z_from_seed(s, G.z_dim) for s in seeds]) if fixed_z is None else fixed_z).to(dev)
    snaps: list[Snapshot] = []

    def snapshot(step: int) -> None:
        with torch.no_grad():
            ws = G.mapping(fixed_z, truncation_psi=psi)
            img = G.synthesis(ws, noise_mode=noise_mode)
            score = float(D(img).mean())
        snaps.append(Snapshot(step, score, to_uint8(img)))
        if keep is not None:
            keep(step, score)

    snapshot(0)
    for step in range(1, steps + 1):
        z = torch.randn([batch, G.z_dim], generator=gen).to(dev)
        with torch.no_grad():
            ws = G.mapping(z, truncation_psi=psi)
        loss = F.softplus(D(G.synthesis(ws, noise_mode=noise_mode))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % snapshot_every == 0 or step == steps:
            snapshot(step)
    return G.eval().requires_grad_(False), snaps


def progression_grid(snaps: list[Snapshot], size: int) -> np.ndarray:
    faces = len(snaps[0].images)
    grid = np.zeros((faces * size, len(snaps) * size, 3), np.uint8)
    for j, s in enumerate(snaps):
        for i, im in enumerate(s.images):
            grid[i * size:(i + 1) * size, j * size:(j + 1) * size] = resize(im, size)
    return grid


def face_sheet(images: np.ndarray, size: int, cols: int) -> np.ndarray:
    n = len(images)
    rows = -(-n // cols)
    sheet = np.zeros((rows * size, cols * size, 3), np.uint8)
    for k, im in enumerate(images):
        r, c = divmod(k, cols)
        sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = resize(im, size)
    return sheet


def uncanny_job(params: dict[str, Any], ctx: Any) -> list[ArtworkDraft]:
    """Job ``stylegan.uncanny``: steps, snapshot_every, lr, faces (count) or seeds, fps, seconds_per_snapshot."""
    from generator.stylegan.jobs import (
        _num,
        _recipe,
        _seeds,
        _workdir,
        common,
        load_model,
        seed_zs,
        video_media,
    )
    from generator.stylegan.render import write_mp4
    from generator.stylegan.weights import save_weights, sha256_file
    from generator.variation import vary_steps

    m = load_model(params, ctx)
    if m.D is None:
        raise BadInput(f"model {m.name!r} has no discriminator; the uncanny needs one (import a .pkl with D)")
    c = common(params, ctx, m)
    steps = _num(params, "steps", 200, int, 1, 100_000)
    every = _num(params, "snapshot_every", max(1, steps // 8), int, 1, 100_000)
    lr = _num(params, "lr", 0.002, float, 1e-6, 1.0)
    n_faces = _num(params, "faces", 8, int, 1, 64)
    seeds = _seeds(params, "seeds") or [c["seed"] + i for i in range(n_faces)]
    fps = _num(params, "fps", ctx.settings.stylegan.fps, int, 1, 120)
    per_snap = _num(params, "seconds_per_snapshot", 0.75, float, 0.04, 60)
    vary = vary_steps(params)  # a variation: the same run with the faces' latents moved
    torch.manual_seed(c["seed"])
    G, snaps = amplify(m.G, m.D, seeds, steps, every, lr, c["batch"], c["psi"], c["seed"], c["noise_mode"],
                       fixed_z=seed_zs(seeds, m.G.z_dim, vary) if vary else None)
    scores = [s.d_score for s in snaps]
    size = c["size"]
    cell = max(16, min(size, 1024 // max(1, min(len(seeds), 4))) // 2 * 2)
    cols = min(len(seeds), 4)
    sheets = [face_sheet(s.images, cell, cols) for s in snaps]
    with tempfile.TemporaryDirectory(dir=_workdir(ctx)) as tmp:
        hold = max(1, round(per_snap * fps))

        def frames() -> Any:
            for a, b in zip(sheets, sheets[1:] + [sheets[-1]], strict=True):
                for k in range(hold):
                    t = k / hold
                    yield (a * (1 - t) + b * t).round().astype(np.uint8) if b is not a else a

        path = Path(tmp) / "uncanny.mp4"
        n, w, h = write_mp4(path, frames(), fps)
        # The drifted generator becomes a model of its own: walks can wander through the uncanny.
        models_dir = ctx.settings.path(ctx.settings.stylegan.models_dir)
        wpath = save_weights(Path(tmp) / "uncanny.pt", m.cfg, G, m.D,
                             {"parent_sha256": m.sha256, "uncanny": {"steps": steps, "lr": lr, "seed": c["seed"]}})
        wsha = sha256_file(wpath)
        dest = models_dir / f"uncanny-{wsha[:16]}.pt"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            wpath.replace(dest)
        model_name = f"{m.name}-uncanny-{c['seed']}-{steps}"
        ctx.catalogue.register_model("stylegan", model_name, wsha, config=m.cfg.to_dict(), path=str(dest),
                                     provenance={"parent_sha256": m.sha256, "job": "stylegan.uncanny",
                                                 "steps": steps, "lr": lr, "seed": c["seed"]})
        grid = progression_grid(snaps, min(size, 128))
        extra = [MediaDraft(role="grid", mime="image/png", data=png_bytes(grid), width=grid.shape[1],
                            height=grid.shape[0], meta={"rows": "faces", "cols": "snapshots"})]
        extra += [MediaDraft(role="frame", mime="image/png", data=png_bytes(sh), width=sh.shape[1], height=sh.shape[0],
                             meta={"step": s.step, "d_score": s.d_score}) for s, sh in zip(snaps, sheets, strict=True)]
        duration = n / fps
        recipe = _recipe("uncanny", m, c, steps=steps, snapshot_every=every, lr=lr, seeds=seeds, fps=fps,
                         seconds_per_snapshot=per_snap, snapshot_steps=[s.step for s in snaps], d_scores=scores,
                         result_model={"name": model_name, "sha256": wsha},
                         timeline={"duration": duration, "fps": fps,
                                   "keyframe_times": [i * hold / fps for i in range(len(snaps))]},
                         **({"vary": vary} if vary else {}))
        media = video_media(path, n, w, h, fps, sheets[-1], extra)
    return [ArtworkDraft(kind="uncanny", recipe=recipe, media=media, title=f"Amplified uncanny {c['seed']}",
                         model_sha256=m.sha256, tags=["stylegan", "uncanny"], duration=duration,
                         features={"d_score_first": scores[0], "d_score_last": scores[-1]})]
