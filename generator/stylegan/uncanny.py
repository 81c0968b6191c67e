"""The amplified uncanny (after Broad, Leymarie and Grierson, 2020).

Fine-tune the generator against its own frozen discriminator with the objective inverted: instead of
``softplus(-D(G(z)))`` (look real) it minimises ``softplus(D(G(z)))`` (look fake), so it drifts towards
what the discriminator judges least real. A fixed set of latents is rendered through the current
generator as it drifts: the progression from faces to uncanny to abstract, as a grid (rows: faces,
columns: snapshots), a face sheet per snapshot and a video. The frozen discriminator's mean score of
those renders is recorded per snapshot.

The drift is fast at first and slow later (with snapshots every N steps, the tiny model's faces change
by 21.6 grey levels in the first interval, then 5.2, 2.2 and at most 1.6: most of the video stood
still). So by default (``schedule="path"``) the fixed faces are rendered at every step (or every few
steps when memory is short), the path they travel is measured (mean absolute change between
consecutive renders, summed), and the snapshots are placed at equal shares of that path; the video
plays the renders at constant speed along it, so it moves throughout and passes each snapshot at
equal intervals. ``schedule="even"`` keeps the old snapshots every ``snapshot_every`` steps.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from catalogue import ArtworkDraft, MediaDraft
from gallery.errors import BadInput
from gallery.imaging import png_bytes
from generator import titles
from generator.stylegan.common import common, load_model, make_recipe, seed_zs, video_media, workdir
from generator.stylegan.model import Discriminator, Generator, to_uint8, z_from_seed
from generator.stylegan.render import resize

if TYPE_CHECKING:
    from catalogue import Catalogue
    from catalogue.models import Artwork
    from generator.job_params import StyleGANUncanny
    from generator.jobs import JobContext

SCHEDULES = ("path", "even")
# renders kept for the path schedule: at most this many bytes (beyond, every k-th step is kept)
RECORD_BYTES = 256 * 2 ** 20


@dataclass
class Snapshot:
    step: int
    d_score: float
    images: np.ndarray  # [faces, H, W, 3] uint8 at the model's resolution (or record_size when smaller)


@dataclass
class Trace:
    """The fixed faces rendered along the drift: the recorded steps, their renders and D scores."""

    steps: list[int]
    images: list[np.ndarray]
    d_scores: list[float]

    def path(self) -> np.ndarray:
        """Cumulative distance travelled (mean absolute change, grey levels) at each recorded step."""
        d = [float(np.abs(b.astype(np.int16) - a).mean()) for a, b in zip(self.images[:-1], self.images[1:], strict=True)]
        return np.concatenate([[0.0], np.cumsum(d)])


@dataclass
class Amplified:
    """What amplify returns; unpacks as ``G, snapshots = amplify(...)`` too (its older form)."""

    G: Generator
    snapshots: list[Snapshot]
    trace: Trace

    def __iter__(self) -> Any:
        return iter((self.G, self.snapshots))


def n_snapshots(steps: int, snapshot_every: int) -> int:
    """How many snapshots (the first and last included) a run of ``steps`` has, one per ``snapshot_every``."""
    return min(steps, -(-steps // snapshot_every)) + 1


def even_steps(steps: int, snapshot_every: int) -> list[int]:
    return sorted({*range(0, steps + 1, snapshot_every), steps})


def path_schedule(path: np.ndarray, n: int) -> list[int]:
    """Indices of ``n`` points (the first and last included) that split a cumulative path into equal shares.

    Each inner index is the recorded point nearest to an equal share of the path still ahead of the
    one before (``1 / (n - k)`` of it), moved only as far as needed to keep the indices strictly
    increasing. A path that does not move at all gives evenly spaced indices."""
    path = np.asarray(path, dtype=np.float64)
    r = len(path)
    if r == 0:
        raise ValueError("path_schedule: an empty path")
    if np.any(np.diff(path) < 0) or not np.all(np.isfinite(path)):
        raise ValueError("path_schedule: the path must be finite and non-decreasing")
    n = max(1, min(n, r))
    if n == 1:
        return [r - 1]
    total = path[-1] - path[0]
    if total <= 0:
        return [int(round(k * (r - 1) / (n - 1))) for k in range(n)]
    out = [0]
    for k in range(1, n - 1):
        # an equal share of what is left (after a step bigger than a share, the rest is shared anew)
        target = path[out[-1]] + (path[-1] - path[out[-1]]) / (n - k)
        i = int(np.searchsorted(path, target))  # first point at or past the target
        if i > 0 and target - path[i - 1] < path[min(i, r - 1)] - target:
            i -= 1
        out.append(min(max(i, out[-1] + 1), r - 1 - (n - 1 - k)))
    out.append(r - 1)
    return out


def along_path(images: list[np.ndarray], path: np.ndarray, n_frames: int) -> Any:
    """``n_frames`` images moving at constant speed along the recorded path (blends of neighbouring
    renders), the first and last exactly the first and last render; yields float32 arrays."""
    path = np.asarray(path, dtype=np.float64)
    total = path[-1] - path[0]
    for j in range(n_frames):
        f = j / max(1, n_frames - 1)
        if total <= 0:  # nothing moves: walk the renders evenly
            pos = f * (len(images) - 1)
            i = min(int(pos), len(images) - 2) if len(images) > 1 else 0
            t = pos - i
        else:
            u = path[0] + f * total
            i = int(np.clip(np.searchsorted(path, u, side="right") - 1, 0, max(0, len(path) - 2)))
            seg = path[min(i + 1, len(path) - 1)] - path[i]
            t = float(np.clip((u - path[i]) / seg, 0.0, 1.0)) if seg > 0 else 0.0
        a = images[i].astype(np.float32)
        if len(images) == 1 or t == 0:
            yield a
        else:
            yield a + (images[i + 1].astype(np.float32) - a) * t


def amplify(G0: Generator, D: Discriminator, seeds: list[int], steps: int, snapshot_every: int, lr: float = 0.002,
            batch: int = 8, psi: float = 0.7, seed: int = 0, noise_mode: str = "const",
            keep: Any = None, schedule: str = "path", record_size: int = 0,
            record_bytes: int = RECORD_BYTES, on_step: Callable[[int], None] | None = None,
            fixed_z: torch.Tensor | None = None) -> Amplified:
    """Fine-tune a copy of G0 against frozen D with the inverted objective; returns it, its snapshots
    (``n_snapshots(steps, snapshot_every)`` of them, placed by ``schedule``) and the trace of renders.

    ``record_size``: renders are kept at this side when it is smaller than the model's (0: as they are).
    ``on_step(step)`` is called after every optimisation step (a progress display's hook).
    ``fixed_z`` [len(seeds), z_dim]: the faces' latents when not those of ``seeds`` (variations)."""
    if steps < 1 or snapshot_every < 1:
        raise BadInput("uncanny: steps and snapshot_every must be >= 1")
    if schedule not in SCHEDULES:
        raise BadInput(f"uncanny: unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    dev = G0.mapping.w_avg.device
    G = copy.deepcopy(G0).train().requires_grad_(True)
    G.mapping.requires_grad_(False)  # the latent space stays put; the synthesis network drifts
    D = D.eval().requires_grad_(False)
    opt = torch.optim.Adam([p for p in G.synthesis.parameters() if p.requires_grad], lr=lr, betas=(0.0, 0.99))
    gen = torch.Generator().manual_seed(seed)
    fixed_z = (torch.cat([z_from_seed(s, G.z_dim) for s in seeds]) if fixed_z is None else fixed_z).to(dev)
    side = min(G.img_resolution, record_size) if record_size else G.img_resolution
    if schedule == "even":
        wanted = set(even_steps(steps, snapshot_every))
    else:  # every step, or every k-th when the renders would not fit in record_bytes
        stride = max(1, -(-(steps + 1) * len(seeds) * side * side * 3 // max(1, record_bytes)))
        wanted = {*range(0, steps + 1, stride), steps}
    trace = Trace([], [], [])

    def record(step: int) -> None:
        with torch.no_grad():
            ws = G.mapping(fixed_z, truncation_psi=psi)
            img = G.synthesis(ws, noise_mode=noise_mode)
            score = float(D(img).mean())
        ims = to_uint8(img)
        if side < ims.shape[1]:
            ims = np.stack([resize(im, side) for im in ims])
        trace.steps.append(step)
        trace.images.append(ims)
        trace.d_scores.append(score)

    record(0)
    for step in range(1, steps + 1):
        z = torch.randn([batch, G.z_dim], generator=gen).to(dev)
        with torch.no_grad():
            ws = G.mapping(z, truncation_psi=psi)
        loss = F.softplus(D(G.synthesis(ws, noise_mode=noise_mode))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step in wanted:
            record(step)
        if on_step is not None:
            on_step(step)
    if schedule == "even":
        idx = list(range(len(trace.steps)))
    else:
        idx = path_schedule(trace.path(), n_snapshots(steps, snapshot_every))
    snaps = [Snapshot(trace.steps[i], trace.d_scores[i], trace.images[i]) for i in idx]
    if keep is not None:
        for s in snaps:
            keep(s.step, s.d_score)
    return Amplified(G.eval().requires_grad_(False), snaps, trace)


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


def find_existing(catalogue: Catalogue, request: dict[str, Any]) -> Artwork | None:
    """The newest uncanny artwork whose recipe holds every key of ``request`` with the same value and
    whose media are all in the store; None when there is none."""
    from sqlalchemy import select

    from catalogue.models import Artwork

    with catalogue.read() as s:
        rows = s.execute(select(Artwork.id, Artwork.recipe).where(Artwork.kind == "uncanny")
                         .order_by(Artwork.id.desc())).all()
    for aid, recipe in rows:
        if isinstance(recipe, dict) and all(k in recipe and recipe[k] == v for k, v in request.items()):
            art = catalogue.get(aid)
            if art is not None and art.media and all(not m.broken and catalogue.media_path(m).is_file()
                                                     for m in art.media):
                return art
    return None


def existing_draft(catalogue: Catalogue, art: Artwork, model_sha256: str) -> ArtworkDraft:
    """A draft identical to a stored artwork (same kind, recipe, model and media): adding it returns its id."""
    media = [MediaDraft(role=m.role, mime=m.mime, path=catalogue.media_path(m), width=m.width, height=m.height,
                        duration=m.duration, meta=dict(m.meta or {})) for m in sorted(art.media, key=lambda m: m.position)]
    return ArtworkDraft(kind=art.kind, recipe=art.recipe, media=media, title=art.title, model_sha256=model_sha256,
                        duration=art.duration, extra=dict(art.extra or {}))


def uncanny_job(params: StyleGANUncanny, ctx: JobContext) -> list[ArtworkDraft]:
    """Job ``stylegan.uncanny``: steps, snapshot_every, schedule (path | even), lr, faces (count) or seeds,
    fps, seconds_per_snapshot.

    A request whose recipe is already in the catalogue (same model, parameters and version) returns
    that artwork without recomputing it."""
    from gallery.hashing import sha256_file
    from generator.stylegan.checkpoints import save_weights
    from generator.stylegan.render import write_mp4
    from generator.variation import vary_steps

    m = load_model(params, ctx)
    if m.D is None:
        raise BadInput(f"model {m.name!r} has no discriminator; the uncanny needs one (import a .pkl with D"
                       + ("; this StyleGAN3 file holds G_ema only: import a training snapshot or NVIDIA's published "
                          "pickle, which carry D)" if getattr(m.G, "arch", "") == "stylegan3" else ")"))
    c = common(params, ctx, m)
    steps = params.steps
    every = params.snapshot_every if params.snapshot_every is not None else max(1, steps // 8)
    schedule = params.schedule
    lr = params.lr
    n_faces = params.faces
    seeds = params.seeds or [c["seed"] + i for i in range(n_faces)]
    fps = params.fps if params.fps is not None else ctx.settings.stylegan.fps
    per_snap = params.seconds_per_snapshot
    vary = vary_steps(ctx.vary)  # a variation: the same run with the faces' latents moved
    request = make_recipe("uncanny", m, c, steps=steps, snapshot_every=every, schedule=schedule, lr=lr,
                          seeds=seeds, fps=fps, seconds_per_snapshot=per_snap, **({"vary": vary} if vary else {}))
    catalogue = getattr(ctx, "catalogue", None)
    found = find_existing(catalogue, request) if catalogue is not None else None
    if found is not None:
        ctx.log.info("uncanny: artwork %d already has this recipe (model %s, seed %d, %d steps); returning it "
                     "without recomputing", found.id, m.name, c["seed"], steps)
        return [existing_draft(catalogue, found, m.sha256)]
    size = c["size"]
    cell = max(16, min(size, 1024 // max(1, min(len(seeds), 4))) // 2 * 2)
    cols = min(len(seeds), 4)
    from gallery.progress import report

    torch.manual_seed(c["seed"])
    run = amplify(m.G, m.D, seeds, steps, every, lr, c["batch"], c["psi"], c["seed"], c["noise_mode"],
                  schedule=schedule, record_size=max(cell, min(size, 128)),
                  on_step=lambda step: report(ctx, "fine-tuning against D (inverted)", step, steps),
                  fixed_z=seed_zs(seeds, m.G.z_dim, vary) if vary else None)
    G, snaps = run.G, run.snapshots
    scores = [s.d_score for s in snaps]
    sheets = [face_sheet(s.images, cell, cols) for s in snaps]
    with tempfile.TemporaryDirectory(dir=workdir(ctx)) as tmp:
        hold = max(1, round(per_snap * fps))
        # the renders played at constant speed along the path they travel; the snapshots lie at
        # equal shares of that path (schedule "path"), so the video passes one every `hold` frames
        path_len = run.trace.path()
        n_frames = hold * (len(snaps) - 1) + 1
        snap_pos = [float(path_len[run.trace.steps.index(s.step)]) for s in snaps]

        def frames() -> Any:
            for i, faces in enumerate(along_path(run.trace.images, path_len, n_frames)):
                report(ctx, "rendering video", i + 1, n_frames)
                yield face_sheet(np.clip(faces + 0.5, 0, 255).astype(np.uint8), cell, cols)

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
        total = snap_pos[-1] - snap_pos[0]
        key_times = [round((p - snap_pos[0]) / total * (n - 1) / fps, 4) for p in snap_pos] if total > 0 else []
        if len(key_times) != len(snaps) or any(b <= a for a, b in zip(key_times[:-1], key_times[1:], strict=True)):
            key_times = [round(k * hold / fps, 4) for k in range(len(snaps))]  # (a path that stood still)
        recipe = dict(request, snapshot_steps=[s.step for s in snaps], d_scores=scores,
                      recorded_steps=len(run.trace.steps), path_length=round(float(path_len[-1]), 4),
                      result_model={"name": model_name, "sha256": wsha},
                      timeline={"duration": duration, "fps": fps, "keyframe_times": key_times})
        media = video_media(path, n, w, h, fps, sheets[-1], extra)
    return [ArtworkDraft(kind="uncanny", recipe=recipe, media=media, title=titles.for_recipe("uncanny", recipe),
                         model_sha256=m.sha256, tags=["stylegan", "uncanny"], duration=duration,
                         features={"d_score_first": scores[0], "d_score_last": scores[-1]})]
