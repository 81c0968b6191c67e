"""Which melodies can be varied and walked between, read from their recipes (torch-free; see generator.registry)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from generator.registry import CannotVary, pick

if TYPE_CHECKING:
    from generator.registry import Work


def variation_plan(r: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A melody's z, or the events it encoded (an interpolation's ends, an attribute's melody)."""
    base = pick(r, "bars", "temperature", "instrument", "tempo")
    op = r.get("op")
    if op == "sample" and isinstance(r.get("z"), list):
        return "musicvae.sample", {**base, "z": [r["z"]]}
    if op == "interpolate" and all(isinstance((r.get(k) or {}).get("events"), list) for k in ("a", "b")):
        return "musicvae.interpolate", {**base, "a": r["a"]["events"], "b": r["b"]["events"], **pick(r, "steps")}
    if op == "attribute" and isinstance((r.get("melody") or {}).get("events"), list):
        return "musicvae.attribute", {**base, "melody": r["melody"]["events"], **pick(r, "attribute", "amounts")}
    raise CannotVary(f"its recipe (op {op!r}) holds no melody latent (z, or the events it encoded)")


def between_plan(a: Work, b: Work, steps: int) -> tuple[str, dict[str, Any]] | None:
    """Two melodies: ``musicvae.interpolate`` between them (a, b = artwork:ID)."""
    if not a.kind == b.kind == "melody":
        return None
    params: dict[str, Any] = {"a": f"artwork:{a.id}", "b": f"artwork:{b.id}", "steps": min(steps, 64)}
    if a.recipe.get("bars"):
        params["bars"] = a.recipe["bars"]
    return "musicvae.interpolate", params
