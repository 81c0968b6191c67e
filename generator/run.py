"""One way to run a job: :func:`execute_run` (the worker, the command line, curation's "run now" and the demos).

It resolves the kind (``generator.registry``), validates the params against the kind's model, calls the
job as ``fn(p, ctx)`` with ``ctx.seed`` (the spec's seed, else the context's), ``ctx.vary`` and
``ctx.parents`` set from the spec, gives the drafts the spec's ``title`` when it has one, saves every draft it returned in one transaction (all or nothing),
then runs the after-save hooks. Hooks are how work outside the generator reacts to new artworks
(curation's features on insert): the front door registers them (``gallery.wiring``), so generator code
never imports those packages. A hook's failure is logged, never raised: the artworks are already saved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from gallery.progress import report
from generator import registry
from generator.titles import finish

if TYPE_CHECKING:
    from catalogue import Catalogue
    from generator.jobs import JobContext, JobSpec

OLD_QUEUED_TITLE = re.compile(r"#\d")  # "Variation 1 of #6", "Between #6 and #7": queued before issue 23
AfterSave = Callable[["JobContext", list[int]], None]
log = logging.getLogger(__name__)
_AFTER_SAVE: list[AfterSave] = []


def after_save(hook: AfterSave) -> AfterSave:
    """Register ``hook(ctx, artwork_ids)`` to run after each job's artworks are saved (once per hook)."""
    if hook not in _AFTER_SAVE:
        _AFTER_SAVE.append(hook)
    return hook


def after_save_hooks() -> list[AfterSave]:
    """The registered hooks, in the order they run."""
    return list(_AFTER_SAVE)


def run_after_save(ctx: JobContext, ids: list[int]) -> None:
    """Run the registered hooks on the artworks ``ids``; a failing hook is logged and the next one runs."""
    for hook in _AFTER_SAVE:
        try:
            hook(ctx, list(ids))
        except Exception:  # noqa: BLE001 - the artworks are saved; a hook's work is a bonus
            (ctx.log or log).warning("after-save hook %s failed for artworks %s", getattr(hook, "__name__", hook),
                                     ids, exc_info=True)


def job_params(spec: JobSpec, seed: int) -> object:
    """What the job function gets as ``p``: the kind's params model instance, or for a kind without a model
    (noop, a custom ``module:function``) the dict with ``seed`` (and ``vary``/``parents`` when set) as before."""
    p = registry.validate(spec.kind, spec.params)
    if isinstance(p, dict):
        extra = {k: v for k, v in (("vary", spec.vary), ("parents", spec.parents)) if v}
        return {**p, **extra, "seed": seed}
    return p


def execute_run(spec: JobSpec, ctx: JobContext, *, hooks: bool = True) -> list[int]:
    """Run ``spec`` in this process and add what it made to the catalogue in one transaction; returns the
    artwork ids. ``hooks=False`` leaves the after-save hooks to the caller (:func:`run_after_save`: the
    worker runs them once its run row says done)."""
    fn = registry.resolve(spec.kind)
    ctx.seed = spec.seed if spec.seed is not None else ctx.seed
    ctx.vary, ctx.parents = list(spec.vary), [list(p) for p in spec.parents]
    drafts = list(fn(job_params(spec, ctx.seed), ctx))
    for i, d in enumerate(drafts):
        if ctx.run_id is not None and d.run_id is None:
            d.run_id = ctx.run_id
        # the title it was queued with ("Variation 2 of “Dawn walk”"), numbered when several; not the
        # "Variation 1 of #6" of a run queued before issue 23 (the job's own title is better)
        if spec.title and not OLD_QUEUED_TITLE.search(spec.title):
            d.title = finish(spec.title if len(drafts) == 1 else f"{spec.title}, no. {i + 1}")
    report(ctx, "saving to the catalogue", 0, len(drafts))
    ids = list(ctx.catalogue.add_many(drafts)) if drafts else []
    report(ctx, "saving to the catalogue", len(drafts), len(drafts))
    if hooks and ids:
        run_after_save(ctx, ids)
    return ids


# ---- a run row's bookkeeping (the worker and curation's "run now" both run rows) --------------------
def claim_run(cat: Catalogue, run_id: int, *, only_queued: bool = False) -> JobSpec | None:
    """Mark run row ``run_id`` running (started, host, pid: a scheduler restart can recover it) and return
    its spec; None when there is no such row. ``only_queued``: BadInput when the row is not queued."""
    import os
    import socket

    from catalogue.models import Run, utcnow
    from gallery.errors import BadInput
    from generator.jobs import JobSpec

    with cat.write() as s:
        run = s.get(Run, run_id)
        if run is None:
            return None
        if only_queued and run.state != "queued":
            raise BadInput(f"run {run_id} is {run.state}, not queued")
        run.state, run.started = "running", utcnow()
        run.host, run.pid = socket.gethostname(), os.getpid()
        return JobSpec.model_validate(run.spec["job"])


def record_run(cat: Catalogue, run_id: int, ids: list[int], error: str | None = None) -> None:
    """Run row ``run_id`` done with artworks ``ids``, or failed with ``error`` (secrets redacted)."""
    from catalogue.models import Run, utcnow
    from gallery.redact import redact

    with cat.write() as s:
        run = s.get(Run, run_id)
        assert run is not None, run_id
        run.state, run.ended = ("failed" if error else "done"), utcnow()
        run.error = redact(error) if error else None
        run.artwork_ids = list(ids)
