"""What every StyleGAN job shares (generator/stylegan/jobs.py, project.py, uncanny.py): the loaded model,
the common render settings, the recipe's head, seeded latents and the media of stills and videos."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from catalogue import MediaDraft
from gallery.errors import BadInput
from gallery.imaging import png_bytes, thumbnail
from generator.stylegan.checkpoints import LoadedModel, load, resolve
from generator.stylegan.model import z_from_seed
from generator.variation import perturb

if TYPE_CHECKING:
    from generator.job_params import Bend, _StyleGANCommon
    from generator.jobs import JobContext

VERSION = 1


def in_range(key: str, v: Any, lo: float, hi: float) -> Any:
    """``v`` when lo <= v <= hi (a default from the settings or the model, outside the params model's checks)."""
    if v < lo or v > hi:
        raise BadInput(f"parameter {key!r} must be in [{lo}, {hi}], got {v}")
    return v


def load_model(params: _StyleGANCommon, ctx: JobContext) -> LoadedModel:
    spec = params.model or ctx.settings.stylegan.model
    name, path = resolve(str(spec), ctx.settings, ctx.catalogue)
    m = load(path, ctx.device, name=name)
    from generator import fastpath

    fastpath.configure(ctx.settings)  # the batch-1 fast path is measured once per machine, cached in data_dir
    m.G.synthesis.fast_path = ctx.settings.stylegan.walk_fast_path
    if getattr(ctx, "catalogue", None) is not None:  # idempotent: artworks link to their model row
        from generator.stylegan.checkpoints import matching_preset

        ctx.catalogue.register_model("stylegan", m.name, m.sha256, preset=matching_preset(m.cfg),
                                     config=m.cfg.to_dict(), path=str(path),
                                     provenance={k: v for k, v in m.meta.items() if isinstance(v, str | int | float)})
    return m


def common(params: _StyleGANCommon, ctx: JobContext, m: LoadedModel) -> dict[str, Any]:
    sg = ctx.settings.stylegan
    return {
        "seed": ctx.seed,
        "psi": params.psi if params.psi is not None else sg.truncation_psi,
        "noise_mode": ("none" if getattr(m.G, "arch", "") == "stylegan3"  # StyleGAN3 has no noise inputs
                       else params.noise_mode if params.noise_mode is not None else sg.noise_mode),
        "size": params.size if params.size is not None else in_range("size", sg.render_size or m.cfg.resolution,
                                                                      16, 4096),
        "batch": params.batch if params.batch is not None else sg.batch,
    }


def bend_specs(bends: list[Bend] | None) -> list[dict[str, Any]] | None:
    """The bends as the mappings they were given (generator.stylegan.bend.normalise fills in the rest)."""
    return None if bends is None else [b.model_dump(exclude_unset=True) for b in bends]


def make_recipe(kind: str, m: LoadedModel, c: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"generator": f"stylegan.{kind}", "version": VERSION,
            "model": {"name": m.name, "sha256": m.sha256, "resolution": m.cfg.resolution}, **c, **extra}


def seed_zs(seeds: list[int], z_dim: int, steps: list[dict[str, Any]], key: int = 0) -> torch.Tensor:
    """z of each seed [N, z_dim], moved by the ``vary`` steps (on the sphere shell) when there are any."""
    z = torch.cat([z_from_seed(s, z_dim) for s in seeds])
    if not steps:
        return z
    return torch.from_numpy(perturb(z.double().numpy(), steps, key=(key,), keep_norm=True)).float()


def still_media(img: np.ndarray) -> list[MediaDraft]:
    th = thumbnail(img)
    return [MediaDraft(role="image", mime="image/png", data=png_bytes(img), width=img.shape[1], height=img.shape[0]),
            MediaDraft(role="thumbnail", mime="image/png", data=png_bytes(th), width=th.shape[1], height=th.shape[0])]


def video_media(path: Path, frames: int, w: int, h: int, fps: int, poster: np.ndarray,
                extra: list[MediaDraft] | None = None) -> list[MediaDraft]:
    th = thumbnail(poster)
    return [MediaDraft(role="video", mime="video/mp4", data=Path(path).read_bytes(), width=w, height=h,
                       duration=frames / fps, meta={"frames": frames, "fps": fps, "codec": "h264"}),
            MediaDraft(role="poster", mime="image/png", data=png_bytes(poster), width=poster.shape[1],
                       height=poster.shape[0]),
            MediaDraft(role="thumbnail", mime="image/png", data=png_bytes(th), width=th.shape[1], height=th.shape[0]),
            *(extra or [])]


def workdir(ctx: JobContext) -> str | None:
    wd = getattr(ctx, "workdir", None)
    if wd is None:
        return None
    Path(wd).mkdir(parents=True, exist_ok=True)
    return str(wd)
