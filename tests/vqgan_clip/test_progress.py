"""A progression reports its stages (models, every optimisation step, the video) through ctx.progress."""

from __future__ import annotations

from generator.jobs import JobContext, JobSpec
from generator.run import execute_run


def test_progression_reports_loading_every_step_and_the_video(settings, catalogue, tmp_path):
    calls: list[tuple[str, float, float | None]] = []
    ctx = JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "work",
                     progress=lambda stage, done, total=None, **f: calls.append((stage, done, total)))
    execute_run(JobSpec(kind="vqclip.progression", params={"prompt": "a red circle^a blue square", "iterations": 4,
                                                       "story_every": 2, "cutouts": 2, "size": 32}, seed=1), ctx)
    stages = []
    for s, _, _ in calls:
        if not stages or stages[-1] != s:
            stages.append(s)
    # the video is encoded while the loop runs (frame by frame), so no stage of its own follows it
    assert stages[:3] == ["loading CLIP and VQGAN", "optimising (2 story phases)", "saving to the catalogue"]
    steps = [(d, t) for s, d, t in calls if s == "optimising (2 story phases)"]
    assert steps == [(i, 4) for i in range(1, 5)]  # one report per iteration, up to the last
