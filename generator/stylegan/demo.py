"""Demo step: a short endless walk through the shipped tiny face model, its next segment (which starts
exactly where the first ended), a walk through the model trained on real images (the Noto colour emoji,
``tiny-emoji64``), and one small amplified-uncanny progression."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gallery.demo import DemoContext


def demo_step(dc: DemoContext) -> dict[str, Any]:
    import torch

    from generator.jobs import JobContext, JobSpec
    from generator.run import execute_run

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fastest on a small shared CPU
    try:
        ctx = JobContext(settings=dc.settings, catalogue=dc.catalogue, workdir=dc.out_dir, seed=7)
        seconds = 4.0 if dc.quick else 8.0
        walk = {"model": "tiny-faces64", "mode": "endless", "seconds": seconds, "seconds_per_keyframe": 2.0}
        first = execute_run(JobSpec(kind="stylegan.walk", params=walk, seed=7), ctx)
        nxt = dc.catalogue.get(first[0]).recipe["next_segment"]
        second = execute_run(JobSpec(kind="stylegan.walk", params=dict(walk, start_segment=nxt), seed=7), ctx)
        emoji = execute_run(JobSpec(kind="stylegan.walk", params=dict(walk, model="tiny-emoji64"), seed=7), ctx)
        unc = execute_run(JobSpec(kind="stylegan.uncanny",
                              params={"model": "tiny-faces64", "steps": 24 if dc.quick else 60, "faces": 8,
                                      "snapshot_every": 6 if dc.quick else 10}, seed=7), ctx)
        scores = dc.catalogue.get(unc[0]).recipe["d_scores"]
    finally:
        torch.set_num_threads(threads)
    return {"walks": first + second, "emoji_walk": emoji, "uncanny": unc, "d_score_first": round(scores[0], 3),
            "d_score_last": round(scores[-1], 3)}
