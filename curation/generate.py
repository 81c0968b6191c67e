"""From search back to generation: "variations around this" and "between these two".

Both queue generation jobs as ``run`` rows (state ``queued``; ``spec["job"]`` is the JobSpec the
scheduler's worker runs).

Variations of the families' artworks (:func:`variation_plan`: each family reads its own recipes, see
``generator.registry.variation_plan``) re-run the family's own job with the parent's recipe and one more
``vary`` step ``{sigma, seed}`` (see ``generator.variation``): the job
moves its latent(s) by seeded noise of relative scale sigma — StyleGAN walk keyframes (or the loop's
plane), the mix's row and column latents, a bend's z, a projection's w / W+ (rendered, no new
optimisation), the uncanny's faces (same model, same run); a VQGAN+CLIP progression's final latent
(``final_codes``, recorded since) or, for older recipes, its seeded start; a melody's z (or its
encoded ends / melody); a soundscape's anchors. A variation's recipe keeps its ``vary`` steps, so it
re-renders and can be varied again. Artworks with nothing of the kind (procedural images, sources
that are files outside the catalogue) are refused before anything is queued.

Otherwise the artwork's recipe must hold a latent position and name the job kind that renders one:

- the position: ``recipe["latent"]`` (a list of numbers, or ``{"z": [...]}``), else ``recipe["z"]``
  or ``recipe["w"]``;
- the job: ``recipe["job_kind"]``, else ``recipe["generator"]``, which must be a kind of the job
  registry (``generator.registry``).

Params handed to the job: ``latent`` (variations) or ``from``/``to``/``steps`` (between), ``recipe``
(the parent's recipe, for everything else: checkpoint, prompts, sizes) and ``seed``. The run's spec
carries ``vary`` (the variation steps) and ``parents`` (``[[artwork id, relation], ...]``, also in
``run.extra`` for lineage). Jobs that know ``parents`` set ``draft.parents``; for the others
:func:`link_lineage` adds the lineage rows once the run is done, so the catalogue keeps its family
tree either way.

Curation uses only the generator's public, torch-free surfaces: ``generator.registry`` (kinds and
the families' plans), ``generator.jobs`` (the spec and context types) and ``generator.run``.

Who runs them: a run queued for ``tonight`` (or for a window by name) is run by the scheduler at the
start of its next window, before the programme (``generator.schedule``: oldest first, each in a
worker process, the same row updated and its lineage linked); ``gallery schedule once`` too. A run
queued with no window ("now") is left to :func:`run_now` (``gallery curate vary|between --now``,
``gallery curate queue --run``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from catalogue.models import Artwork, Run, utcnow
from gallery.errors import BadInput
from generator import registry, titles
from generator.jobs import JobContext, JobSpec

if TYPE_CHECKING:
    from catalogue import Catalogue
    from gallery.config import Settings

MAX_LATENT = 1 << 16


def latent_of(recipe: dict[str, Any]) -> np.ndarray | None:
    raw: Any = recipe.get("latent")
    if isinstance(raw, dict):
        raw = raw.get("z", raw.get("w"))
    if raw is None:
        raw = recipe.get("z", recipe.get("w"))
    if raw is None:
        return None
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.size == 0 or arr.size > MAX_LATENT or not np.all(np.isfinite(arr)):
        return None
    return arr


def job_kind_of(recipe: dict[str, Any]) -> str | None:
    known = registry.kinds()
    for key in ("job_kind", "generator"):
        k = recipe.get(key)
        if isinstance(k, str) and k in known:
            return k
    return None


def _source(cat: Catalogue, artwork_id: int) -> tuple[Artwork, np.ndarray, str]:
    a = cat.get(artwork_id)
    if a is None:
        raise BadInput(f"no artwork {artwork_id}")
    z = latent_of(a.recipe or {})
    if z is None:
        raise BadInput(f"artwork {artwork_id} ({a.kind}): its recipe holds no latent position "
                       "(recipe.latent, z or w), so there is nothing to vary or walk from")
    kind = job_kind_of(a.recipe)
    if kind is None:
        raise BadInput(f"artwork {artwork_id}: its recipe names no known job kind (job_kind or generator) "
                       "that can render a latent position")
    return a, z, kind


def _refuse(a: Artwork, why: str) -> BadInput:
    gen = (a.recipe or {}).get("generator") or (a.recipe or {}).get("job_kind") or "unknown generator"
    return BadInput(f"artwork {a.id} ({a.kind}, {gen}): {why}, so there is nothing to vary")


def variation_plan(a: Artwork) -> registry.Plan | None:
    """The family job that re-renders artwork ``a`` around its latent position (kind, params without the
    new ``vary`` step, job seed, the recipe's own vary steps); None when ``a`` is not a family's work. Raises
    BadInput when it is one that has no latent position to vary (or one this catalogue cannot reach again)."""
    try:
        return registry.variation_plan(a.recipe or {})
    except registry.CannotVary as e:
        raise _refuse(a, str(e)) from None


def can_vary(a: Artwork) -> bool:
    """Whether "variations around this" can queue anything for ``a``."""
    try:
        if variation_plan(a) is not None:
            return True
    except BadInput:
        return False
    r = a.recipe or {}
    return latent_of(r) is not None and job_kind_of(r) is not None


def _queue(cat: Catalogue, kind: str, params: dict[str, Any], seed: int, window: str | None, title: str,
           parents: list[list[Any]], vary: list[dict[str, Any]] | None = None) -> int:
    spec = JobSpec(kind=kind, params=params, seed=seed, title=title, vary=vary or [], parents=parents)
    with cat.write() as s:
        r = Run(job_kind=kind, spec={"job": spec.model_dump(mode="json"), "requested_by": "curation"},
                window=window, state="queued", created=utcnow(), extra={"parents": parents})
        s.add(r)
        s.flush()
        return r.id


def queue_variations(cat: Catalogue, artwork_id: int, count: int = 4, sigma: float = 0.3, seed: int = 0,
                     window: str | None = None) -> list[int]:
    """``count`` runs, each a small seeded perturbation of the artwork's latent position
    (``z + sigma * noise``, rescaled to the same norm when the space is a hypersphere-like Gaussian)."""
    if not 1 <= count <= 64:
        raise BadInput(f"variations: count must be 1..64, got {count}")
    if not 0.0 < sigma <= 2.0:
        raise BadInput(f"variations: sigma must be in (0, 2], got {sigma}")
    art = cat.get(artwork_id)
    if art is None:
        raise BadInput(f"no artwork {artwork_id}")
    name = titles.CatalogueNames(cat)(artwork_id)  # "“Dawn walk”": a visitor reads the queued title
    plan = variation_plan(art)
    if plan is not None:
        assert plan.kind in registry.kinds(), plan.kind
        step_seeds = np.random.default_rng([seed, artwork_id]).integers(0, 2 ** 31, count)
        return [_queue(cat, plan.kind, dict(plan.params), seed=plan.seed, window=window,
                       title=titles.variation_of(name, i + 1), parents=[[artwork_id, "variation"]],
                       vary=[*plan.vary, {"sigma": sigma, "seed": int(k)}])
                for i, k in enumerate(step_seeds)]
    a, z, kind = _source(cat, artwork_id)
    rng = np.random.default_rng([seed, artwork_id])
    norm = float(np.linalg.norm(z))
    runs = []
    for i in range(count):
        v = z + sigma * rng.standard_normal(z.shape)
        if norm > 0:
            v *= norm / max(float(np.linalg.norm(v)), 1e-12)
        params = {"latent": v.astype(np.float32).tolist(), "recipe": a.recipe, "sigma": sigma, "variation": i}
        runs.append(_queue(cat, kind, params, seed=seed + i, window=window,
                           title=titles.variation_of(name, i + 1), parents=[[artwork_id, "variation"]]))
    return runs


def _between_title(cat: Catalogue, a_id: int, b_id: int) -> str:
    names = titles.CatalogueNames(cat)
    return titles.between(names(a_id), names(b_id))


def family_between(a: Artwork, b: Artwork, steps: int) -> tuple[str, dict[str, Any]] | None:
    """The families' own "between" jobs, for recipes that hold seeds or melodies instead of vectors
    (``generator.registry.between_plan``: Music-VAE melodies -> ``musicvae.interpolate``; StyleGAN works
    of one checkpoint -> a ``stylegan.walk`` chain from A's keyframe seed to B's)."""
    return registry.between_plan(registry.Work(a.id, a.kind, a.recipe or {}),
                                 registry.Work(b.id, b.kind, b.recipe or {}), steps)


def queue_between(cat: Catalogue, a_id: int, b_id: int, steps: int = 8, seed: int = 0,
                  window: str | None = None) -> int:
    """One run from A to B: the family's own job when it has one (melodies, StyleGAN seeds), else a
    slerp from A's latent position to B's in ``steps`` keyframes."""
    if a_id == b_id:
        raise BadInput("between: give two different artworks")
    if not 2 <= steps <= 256:
        raise BadInput(f"between: steps must be 2..256, got {steps}")
    art_a, art_b = cat.get(a_id), cat.get(b_id)
    for i, art in ((a_id, art_a), (b_id, art_b)):
        if art is None:
            raise BadInput(f"no artwork {i}")
    fam = family_between(art_a, art_b, steps)
    if fam is not None:
        kind, params = fam
        if kind in registry.kinds():
            return _queue(cat, kind, params, seed=seed, window=window, title=_between_title(cat, a_id, b_id),
                          parents=[[a_id, "between"], [b_id, "between"]])
    for art in (art_a, art_b):
        try:
            family = variation_plan(art) is not None
        except BadInput:
            family = True
        if family:  # the family jobs take no slerp keyframes: a run queued with them would only fail
            raise BadInput(f"between: no walk between artworks {a_id} ({art_a.kind}) and {b_id} ({art_b.kind}); "
                           "there is one between two melodies and between two StyleGAN works (not projections) "
                           "of one checkpoint")
    a, za, kind = _source(cat, a_id)
    _b, zb, kind_b = _source(cat, b_id)
    if kind != kind_b or za.shape != zb.shape:
        raise BadInput(f"between: artworks {a_id} ({kind}, latent {za.shape}) and {b_id} ({kind_b}, "
                       f"latent {zb.shape}) are not from the same latent space")
    path = [slerp(za, zb, t).astype(np.float32).tolist() for t in np.linspace(0.0, 1.0, steps)]
    params = {"from": za.astype(np.float32).tolist(), "to": zb.astype(np.float32).tolist(), "steps": steps,
              "keyframes": path, "recipe": a.recipe}
    return _queue(cat, kind, params, seed=seed, window=window, title=_between_title(cat, a_id, b_id),
                  parents=[[a_id, "between"], [b_id, "between"]])


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    a_f, b_f = a.ravel(), b.ravel()
    na, nb = np.linalg.norm(a_f), np.linalg.norm(b_f)
    if na == 0 or nb == 0:
        return ((1 - t) * a + t * b).reshape(a.shape)
    cos = float(np.clip(a_f @ b_f / (na * nb), -1.0, 1.0))
    omega = math.acos(cos)
    if omega < 1e-6:
        return ((1 - t) * a + t * b).reshape(a.shape)
    return ((math.sin((1 - t) * omega) * a_f + math.sin(t * omega) * b_f) / math.sin(omega)).reshape(a.shape)


def link_lineage(cat: Catalogue) -> int:
    """Lineage rows for the results of finished curation-queued runs (idempotent); returns rows added.
    (The scheduler links each run it finishes itself, with the same catalogue helper.)"""
    from catalogue.lineage import link_run_lineage

    return link_run_lineage(cat)


def run_now(settings: Settings, cat: Catalogue, run_id: int) -> list[int]:
    """Run a queued run in this process (what the scheduler's worker does), then link its lineage."""
    import traceback

    from generator.run import claim_run, execute_run, record_run

    spec = claim_run(cat, run_id, only_queued=True)
    if spec is None:
        raise BadInput(f"no run {run_id}")
    workdir = settings.path(f"runs/{run_id}")
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = JobContext(settings=settings, catalogue=cat, workdir=workdir, run_id=run_id)
    try:
        ids = execute_run(spec, ctx)
    except Exception as e:
        record_run(cat, run_id, [], f"{type(e).__name__}: {e}\n{''.join(traceback.format_exception(e)[-4:])}")
        raise
    record_run(cat, run_id, ids)
    link_lineage(cat)
    return ids


def queued(cat: Catalogue) -> list[Run]:
    """Runs queued by curation and not run yet, oldest first."""
    with cat.read() as s:
        rows = list(s.scalars(select(Run).where(Run.state == "queued").order_by(Run.id)))
    return [r for r in rows if (r.spec or {}).get("requested_by") == "curation"]
