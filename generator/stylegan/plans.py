"""Which StyleGAN works can be varied and walked between, read from their recipes (torch-free).

``generator.registry.variation_plan`` calls :func:`variation_plan` for recipes whose generator is
``stylegan.*`` and :func:`between_plan` for two of them (curation's "variations around this" and
"between these two").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from generator.registry import CannotVary, pick

if TYPE_CHECKING:
    from generator.registry import Work


# Walk params used by one mode only (generator.job_params.StyleGANWalk refuses them with another).
WALK_MODE_ONLY = {"keyframes": "chain", "loop": "chain", "start_segment": "endless"}


def variation_plan(r: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The job that renders this work again (kind, params without ``vary``): each job moves its own latents."""
    gen = r["generator"]
    seed = r.get("seed") if isinstance(r.get("seed"), int) else 0
    model = (r.get("model") or {}).get("name")
    if not model:
        raise CannotVary("its recipe names no StyleGAN model")
    common = {**pick(r, "psi", "size", "noise_mode", "batch"), "model": model}
    if gen == "stylegan.walk":
        params = {**common, **pick(r, "mode", "space", "seconds", "seconds_per_keyframe", "keyframes", "loop",
                                   "start_segment", "constant_speed", "bends", "fps")}
        mode = params.get("mode", "endless")  # a recipe records every key; the params take those of its mode
        return gen, {k: v for k, v in params.items() if WALK_MODE_ONLY.get(k, mode) == mode}
    if gen == "stylegan.mix":
        return gen, {**common, **pick(r, "row_seeds", "col_seeds", "bends"), "layers": r.get("layer_name", "coarse")}
    if gen == "stylegan.bend":
        if not r.get("bends"):
            raise CannotVary("its recipe holds no bends")
        return gen, {**common, "bends": r["bends"], "seeds": [seed]}
    if gen == "stylegan.project":
        if not isinstance(r.get("w"), list):
            raise CannotVary("its recipe holds no projected w")
        return gen, {**common, **pick(r, "w", "ws", "wplus", "target")}
    if gen == "stylegan.uncanny":
        return gen, {**common, **pick(r, "steps", "snapshot_every", "lr", "seeds", "fps", "seconds_per_snapshot")}
    raise CannotVary(f"{gen} works have no latent position this tool knows")


def _seed_of(recipe: dict[str, Any]) -> int | None:
    keys = recipe.get("keyframes")
    if isinstance(keys, list) and keys and isinstance(keys[0], int):
        return int(keys[0])
    return int(recipe["seed"]) if isinstance(recipe.get("seed"), int) else None


def between_plan(a: Work, b: Work, steps: int) -> tuple[str, dict[str, Any]] | None:
    """Two StyleGAN works of one checkpoint (not projections, whose seed is not their latent): a
    ``stylegan.walk`` chain from A's keyframe seed to B's."""
    ra, rb = a.recipe, b.recipe
    if "stylegan.project" in (ra.get("generator"), rb.get("generator")):
        return None
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
