"""`gallery demo`'s scheduler step: one short window, each job in a worker process."""

from __future__ import annotations

from typing import Any

from generator.schedule.windows import run_once

# Cheap generator entries the demo's window adds when their kinds are registered in generator.registry: a short
# walk, then a melody and a soundscape paired to it (the overnight programme in miniature).
DEMO_GENERATOR_JOBS: list[dict[str, Any]] = [
    {"kind": "stylegan.walk", "count": 1, "params": {"seconds": 2, "fps": 8}},
    {"kind": "musicvae.sample", "count": 1, "pair_with": "previous_visual", "pair_kinds": ["walk"]},
    {"kind": "lts.soundscape", "count": 1, "pair_with": "previous_visual", "pair_kinds": ["walk"],
     "pair_param": "visual_id", "params": {"mode": "timeline"}},
]


def schedule_step(dc: Any) -> dict[str, Any]:
    """`gallery demo`: schedule one short window (procedural images, a no-op, a walk with a melody and a
    soundscape paired to it) and run it, each job in a worker process as the nightly daemon does."""
    from generator import registry

    jobs: list[dict[str, Any]] = [
        {"kind": "procedural.images", "name": "demo-images", "count": 2,
         "params": {"count": 2 if dc.quick else 3, "size": 128}},
        {"kind": "noop", "name": "demo-noop", "count": 1},
    ]
    jobs += [dict(e) for e in DEMO_GENERATOR_JOBS if e["kind"] in registry.KINDS]
    data = dc.settings.model_dump(mode="json")
    data["schedule"] = dict(data["schedule"], windows=[{"name": "demo", "cron": "* * * * *",
                                                        "duration_minutes": 2, "seed": 1, "jobs": jobs}])
    settings = type(dc.settings).model_validate(data)
    rep = run_once(settings, dc.catalogue, "demo", minutes=1.5 if dc.quick else 2)
    s = rep.summary()
    return {"window": "demo", "jobs": s["jobs"], "states": s["states"], "artworks": s["artworks"],
            "runs": [o.run_id for o in rep.outcomes], "seconds_per_job": round(
                sum(o.wall_s for o in rep.outcomes) / max(1, len(rep.outcomes)), 2)}
