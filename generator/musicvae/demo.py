"""`gallery demo` step: an interpolation between two held-out corpus reels, rendered to audio."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gallery.demo import DemoContext

from catalogue.models import VIDEO_KINDS

log = logging.getLogger(__name__)

# Two reels from Ryan's Mammoth Collection (music21 corpus) that the shipped models never trained on
# (both fall in the held-out split by piece).
DEMO_A = "corpus:ryansMammoth/BunchOfRosesReel"
DEMO_B = "corpus:ryansMammoth/LordGordonsReel"


def interpolation_step(dc: DemoContext) -> dict[str, Any]:
    from gallery.errors import BadInput
    from generator.jobs import JobContext, JobSpec
    from generator.run import execute_run

    # The 2-bar model reconstructs melodies most faithfully (see bench/musicvae.py), so the demo plays
    # the opening two bars of each reel and the steps between them.
    params: dict[str, Any] = {"a": DEMO_A, "b": DEMO_B, "bars": 2, "steps": 5 if dc.quick else 9,
                              "instrument": "Violin", "tempo": 120.0}
    visual = dc.catalogue.page(kind=list(VIDEO_KINDS), limit=1)
    ctx = JobContext(settings=dc.settings, catalogue=dc.catalogue, workdir=dc.out_dir / "musicvae", seed=3)
    ids: list[int] = []
    if visual and visual[0].duration:
        try:  # paired with the newest time-based visual: the melody takes its duration
            ids = execute_run(JobSpec(kind="musicvae.interpolate", params=params | {"pair_with": visual[0].id},
                                  seed=3), ctx)
        except BadInput as e:
            log.info("melody not paired with artwork %s: %s", visual[0].id, e)
    if not ids:
        ids = execute_run(JobSpec(kind="musicvae.interpolate", params=params, seed=3), ctx)
    art = dc.catalogue.get(ids[0])
    audio = next(m for m in art.media if m.role == "audio")
    return {"melody": ids[0], "steps": params["steps"], "seconds": round(art.duration, 1),
            "audio": str(dc.catalogue.media_path(audio)),
            "paired_with": visual[0].id if visual and art.recipe.get("tempo") != params["tempo"] else None}
