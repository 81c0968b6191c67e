"""StyleGAN job kinds: ``stylegan.walk``, ``stylegan.mix``, ``stylegan.bend``, ``stylegan.project``,
``stylegan.uncanny``. Each is ``run(params, ctx) -> list[ArtworkDraft]`` with the full recipe; ``params``
is the kind's model (generator.job_params), the seed and any variation steps are in ``ctx``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from catalogue import ArtworkDraft
from gallery.errors import BadInput
from gallery.progress import report
from generator import titles
from generator.latent import EndlessWalk, keyframe_times, lerp, random_orthonormal, reparametrise, slerp
from generator.stylegan.bend import bent
from generator.stylegan.checkpoints import LoadedModel
from generator.stylegan.common import (
    bend_specs,
    common,
    in_range,
    load_model,
    make_recipe,
    seed_zs,
    still_media,
    video_media,
    workdir,
)
from generator.stylegan.project import project_job
from generator.stylegan.render import iter_frames, render, w_to_ws, write_mp4, z_to_ws
from generator.stylegan.uncanny import uncanny_job
from generator.variation import VariedEndlessWalk, perturb, vary_steps

if TYPE_CHECKING:
    from generator.job_params import StyleGANBend, StyleGANMix, StyleGANProject, StyleGANUncanny, StyleGANWalk
    from generator.jobs import JobContext

WALK_MODES = ("endless", "chain", "loop")


# ---- walks -----------------------------------------------------------------------------------------
def walk_plan(params: StyleGANWalk, m: LoadedModel, fps: int, psi: float, seed: int,
              vary: list[dict[str, Any]] | None = None, seconds: float = 8.0,
              seconds_per_keyframe: float = 2.0) -> dict[str, Any]:
    """Turn walk parameters into segments: callables ts [n] in [0, 1) -> latents, plus the recipe facts.
    ``seconds`` and ``seconds_per_keyframe`` are the defaults when ``params`` leaves them unset."""
    G = m.G
    mode = params.mode
    space = params.space
    seconds = params.seconds if params.seconds is not None else in_range("seconds", float(seconds), 0.05, 3600)
    spk = min(params.seconds_per_keyframe if params.seconds_per_keyframe is not None
              else in_range("seconds_per_keyframe", float(seconds_per_keyframe), 0.05, 600), seconds)
    per_seg = max(1, round(spk * fps))
    steps = vary_steps(vary)  # a variation: every keyframe (or the loop's plane) moved by seeded noise

    def w_of_z(z: np.ndarray) -> np.ndarray:
        return z_to_ws(G, np.atleast_2d(z), psi)[:, 0].cpu().double().numpy()

    facts: dict[str, Any] = {"mode": mode, "space": space, "seconds_per_keyframe": spk,
                             **({"vary": steps} if steps else {})}
    segments: list[Callable[[np.ndarray], np.ndarray]] = []
    closing: np.ndarray | None = None
    if mode == "endless":
        n_seg = max(1, round(seconds / spk))
        start = params.start_segment if params.start_segment is not None else 0
        walker = (VariedEndlessWalk if steps else EndlessWalk)(
            G.z_dim, seed, sphere=True, transform=(lambda z: w_of_z(z)[0]) if space == "w" else None,
            **({"steps": steps} if steps else {}))
        segments = [lambda ts, i=i: walker.segment(i, len(ts), ts) for i in range(start, start + n_seg)]
        facts.update(start_segment=start, segments=n_seg, next_segment=start + n_seg)
        key_times = [i * per_seg / fps for i in range(n_seg)]
    elif mode == "chain":
        seeds = params.keyframes or [seed + i for i in range(max(2, round(seconds / spk) + 1))]
        loop = params.loop
        keys = seed_zs(seeds, G.z_dim, steps).double().numpy()
        if space == "w":
            keys = w_of_z(keys)
        interp = slerp if space == "z" else lerp
        pairs = list(zip(keys[:-1], keys[1:], strict=True)) + ([(keys[-1], keys[0])] if loop else [])
        segments = [lambda ts, a=a, b=b: interp(a, b, ts) for a, b in pairs]
        closing = None if loop else keys[-1:]
        facts.update(keyframes=seeds, loop=loop)
        key_times = keyframe_times(len(seeds), per_seg, fps, loop)
    else:  # a seamless great-circle loop, in Z (radius sqrt(dim)) or in W (about w_avg)
        n = max(2, round(seconds * fps))
        dim = G.z_dim if space == "z" else G.w_dim
        u, v = random_orthonormal(np.random.default_rng(seed), dim)  # as great_circle_loop(dim, n, seed)
        if steps:  # tilt the circle's plane: move both directions, then make them orthonormal again
            uv = perturb(np.stack([u, v]), steps, key=(0,))
            q, _ = np.linalg.qr(uv.T)
            u, v = (q.T * np.sign(np.sum(q.T * uv, axis=1, keepdims=True)))
        if space == "z":
            centre, radius = np.zeros(dim), float(np.sqrt(dim))
        else:
            centre = G.mapping.w_avg.cpu().double().numpy()
            probe = w_of_z(np.random.default_rng(seed).standard_normal((64, G.z_dim)))
            radius = float(np.linalg.norm(probe - centre, axis=1).mean())

        def circle(ts: np.ndarray) -> np.ndarray:
            th = 2 * np.pi * np.asarray(ts, np.float64)[:, None]
            return centre + radius * (np.cos(th) * u + np.sin(th) * v)

        segments = [circle]
        per_seg = n
        key_times = [0.0]
        facts.update(loop=True, radius=radius)
    return {"segments": segments, "per_seg": per_seg, "closing": closing, "facts": facts,
            "key_times": key_times, "space": space}


def _to_ws(G: Any, lat: np.ndarray, space: str, psi: float) -> torch.Tensor:
    return z_to_ws(G, lat, psi) if space == "z" else w_to_ws(G, lat)


def walk_ts(G: Any, seg: Callable[[np.ndarray], np.ndarray], n: int, space: str, psi: float, constant_speed: bool,
            batch: int, noise_mode: str) -> np.ndarray:
    """Parameters of one segment's n frames: uniform, or equally spaced in image distance."""
    ts = np.arange(n) / n
    if not constant_speed or n < 2:
        return ts
    dense = np.linspace(0, 1, 2 * n + 1)
    imgs = render(G, _to_ws(G, seg(dense), space, psi), batch, noise_mode).astype(np.float32)
    d = np.abs(np.diff(imgs, axis=0)).mean(axis=(1, 2, 3))
    return reparametrise(dense, d, n, closed_end=False)


def walk(params: StyleGANWalk, ctx: JobContext) -> list[ArtworkDraft]:
    """Job ``stylegan.walk``: mode endless|chain|loop, space z|w, seconds, seconds_per_keyframe,
    keyframes (seeds, chain), loop (chain), start_segment (endless), constant_speed, bends, fps, psi, size."""
    m = load_model(params, ctx)
    c = common(params, ctx, m)
    fps = params.fps if params.fps is not None else ctx.settings.stylegan.fps
    constant_speed = params.constant_speed
    plan = walk_plan(params, m, fps, c["psi"], ctx.seed, ctx.vary, seconds=ctx.settings.stylegan.walk_seconds,
                     seconds_per_keyframe=ctx.settings.stylegan.seconds_per_keyframe)
    G, space = m.G, plan["space"]
    with bent(G, bend_specs(params.bends)) as bends, tempfile.TemporaryDirectory(dir=workdir(ctx)) as tmp:
        seg_ts = []
        for i, seg in enumerate(plan["segments"]):
            if constant_speed:
                report(ctx, "measuring image-space speed", i, len(plan["segments"]))
            seg_ts.append(walk_ts(G, seg, plan["per_seg"], space, c["psi"], constant_speed, c["batch"],
                                  c["noise_mode"]))

        def latents() -> Any:
            for seg, ts in zip(plan["segments"], seg_ts, strict=True):
                yield seg(ts)
            if plan["closing"] is not None:
                yield plan["closing"]

        poster: list[np.ndarray] = []
        total = sum(len(t) for t in seg_ts) + (1 if plan["closing"] is not None else 0)

        def frames() -> Any:
            k = 0
            for lat in latents():
                for f in iter_frames(G, _to_ws(G, lat, space, c["psi"]), c["batch"], c["noise_mode"], c["size"]):
                    if k == total // 2:
                        poster.append(f)
                    k += 1
                    report(ctx, "rendering frames", k, total)
                    yield f

        path = Path(tmp) / "walk.mp4"
        n, w, h = write_mp4(path, frames(), fps)
        duration = n / fps
        recipe = make_recipe("walk", m, c, fps=fps, seconds=duration, constant_speed=constant_speed,
                             bends=bends,
                             timeline={"duration": duration, "fps": fps, "keyframe_times": plan["key_times"]},
                             **plan["facts"])
        media = video_media(path, n, w, h, fps, poster[0] if poster else np.zeros((h, w, 3), np.uint8))
    title = titles.for_recipe("walk", recipe)
    tags = ["stylegan", "walk", plan["facts"]["mode"]] + (["bend"] if bends else [])
    return [ArtworkDraft(kind="walk", recipe=recipe, media=media, title=title, model_sha256=m.sha256, tags=tags,
                         duration=duration)]


# ---- style mixing ----------------------------------------------------------------------------------
def layer_range(name: str | list[int], num_ws: int, ranges: dict[str, tuple[int, int]] | None = None) -> list[int]:
    """coarse (4-8 px), middle (16-32 px), fine (64 px and up), or an explicit [start, stop). ``ranges``:
    the network's own (a StyleGAN3 synthesis network's ``style_ranges()``, by its layers' cutoffs)."""
    if isinstance(name, list | tuple):
        if len(name) != 2 or not 0 <= int(name[0]) < int(name[1]) <= num_ws:
            raise BadInput(f"layers must be [start, stop) within 0..{num_ws}, got {name!r}")
        return list(range(int(name[0]), int(name[1])))
    ranges = ranges or {"coarse": (0, 4), "middle": (4, 8), "fine": (8, num_ws)}
    if name not in ranges:
        raise BadInput(f"layers must be coarse, middle, fine or [start, stop), got {name!r}")
    a, b = ranges[name]
    return list(range(min(a, num_ws), min(b, num_ws)))


def mix_ws(G: Any, row_seeds: list[int], col_seeds: list[int], layers: list[int], psi: float,
           vary: list[dict[str, Any]] | None = None) -> torch.Tensor:
    """ws of every (row, column) cell: the row's latent with the column's styles on ``layers``."""
    zr = seed_zs(row_seeds, G.z_dim, vary or [], key=1)
    zc = seed_zs(col_seeds, G.z_dim, vary or [], key=2)
    wr, wc = z_to_ws(G, zr, psi), z_to_ws(G, zc, psi)
    cells = wr[:, None].repeat(1, len(col_seeds), 1, 1)
    cells[:, :, layers] = wc[None, :, layers]
    return cells.reshape(-1, G.num_ws, G.w_dim), wr, wc


def mix(params: StyleGANMix, ctx: JobContext) -> list[ArtworkDraft]:
    """Job ``stylegan.mix``: row_seeds, col_seeds, layers (coarse|middle|fine|[a,b)) -> one grid image."""
    m = load_model(params, ctx)
    c = common(params, ctx, m)
    G = m.G
    rows = params.row_seeds or [c["seed"] + i for i in range(3)]
    cols = params.col_seeds or [c["seed"] + 100 + i for i in range(3)]
    layers = layer_range(params.layers, G.num_ws, getattr(G.synthesis, "style_ranges", lambda: None)())
    steps = vary_steps(ctx.vary)
    cells, wr, wc = mix_ws(G, rows, cols, layers, c["psi"], steps)
    s = c["size"]
    with bent(G, bend_specs(params.bends)) as bends:
        top = render(G, wc, c["batch"], c["noise_mode"], s)
        left = render(G, wr, c["batch"], c["noise_mode"], s)
        body = render(G, cells, c["batch"], c["noise_mode"], s)
    labels = params.labels
    grid = np.full(((len(rows) + 1) * s, (len(cols) + 1) * s, 3), 255, np.uint8)
    for j in range(len(cols)):
        grid[:s, (j + 1) * s:(j + 2) * s] = top[j]
    for i in range(len(rows)):
        grid[(i + 1) * s:(i + 2) * s, :s] = left[i]
        for j in range(len(cols)):
            grid[(i + 1) * s:(i + 2) * s, (j + 1) * s:(j + 2) * s] = body[i * len(cols) + j]
    layer_name = params.layers
    if labels:
        label_mix_grid(grid, s, rows, cols, layer_name, layers)
    recipe = make_recipe("mix", m, c, row_seeds=rows, col_seeds=cols, layers=layers, layer_name=layer_name,
                         bends=bends, labels=labels, **({"vary": steps} if steps else {}))
    return [ArtworkDraft(kind="mix", recipe=recipe, media=still_media(grid), title=titles.for_recipe("mix", recipe),
                         model_sha256=m.sha256, tags=["stylegan", "mix"])]


def _put_lines(cell: np.ndarray, lines: list[str], bottom: bool) -> None:
    """Write lines of text into an image cell (in place): white on a dark band, sized to the cell."""
    import cv2

    side = cell.shape[1]
    font = cv2.FONT_HERSHEY_SIMPLEX
    widest = max(cv2.getTextSize(t, font, 1.0, 1)[0][0] for t in lines)
    scale = max(0.25, min(side / 220, 0.92 * side / max(widest, 1)))
    thick = 1 if side < 256 else 2
    line_h = cv2.getTextSize("Ag", font, scale, thick)[0][1] + max(2, round(6 * scale))
    band = min(cell.shape[0], line_h * len(lines) + 4)
    y0 = cell.shape[0] - band if bottom else (cell.shape[0] - band) // 2
    cell[y0:y0 + band] = (cell[y0:y0 + band].astype(np.float32) * 0.25).astype(np.uint8)
    for k, t in enumerate(lines):
        cv2.putText(cell, t, (max(1, round(side * 0.04)), y0 + 2 + line_h * (k + 1) - max(2, round(3 * scale))),
                    font, scale, (255, 255, 255), thick, cv2.LINE_AA)


def label_mix_grid(grid: np.ndarray, s: int, rows: list[int], cols: list[int], layer_name: Any,
                   layers: list[int]) -> None:
    """Name what a style-mixing grid shows (in place): each row's and column's seed on its source image,
    and a legend in the top-left corner (rows give the faces, columns the styles, on which layers)."""
    for j, seed in enumerate(cols):
        _put_lines(grid[:s, (j + 1) * s:(j + 2) * s], [f"style {seed}"], bottom=True)
    for i, seed in enumerate(rows):
        _put_lines(grid[(i + 1) * s:(i + 2) * s, :s], [f"seed {seed}"], bottom=True)
    name = layer_name if isinstance(layer_name, str) else "layers"
    span = f"{layers[0]}-{layers[-1]}" if layers else "none"
    grid[:s, :s] = 40
    _put_lines(grid[:s, :s], ["rows: seed", "cols: style", f"{name} {span}"], bottom=False)


# ---- network bending (stills) ----------------------------------------------------------------------
def bend(params: StyleGANBend, ctx: JobContext) -> list[ArtworkDraft]:
    """Job ``stylegan.bend``: bends (list of specs, see generator.stylegan.bend), seeds -> one still per seed."""
    m = load_model(params, ctx)
    c = common(params, ctx, m)
    G = m.G
    specs = bend_specs(params.bends)  # at least one (the model's min_length)
    seeds = params.seeds or [c["seed"]]
    steps = vary_steps(ctx.vary)
    ws = z_to_ws(G, seed_zs(seeds, G.z_dim, steps), c["psi"])
    with bent(G, specs) as norm:
        imgs = render(G, ws, c["batch"], c["noise_mode"], c["size"])
    drafts = []
    for s, img in zip(seeds, imgs, strict=True):
        recipe = make_recipe("bend", m, dict(c, seed=s), bends=norm, **({"vary": steps} if steps else {}))
        drafts.append(ArtworkDraft(kind="bend", recipe=recipe, media=still_media(img),
                                   title=titles.for_recipe("bend", recipe),
                                   model_sha256=m.sha256, tags=["stylegan", "bend"]))
    return drafts


def project(params: StyleGANProject, ctx: JobContext) -> list[ArtworkDraft]:
    return project_job(params, ctx)


def uncanny(params: StyleGANUncanny, ctx: JobContext) -> list[ArtworkDraft]:
    return uncanny_job(params, ctx)
