"""`gallery demo` step: one small text-steered progression with the shipped tiny models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gallery.demo import DemoContext

DEMO_PROMPT = "a large red circle in the centre on a yellow background ^ a large blue star on a white background"


def progression_step(dc: DemoContext) -> dict[str, Any]:
    from generator.jobs import JobContext, JobSpec
    from generator.run import execute_run

    iterations = 40 if dc.quick else 100
    params = {"prompt": DEMO_PROMPT, "iterations": iterations, "size": 64, "cutouts": 8,
              "snapshots": [0, iterations // 4, iterations // 2, iterations], "video": True}
    spec = JobSpec(kind="vqclip.progression", params=params, seed=7)
    ids = execute_run(spec, JobContext(settings=dc.settings, catalogue=dc.catalogue, workdir=dc.out_dir, seed=7))
    art = dc.catalogue.get(ids[0])
    return {"artworks": ids, "prompt": DEMO_PROMPT, "iterations": iterations,
            "seconds": art.extra.get("seconds") if art is not None else None}
