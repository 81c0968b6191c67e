"""From search back to generation: "variations around this" and "between these two".

Both queue generation jobs as ``run`` rows (state ``queued``; ``spec["job"]`` is the JobSpec the
scheduler's worker runs).

Variations of the families' artworks (:func:`variation_plan`) re-run the family's own job with the
parent's recipe and one more ``vary`` step ``{sigma, seed}`` (see ``generator.variation``): the job
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
- the job: ``recipe["job_kind"]``, else ``recipe["generator"]``, which must be a key of
  ``generator.jobs.JOB_KINDS``.

Params handed to the job: ``latent`` (variations) or ``from``/``to``/``steps`` (between), ``recipe``
(the parent's recipe, for everything else: checkpoint, prompts, sizes), ``parents``
(``[[artwork id, relation], ...]``) and ``seed``. Jobs that know ``parents`` set ``draft.parents``;
for the others :func:`link_lineage` adds the lineage rows once the run is done, so the catalogue
keeps its family tree either way.

Who runs them: a run queued for ``tonight`` (or for a window by name) is run by the scheduler at the
start of its next window, before the programme (``generator.schedule``: oldest first, each in a
worker process, the same row updated and its lineage linked); ``gallery schedule once`` too. A run
queued with no window ("now") is left to :func:`run_now` (``gallery curate vary|between --now``,
``gallery curate queue --run``).
"""

from __future__ import annotations

import math
import os
import socket
from typing import Any

import numpy as np
from sqlalchemy import select

from catalogue.models import Artwork, Run, utcnow
from gallery.errors import BadInput

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
    from generator.jobs import JOB_KINDS

    for key in ("job_kind", "generator"):
        k = recipe.get(key)
        if isinstance(k, str) and k in JOB_KINDS:
            return k
    return None


def _source(cat: Any, artwork_id: int) -> tuple[Artwork, np.ndarray, str]:
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


def _pick(recipe: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: recipe[k] for k in keys if recipe.get(k) is not None}


def _refuse(a: Artwork, why: str) -> BadInput:
    gen = (a.recipe or {}).get("generator") or (a.recipe or {}).get("job_kind") or "unknown generator"
    return BadInput(f"artwork {a.id} ({a.kind}, {gen}): {why}, so there is nothing to vary")


def variation_plan(a: Artwork) -> tuple[str, dict[str, Any], int] | None:
    """The family job that re-renders artwork ``a`` around its latent position: (job kind, params without
    the new ``vary`` step, job seed); None when ``a`` is not a family's work. Raises BadInput when it
    is one that has no latent position to vary (or one this catalogue cannot reach again)."""
    from generator.variation import vary_steps

    r = a.recipe or {}
    gen = r.get("generator")
    if not isinstance(gen, str):
        return None
    try:
        prior = vary_steps(r.get("vary"))
    except BadInput as e:
        raise _refuse(a, f"its recipe's vary steps are unreadable ({e})") from None
    seed = r.get("seed") if isinstance(r.get("seed"), int) else 0
    common = {"vary": prior}
    if gen.startswith("stylegan."):
        model = (r.get("model") or {}).get("name")
        if not model:
            raise _refuse(a, "its recipe names no StyleGAN model")
        common.update(_pick(r, "psi", "size", "noise_mode", "batch"), model=model)
        if gen == "stylegan.walk":
            chain = ("loop",) if r.get("mode", "endless") == "chain" else ()  # a loop walk's recipe says loop too
            return gen, {**common, **_pick(r, "mode", "space", "seconds", "seconds_per_keyframe", "keyframes",
                                           *chain, "start_segment", "constant_speed", "bends", "fps")}, seed
        if gen == "stylegan.mix":
            return gen, {**common, **_pick(r, "row_seeds", "col_seeds", "bends"),
                         "layers": r.get("layer_name", "coarse")}, seed
        if gen == "stylegan.bend":
            if not r.get("bends"):
                raise _refuse(a, "its recipe holds no bends")
            return gen, {**common, "bends": r["bends"], "seeds": [seed]}, seed
        if gen == "stylegan.project":
            if not isinstance(r.get("w"), list):
                raise _refuse(a, "its recipe holds no projected w")
            return gen, {**common, **_pick(r, "w", "ws", "wplus", "target")}, seed
        if gen == "stylegan.uncanny":
            return gen, {**common, **_pick(r, "steps", "snapshot_every", "lr", "seeds", "fps",
                                           "seconds_per_snapshot")}, seed
        raise _refuse(a, f"{gen} works have no latent position this tool knows")
    if gen == "vqclip.progression":
        if r.get("image_prompts"):
            raise _refuse(a, "its image prompts are files outside the catalogue")
        if not r.get("final_codes") and r.get("init_image"):
            raise _refuse(a, "it started from an init image outside the catalogue and its recipe (older than "
                             "final_codes) holds no final latent")
        params = {**common, **_pick(r, "prompt", "iterations", "width", "height", "cutouts", "cut_pow", "min_cut",
                                    "optimiser", "lr", "tv_weight", "story_every", "snapshots", "video", "zoom",
                                    *(("zoom_every", "zoom_scale") if r.get("zoom") else ()), "finetune_decoder",
                                    *(("decoder_lr",) if r.get("finetune_decoder") else ()))}
        if r.get("final_codes"):
            params["init_codes"] = r["final_codes"]  # around the image it ended on; else its seeded start
        if isinstance(r.get("timeline"), dict) and r["timeline"].get("fps"):
            params["fps"] = r["timeline"]["fps"]
        return gen, params, seed
    if gen == "musicvae":
        base = {**common, **_pick(r, "bars", "temperature", "instrument", "tempo")}
        op = r.get("op")
        if op == "sample" and isinstance(r.get("z"), list):
            return "musicvae.sample", {**base, "z": [r["z"]]}, seed
        if op == "interpolate" and all(isinstance((r.get(k) or {}).get("events"), list) for k in ("a", "b")):
            return "musicvae.interpolate", {**base, "a": r["a"]["events"], "b": r["b"]["events"],
                                            **_pick(r, "steps")}, seed
        if op == "attribute" and isinstance((r.get("melody") or {}).get("events"), list):
            return "musicvae.attribute", {**base, "melody": r["melody"]["events"],
                                          **_pick(r, "attribute", "amounts")}, seed
        raise _refuse(a, f"its recipe (op {op!r}) holds no melody latent (z, or the events it encoded)")
    if gen == "lts.soundscape":
        base = {**common, **_pick(r, "mode", "iterations", "loop",
                                  *(("duration",) if r.get("mode", "between") == "between" else ()))}
        sources = [r.get("a"), r.get("b")] if r.get("mode", "between") == "between" else list(r.get("anchors") or [])
        if not sources or not all(isinstance(s, dict) and s.get("name") for s in sources):
            raise _refuse(a, "its recipe names no anchor sounds")
        files = [s["name"] for s in sources if s.get("sha256")]
        if files:
            raise _refuse(a, f"its sources {files} were audio files outside the catalogue, not anchors")
        if base.get("mode", "between") == "between":
            return gen, {**base, "a": sources[0]["name"], "b": sources[1]["name"], **_pick(r, "curve", "interp")}, seed
        return gen, {**base, "anchors": [s["name"] for s in sources], **_pick(r, "visual_id", "timeline")}, seed
    if gen == "procedural.images":
        raise _refuse(a, "procedural images are drawn from a seed, not decoded from a latent position")
    return None


def can_vary(a: Artwork) -> bool:
    """Whether "variations around this" can queue anything for ``a``."""
    try:
        if variation_plan(a) is not None:
            return True
    except BadInput:
        return False
    r = a.recipe or {}
    return latent_of(r) is not None and job_kind_of(r) is not None


def _queue(cat: Any, kind: str, params: dict[str, Any], seed: int, window: str | None, title: str) -> int:
    from generator.jobs import JobSpec

    spec = JobSpec(kind=kind, params=params, seed=seed, title=title)
    with cat.write() as s:
        r = Run(job_kind=kind, spec={"job": spec.model_dump(mode="json"), "requested_by": "curation"},
                window=window, state="queued", created=utcnow(), extra={"parents": params["parents"]})
        s.add(r)
        s.flush()
        return r.id


def queue_variations(cat: Any, artwork_id: int, count: int = 4, sigma: float = 0.3, seed: int = 0,
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
    plan = variation_plan(art)
    if plan is not None:
        from generator.jobs import JOB_KINDS

        kind, base, job_seed = plan
        assert kind in JOB_KINDS, kind
        step_seeds = np.random.default_rng([seed, artwork_id]).integers(0, 2 ** 31, count)
        return [_queue(cat, kind, {**base, "vary": [*base["vary"], {"sigma": sigma, "seed": int(k)}],
                                   "parents": [[artwork_id, "variation"]]},
                       seed=job_seed, window=window, title=f"Variation {i + 1} of #{artwork_id}")
                for i, k in enumerate(step_seeds)]
    a, z, kind = _source(cat, artwork_id)
    rng = np.random.default_rng([seed, artwork_id])
    norm = float(np.linalg.norm(z))
    runs = []
    for i in range(count):
        v = z + sigma * rng.standard_normal(z.shape)
        if norm > 0:
            v *= norm / max(float(np.linalg.norm(v)), 1e-12)
        params = {"latent": v.astype(np.float32).tolist(), "recipe": a.recipe, "sigma": sigma, "variation": i,
                  "parents": [[artwork_id, "variation"]]}
        runs.append(_queue(cat, kind, params, seed=seed + i, window=window,
                           title=f"Variation {i + 1} of #{artwork_id}"))
    return runs


def _seed_of(recipe: dict[str, Any]) -> int | None:
    keys = recipe.get("keyframes")
    if isinstance(keys, list) and keys and isinstance(keys[0], int):
        return int(keys[0])
    return int(recipe["seed"]) if isinstance(recipe.get("seed"), int) else None


def family_between(a: Artwork, b: Artwork, steps: int) -> tuple[str, dict[str, Any]] | None:
    """The families' own "between" jobs, for recipes that hold seeds or melodies instead of vectors:
    Music-VAE melodies -> ``musicvae.interpolate`` (a, b = artwork:ID); StyleGAN works of one
    checkpoint -> a ``stylegan.walk`` chain from A's keyframe seed to B's."""
    ra, rb = a.recipe or {}, b.recipe or {}
    ga, gb = str(ra.get("generator", "")), str(rb.get("generator", ""))
    if ga == gb == "musicvae" and a.kind == b.kind == "melody":
        params: dict[str, Any] = {"a": f"artwork:{a.id}", "b": f"artwork:{b.id}", "steps": min(steps, 64)}
        if ra.get("bars"):
            params["bars"] = ra["bars"]
        return "musicvae.interpolate", params
    if ga.startswith("stylegan.") and gb.startswith("stylegan.") and "stylegan.project" not in (ga, gb):
        ma, mb = ra.get("model") or {}, rb.get("model") or {}
        sa, sb = _seed_of(ra), _seed_of(rb)
        if sa is None or sb is None or not ma.get("sha256") or ma.get("sha256") != mb.get("sha256"):
            return None
        params = {"mode": "chain", "keyframes": [sa, sb], "space": ra.get("space", "z"), "model": ma.get("name"),
                  "seconds": 4.0, "seconds_per_keyframe": 4.0}
        for k in ("psi", "size", "noise_mode", "fps"):
            if k in ra:
                params[k] = ra[k]
        return "stylegan.walk", params
    return None


def queue_between(cat: Any, a_id: int, b_id: int, steps: int = 8, seed: int = 0,
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
        from generator.jobs import JOB_KINDS

        kind, params = fam
        if kind in JOB_KINDS:
            params["parents"] = [[a_id, "between"], [b_id, "between"]]
            return _queue(cat, kind, params, seed=seed, window=window, title=f"Between #{a_id} and #{b_id}")
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
    b, zb, kind_b = _source(cat, b_id)
    if kind != kind_b or za.shape != zb.shape:
        raise BadInput(f"between: artworks {a_id} ({kind}, latent {za.shape}) and {b_id} ({kind_b}, "
                       f"latent {zb.shape}) are not from the same latent space")
    path = [slerp(za, zb, t).astype(np.float32).tolist() for t in np.linspace(0.0, 1.0, steps)]
    params = {"from": za.astype(np.float32).tolist(), "to": zb.astype(np.float32).tolist(), "steps": steps,
              "keyframes": path, "recipe": a.recipe,
              "parents": [[a_id, "between"], [b_id, "between"]]}
    return _queue(cat, kind, params, seed=seed, window=window, title=f"Between #{a_id} and #{b_id}")


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


def link_lineage(cat: Any) -> int:
    """Lineage rows for the results of finished curation-queued runs (idempotent); returns rows added.
    (The scheduler links each run it finishes itself, with the same catalogue helper.)"""
    from catalogue.lineage import link_run_lineage

    return link_run_lineage(cat)


def run_now(settings: Any, cat: Any, run_id: int) -> list[int]:
    """Run a queued run in this process (what the scheduler's worker does), then link its lineage."""
    import traceback

    from generator.jobs import JobContext, JobSpec, run_job

    with cat.write() as s:
        r = s.get(Run, run_id)
        if r is None:
            raise BadInput(f"no run {run_id}")
        if r.state != "queued":
            raise BadInput(f"run {run_id} is {r.state}, not queued")
        r.state, r.started = "running", utcnow()
        r.host, r.pid = socket.gethostname(), os.getpid()  # so a scheduler restart can recover it
        spec = JobSpec.model_validate(r.spec["job"])
    workdir = settings.path(f"runs/{run_id}")
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = JobContext(settings=settings, catalogue=cat, workdir=workdir, seed=spec.seed or 0, run_id=run_id)
    try:
        ids = run_job(spec, ctx)
    except Exception as e:
        with cat.write() as s:
            r = s.get(Run, run_id)
            r.state, r.ended = "failed", utcnow()
            r.error = f"{type(e).__name__}: {e}\n{''.join(traceback.format_exception(e)[-4:])}"
        raise
    with cat.write() as s:
        r = s.get(Run, run_id)
        r.state, r.ended, r.artwork_ids = "done", utcnow(), list(ids)
    link_lineage(cat)
    return ids


def queued(cat: Any) -> list[Run]:
    """Runs queued by curation and not run yet, oldest first."""
    with cat.read() as s:
        rows = list(s.scalars(select(Run).where(Run.state == "queued").order_by(Run.id)))
    return [r for r in rows if (r.spec or {}).get("requested_by") == "curation"]
