"""Generation jobs: a JSON-serialisable spec, a registry of job kinds, and the context they run in.

A job kind maps to an importable function ``run(params, ctx: JobContext) -> list[ArtworkDraft]``
(``module:function``, never a lambda, so the scheduler can persist and a worker subprocess can import
it). ``params`` is the validated model of its kind (generator.job_params.PARAMS); the job's seed, its
variation steps and its parents are in ``ctx``. Kinds without a model (``noop``, custom functions) get
the dict with ``seed``. ``run_job`` turns the drafts into catalogue artworks.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from gallery.errors import BadInput

if TYPE_CHECKING:
    from catalogue import ArtworkDraft, Catalogue
    from gallery.config import Settings

log = logging.getLogger(__name__)

# Job kind -> "module:function". Each model family plugs its generators in here.
JOB_KINDS: dict[str, str] = {
    "noop": "generator.jobs:noop",
    "procedural.images": "generator.procedural:run",
    "vqclip.progression": "generator.vqgan_clip.jobs:progression",
    "stylegan.walk": "generator.stylegan.jobs:walk",
    "stylegan.mix": "generator.stylegan.jobs:mix",
    "stylegan.bend": "generator.stylegan.jobs:bend",
    "stylegan.project": "generator.stylegan.jobs:project",
    "stylegan.uncanny": "generator.stylegan.jobs:uncanny",
    "musicvae.sample": "generator.musicvae.jobs:sample",
    "musicvae.interpolate": "generator.musicvae.jobs:interpolate",
    "musicvae.attribute": "generator.musicvae.jobs:attribute",
    "lts.soundscape": "generator.lts.jobs:soundscape",
}


class JobSpec(BaseModel):
    """What to generate: a job kind, its parameters, and a seed (recorded in every recipe)."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    title: str | None = None


@dataclass
class JobContext:
    settings: Settings
    catalogue: Catalogue
    workdir: Path
    seed: int = 0
    run_id: int | None = None
    deadline: float | None = None  # time.monotonic() value by which the job should finish
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("gallery.job"))
    # progress(stage, done, total=None, **figures) from gallery.progress; None on a daemon
    progress: Callable[..., None] | None = None
    vary: list[dict[str, Any]] = field(default_factory=list)  # variation steps [{sigma, seed}] (generator.variation)
    parents: list[list[Any]] = field(default_factory=list)  # [[artwork_id, relation], ...] of a curation run

    @property
    def device(self):  # noqa: ANN201 - torch.device, imported lazily
        from gallery.device import select_device

        return select_device(self.settings.device)


def resolve(kind: str) -> Callable[[dict[str, Any], JobContext], list[ArtworkDraft]]:
    target = JOB_KINDS.get(kind)
    if target is None:
        raise BadInput(f"unknown job kind {kind!r}; known kinds: {', '.join(sorted(JOB_KINDS))}")
    mod_name, _, fn_name = target.partition(":")
    return getattr(importlib.import_module(mod_name), fn_name)


def bind(kind: str, params: dict[str, Any], seed: int, ctx: JobContext) -> tuple[Any, JobContext]:
    """The job's arguments: its params model (``vary``, ``parents`` and ``seed`` moved into a copy of
    ``ctx``), or for a kind without a model the dict with ``seed``. BadInput names every wrong key."""
    from generator.job_params import PARAMS, validate_params

    if PARAMS.get(kind) is None:
        return dict(params, seed=seed), dataclasses.replace(ctx, seed=seed)
    rest = dict(params)
    vary, parents = rest.pop("vary", None), rest.pop("parents", None)
    rest.pop("seed", None)
    vary = [] if vary is None else [vary] if isinstance(vary, dict) else vary  # anything else: vary_steps says why
    return validate_params(kind, rest), dataclasses.replace(ctx, seed=seed, vary=vary, parents=list(parents or []))


def run_job(spec: JobSpec, ctx: JobContext) -> list[int]:
    """Run a job in this process and add what it made to the catalogue; returns artwork ids."""
    from gallery.progress import report

    fn = resolve(spec.kind)
    params, job_ctx = bind(spec.kind, spec.params, spec.seed if spec.seed is not None else ctx.seed, ctx)
    drafts = fn(params, job_ctx)
    ids = []
    for k, d in enumerate(drafts):
        report(ctx, "saving to the catalogue", k, len(drafts))
        if ctx.run_id is not None and d.run_id is None:
            d.run_id = ctx.run_id
        ids.append(ctx.catalogue.add(d))
    report(ctx, "saving to the catalogue", len(drafts), len(drafts))
    if ids and ctx.settings.curation.index_on_insert:
        report(ctx, "content features", 0, None)
    index_on_insert(ctx.settings, ctx.catalogue, ids, ctx.log)
    return ids


def index_on_insert(settings: Settings, cat: Catalogue, ids: list[int], logger: logging.Logger | None = None) -> None:
    """Curation's features of new artworks (``curation.index_on_insert``): OpenCV image features, sound
    features and the colour-histogram embedding; CLIP embeddings are left to the lazy index. Never
    raises: a failure is logged and the artworks stay (`gallery curate index` catches up later)."""
    if not ids or not settings.curation.index_on_insert:
        return
    logger = logger or log
    try:
        from curation.indexer import index_new

        rep = index_new(cat, ids)
    except Exception:  # noqa: BLE001 - features are a bonus; the job's artworks are already whole
        logger.warning("features on insert failed for artworks %s (`gallery curate index` will retry)", ids,
                       exc_info=True)
        return
    for aid, why in rep.skipped:
        logger.warning("features on insert: artwork %d skipped: %s", aid, why)


def noop(params: dict[str, Any], ctx: JobContext) -> list[ArtworkDraft]:
    """A job that does nothing (measures scheduler and worker overhead)."""
    return []
