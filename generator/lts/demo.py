"""Demo step: a soundscape paired with the demo's walk (or the newest time-based visual, else the newest still)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gallery.demo import DemoContext

from catalogue.models import STILL_KINDS, VIDEO_KINDS


def _find_visual(dc: DemoContext) -> int | None:
    for res in dc.results.values():  # a walk made by an earlier step
        for key in ("walk", "walks", "walk_id"):
            v = res.get(key) if isinstance(res, dict) else None
            if isinstance(v, int):
                return v
            if isinstance(v, list) and v and isinstance(v[0], int):
                return v[0]
    for kinds in (("walk",), VIDEO_KINDS, STILL_KINDS):
        page = dc.catalogue.page(kind=list(kinds), limit=1)
        if page:
            return page[0].id
    return None


def soundscape_step(dc: DemoContext) -> dict[str, Any]:
    from generator.jobs import JobContext, JobSpec
    from generator.run import execute_run

    visual = _find_visual(dc)
    ctx = JobContext(settings=dc.settings, catalogue=dc.catalogue, workdir=dc.out_dir, seed=5)
    if visual is None:  # nothing visual to pair with: a free soundscape
        params: dict[str, Any] = {"mode": "between", "duration": 6.0 if dc.quick else 10.0,
                                  "curve": [[0, 0], [0.4, 0.1], [0.8, 1.0], [1, 1.2]]}
    else:
        dur = 6.0 if dc.quick else 10.0
        params = {"mode": "timeline", "visual_id": visual,
                  "timeline": {"duration": dur, "fps": None, "keyframe_times": [0.0, dur / 2]}}
    ids = execute_run(JobSpec(kind="lts.soundscape", params=params, seed=5), ctx)
    art = dc.catalogue.get(ids[0])
    out = dc.out_dir / "soundscape.wav"
    out.write_bytes(dc.catalogue.media_path(art.first_media("audio")).read_bytes())
    spec_png = dc.out_dir / "soundscape-spectrogram.png"
    spec_png.write_bytes(dc.catalogue.media_path(art.first_media("spectrogram")).read_bytes())
    return {"soundscape": ids[0], "paired_with": visual, "seconds": round(art.duration, 2), "wav": str(out)}
