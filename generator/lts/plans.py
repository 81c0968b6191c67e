"""Which soundscapes can be varied, read from their recipes (torch-free; see generator.registry)."""

from __future__ import annotations

from typing import Any

from generator.registry import CannotVary, pick


def variation_plan(r: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Around its anchors (sounds of the anchor set, not files outside the catalogue)."""
    base = pick(r, "mode", "iterations", "loop", "duration")
    sources = [r.get("a"), r.get("b")] if r.get("mode", "between") == "between" else list(r.get("anchors") or [])
    if not sources or not all(isinstance(s, dict) and s.get("name") for s in sources):
        raise CannotVary("its recipe names no anchor sounds")
    files = [s["name"] for s in sources if s.get("sha256")]
    if files:
        raise CannotVary(f"its sources {files} were audio files outside the catalogue, not anchors")
    if base.get("mode", "between") == "between":
        return "lts.soundscape", {**base, "a": sources[0]["name"], "b": sources[1]["name"], **pick(r, "curve", "interp")}
    base.pop("duration", None)  # a timeline soundscape takes the visual's (recorded, not a parameter)
    return "lts.soundscape", {**base, "anchors": [s["name"] for s in sources], **pick(r, "visual_id", "timeline")}
