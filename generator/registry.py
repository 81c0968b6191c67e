"""The job registry: every job kind, the function that runs it and the model of its params, in one torch-free table.

A job kind maps to an importable ``module:function`` (never a lambda, so the scheduler can persist a job
and a worker subprocess can import it), called as ``fn(p, ctx)`` where ``p`` is the kind's params model
instance (:func:`validate`; a plain dict for kinds without a model) and ``ctx`` the
:class:`generator.jobs.JobContext` (seed, ``vary`` steps, ``parents``). A studio's own job is given as an
explicit ``module:function`` and takes any JSON params (``seed`` added, as before).

Used by config check (``generator.schedule.settings``), the scheduler, the worker, the command line and
curation. Importing this module never imports torch (a test holds it), nor the job modules: targets are
imported only by :func:`resolve`.

The families also say here which of their works can be varied and walked between (curation's "variations
around this" and "between these two"): :data:`PLANS` maps a recipe's ``generator`` to the family module
whose ``variation_plan`` / ``between_plan`` read its recipes (:func:`variation_plan`, :func:`between_plan`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gallery.errors import BadInput
from generator import job_params as jp

# fn(params model or dict, generator.jobs.JobContext) -> list[catalogue.ArtworkDraft] (neither imported here:
# config check imports this module, and the catalogue imports config)
JobFn = Callable[..., list[Any]]

TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")  # an explicit "module:function"


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its name, the function that runs it, the model of its params (None: any JSON)."""

    name: str
    target: str  # "module:function"
    params: type[jp.Params] | None = None
    family: str = "custom"
    description: str = ""


def _kinds(*rows: JobKind) -> dict[str, JobKind]:
    return {k.name: k for k in rows}


# The single table of job kinds. Each model family plugs its generators in here.
KINDS: dict[str, JobKind] = _kinds(
    JobKind("noop", "generator.jobs:noop", None, "core", "does nothing (measures scheduler and worker overhead)"),
    JobKind("procedural.images", "generator.procedural:run", jp.ProceduralImages, "procedural",
            "procedurally drawn images (no model)"),
    JobKind("vqclip.progression", "generator.vqgan_clip.jobs:progression", jp.VQClipProgression, "vqgan_clip",
            "a VQGAN latent optimised against CLIP prompts (frames, video, final image)"),
    JobKind("stylegan.walk", "generator.stylegan.jobs:walk", jp.StyleGANWalk, "stylegan",
            "a latent walk video (endless, chain or loop)"),
    JobKind("stylegan.mix", "generator.stylegan.jobs:mix", jp.StyleGANMix, "stylegan", "a style-mixing grid"),
    JobKind("stylegan.bend", "generator.stylegan.jobs:bend", jp.StyleGANBend, "stylegan",
            "images of a network-bent generator"),
    JobKind("stylegan.project", "generator.stylegan.jobs:project", jp.StyleGANProject, "stylegan",
            "an image projected into the latent space (or a projection rendered again)"),
    JobKind("stylegan.uncanny", "generator.stylegan.jobs:uncanny", jp.StyleGANUncanny, "stylegan",
            "faces drifting while the generator fine-tunes"),
    JobKind("musicvae.sample", "generator.musicvae.jobs:sample", jp.MusicVAESample, "musicvae",
            "melodies sampled from the prior"),
    JobKind("musicvae.interpolate", "generator.musicvae.jobs:interpolate", jp.MusicVAEInterpolate, "musicvae",
            "a melody interpolated between two"),
    JobKind("musicvae.attribute", "generator.musicvae.jobs:attribute", jp.MusicVAEAttribute, "musicvae",
            "a melody moved along an attribute vector"),
    JobKind("lts.soundscape", "generator.lts.jobs:soundscape", jp.LTSSoundscape, "lts",
            "a soundscape between anchor sounds, or along a visual's timeline"),
)


def kinds() -> list[str]:
    """The registered kind names, sorted."""
    return sorted(KINDS)


def get(kind: str) -> JobKind:
    """The registered kind ``kind``; BadInput naming the known kinds."""
    k = KINDS.get(kind)
    if k is None:
        raise BadInput(f"unknown job kind {kind!r}; known kinds: {', '.join(kinds())}")
    return k


def is_kind(kind: str) -> bool:
    """A registered name or an explicit ``module:function`` (what a job entry may name)."""
    return kind in KINDS or bool(TARGET.match(kind))


def target_of(kind: str) -> str:
    """``module:function`` of a registered name, or the explicit target itself."""
    if kind in KINDS:
        return KINDS[kind].target
    if TARGET.match(kind):
        return kind
    return get(kind).target  # raises, naming the known kinds


def module_of(kind: str) -> str:
    """The module of a job kind: a registered name or an explicit ``module:function``."""
    return target_of(kind).partition(":")[0]


def model_of(kind: str) -> type[jp.Params] | None:
    """The params model of ``kind`` (None: a kind that takes any JSON params, noop or module:function)."""
    if kind in KINDS:
        return KINDS[kind].params
    if TARGET.match(kind):
        return None
    return get(kind).params  # raises


def resolve(kind: str) -> JobFn:
    """The function of a registered name or an explicit ``module:function``; BadInput if it cannot be imported."""
    target = target_of(kind)
    mod_name, _, fn_name = target.partition(":")
    what = f"{kind!r}" if target == kind else f"{kind!r} ({target})"
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise BadInput(f"job kind {what} cannot be imported: {exc}") from exc
    if not callable(fn):
        raise BadInput(f"job kind {what} is not a function")
    return fn


def param_errors(kind: str, params: dict[str, Any], injected: dict[str, Any] | None = None,
                 why: dict[str, str] | None = None) -> list[str]:
    """What is wrong with ``params`` of a job of ``kind`` (empty: nothing); see job_params.param_errors."""
    try:
        model = model_of(kind)
    except BadInput as e:
        return [str(e)]
    return jp.param_errors(kind, params, injected, why, model=model)


def validate(kind: str, params: dict[str, Any]) -> Any:
    """``params`` checked against the model of ``kind``: the model instance, or (kinds without a model) a copy
    of the dict, checked as JSON data within limits. BadInput with every problem, each naming its key."""
    model = model_of(kind)
    problems = jp.param_errors(kind, params, model=model)
    if problems:
        raise BadInput(f"job {kind}: " + "; ".join(problems))
    return dict(params) if model is None else model.model_validate(params)


# ---- what each family's works can be varied and walked between from -------------------------------
class CannotVary(BadInput):
    """A family's work whose recipe holds nothing to vary (its message completes "artwork N (kind): ...")."""


@dataclass(frozen=True)
class Work:
    """What a plan reads of an artwork."""

    id: int
    kind: str
    recipe: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """A job that re-renders a work: its kind, params (without ``vary``), seed and the work's own vary steps."""

    kind: str
    params: dict[str, Any]
    seed: int = 0
    vary: list[dict[str, Any]] = field(default_factory=list)


# A recipe's "generator" (exact, or a prefix ending in ".") -> the family module with variation_plan(recipe)
# -> (kind, params) and, where the family walks between its works, between_plan(a, b, steps).
PLANS: dict[str, str] = {
    "stylegan.": "generator.stylegan.plans",
    "vqclip.progression": "generator.vqgan_clip.plans",
    "musicvae": "generator.musicvae.plans",
    "lts.soundscape": "generator.lts.plans",
    "procedural.images": "generator.procedural",
}


def _plans_module(generator: str) -> Any:
    for key, mod in PLANS.items():
        if generator == key or (key.endswith(".") and generator.startswith(key)):
            return importlib.import_module(mod)
    return None


def pick(recipe: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The recipe's values of ``keys`` that are set (for a plan's params)."""
    return {k: recipe[k] for k in keys if recipe.get(k) is not None}


def variation_plan(recipe: dict[str, Any]) -> Plan | None:
    """The family job that re-renders a work of ``recipe`` around its latent position (params without the
    new ``vary`` step); None when the recipe is not a family's work. Raises :class:`CannotVary` when it is
    one with no latent position to vary (or one the catalogue cannot reach again)."""
    from generator.variation import vary_steps

    gen = recipe.get("generator")
    if not isinstance(gen, str):
        return None
    try:
        prior = vary_steps(recipe.get("vary"))
    except BadInput as e:
        raise CannotVary(f"its recipe's vary steps are unreadable ({e})") from None
    seed = recipe.get("seed") if isinstance(recipe.get("seed"), int) else 0
    mod = _plans_module(gen)
    found = None if mod is None else mod.variation_plan(recipe)
    if found is None:
        return None
    kind, params = found
    return Plan(kind, params, seed, prior)


def between_plan(a: Work, b: Work, steps: int) -> tuple[str, dict[str, Any]] | None:
    """The family's own "between" job of two of its works (kind, params), or None."""
    ga, gb = str(a.recipe.get("generator", "")), str(b.recipe.get("generator", ""))
    ma, mb = _plans_module(ga), _plans_module(gb)
    if ma is None or ma is not mb or not hasattr(ma, "between_plan"):
        return None
    return ma.between_plan(a, b, steps)
