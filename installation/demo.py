"""The demo's last step: a 20-second preview recording of the show of the demo catalogue."""

from __future__ import annotations

from typing import Any

PREVIEW_SECONDS = 20.0


def preview_step(dc: Any) -> dict[str, Any]:
    """Record what visitors would see and hear (640x360, H.264 + AAC) into <demo dir>/show-preview.mp4."""
    from installation.record import record_show
    from installation.settings import ShowSettings

    base = dc.settings.show.model_dump()
    # A preview: every work gets a few seconds, whatever the opening hours; no heartbeat port.
    short = {k: min(v, 5.0) for k, v in base["durations"].items()}
    ss = ShowSettings(**{**base, "durations": short, "default_duration": min(base["default_duration"], 5.0),
                         "transition_seconds": min(base["transition_seconds"], 1.0), "opening_hours": {},
                         "label_seconds": min(base["label_seconds"], 2.0), "http_port": 0})
    ss = _from_curated_set(ss, dc)
    out = dc.out_dir / "show-preview.mp4"
    res = record_show(ss, dc.catalogue, out, PREVIEW_SECONDS, width=640, height=360, fps=15 if dc.quick else 24)
    return {"preview": str(out), "frames": res.frames, "items": res.status["items_started"],
            "skipped": res.status["skipped"], "programme": res.status.get("programme")}


def _from_curated_set(ss: Any, dc: Any) -> Any:
    """With the curation step's set, the preview plays a programme of that set, in its curated order."""
    cid = ((getattr(dc, "results", None) or {}).get("curation") or {}).get("set")
    if not cid:
        return ss
    from installation.programme_settings import ProgrammeSpec

    # Caps, so that 20 seconds show several works of the set (a 36 s melody would hold the whole preview).
    spec = ProgrammeSpec(set=cid, still_seconds=4.0, sound_seconds=6.0)
    return ss.model_copy(update={"programmes": {**ss.programmes, "demo set": spec},
                                 "programme": "demo set", "timetable": []})
