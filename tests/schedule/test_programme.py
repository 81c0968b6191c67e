"""Window times (fake clock, no waiting) and the deterministic programme of slots."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from generator.schedule.calendar import current_occurrence, next_occurrences
from generator.schedule.plan import counted_order, job_spec, plan_slot
from generator.schedule.settings import Window


def _w(**kw) -> Window:
    base = {"name": "night", "start": "22:00", "end": "07:00", "jobs": [{"kind": "noop"}]}
    return Window.model_validate({**base, **kw})


def at(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def test_occurrence_wraps_past_midnight():
    w = _w()
    assert current_occurrence(w, at(2026, 3, 2, 23, 0), UTC) == (at(2026, 3, 2, 22), at(2026, 3, 3, 7))
    assert current_occurrence(w, at(2026, 3, 3, 6, 59), UTC) == (at(2026, 3, 2, 22), at(2026, 3, 3, 7))
    assert current_occurrence(w, at(2026, 3, 2, 22, 0), UTC)[0] == at(2026, 3, 2, 22)
    assert current_occurrence(w, at(2026, 3, 3, 7, 0), UTC) is None  # the end is exclusive
    assert current_occurrence(w, at(2026, 3, 3, 12, 0), UTC) is None


def test_days_and_cron():
    weekdays = _w(days="mon-fri")
    # 2026-03-07 is a Saturday: Friday's window runs into Saturday morning, none opens on Saturday night.
    assert current_occurrence(weekdays, at(2026, 3, 7, 3, 0), UTC)[0] == at(2026, 3, 6, 22)
    assert current_occurrence(weekdays, at(2026, 3, 7, 23, 0), UTC) is None
    nxt = next_occurrences(weekdays, at(2026, 3, 6, 23, 0), UTC, 2)
    assert [a for a, _ in nxt] == [at(2026, 3, 9, 22), at(2026, 3, 10, 22)]
    half_hourly = Window.model_validate({"name": "h", "cron": "*/30 * * * *", "duration_minutes": 10,
                                         "jobs": [{"kind": "noop"}]})
    assert current_occurrence(half_hourly, at(2026, 3, 2, 10, 35), UTC) == (at(2026, 3, 2, 10, 30),
                                                                             at(2026, 3, 2, 10, 40))
    assert current_occurrence(half_hourly, at(2026, 3, 2, 10, 45), UTC) is None


def test_counted_entries_interleave_then_weighted_draws_follow():
    w = _w(jobs=[{"kind": "procedural.images", "name": "walk", "count": 3},
                 {"kind": "noop", "name": "sound", "count": 2},
                 {"kind": "noop", "name": "a", "weight": 3},
                 {"kind": "noop", "name": "b", "weight": 1}])
    assert [e.label for e in counted_order(w)] == ["walk", "sound", "walk", "sound", "walk"]
    slots = [plan_slot(w, "occ", i) for i in range(4005)]
    assert [s.entry.label for s in slots[:5]] == ["walk", "sound", "walk", "sound", "walk"]
    drawn = Counter(s.entry.label for s in slots[5:])
    assert set(drawn) == {"a", "b"}
    assert 0.72 < drawn["a"] / 4000 < 0.78  # weights 3:1
    # Deterministic: a restarted scheduler plans the same slot with the same seed; another night differs.
    again = plan_slot(w, "occ", 1234)
    assert (again.entry.label, again.seed) == (slots[1234].entry.label, slots[1234].seed)
    assert [plan_slot(w, "other", i).seed for i in range(5)] != [s.seed for s in slots[:5]]


def test_programme_ends_with_counts_or_max_jobs():
    only_counted = _w(jobs=[{"kind": "noop", "count": 2}])
    assert plan_slot(only_counted, "o", 1) is not None
    assert plan_slot(only_counted, "o", 2) is None
    capped = _w(max_jobs=3, jobs=[{"kind": "noop", "weight": 1}])
    assert plan_slot(capped, "o", 2) is not None
    assert plan_slot(capped, "o", 3) is None


def test_prompts_and_templates_and_fixed_seed():
    w = _w(jobs=[{"kind": "noop", "count": 50, "prompt_templates": ["a {mood} face of {who}"], "seed": 7,
                  "prompt_param": "text", "vocabulary": {"mood": ["calm", "uncanny"], "who": ["x", "y"]}}])
    slots = [plan_slot(w, "o", i) for i in range(50)]
    prompts = {s.prompt for s in slots}
    assert prompts == {f"a {m} face of {x}" for m in ("calm", "uncanny") for x in ("x", "y")}
    assert {s.seed for s in slots} == {7}
    spec = job_spec(slots[0], pair_with=12)
    assert spec["params"]["text"] == slots[0].prompt and spec["params"]["pair_with"] == 12
    assert spec["seed"] == 7 and spec["kind"] == "noop"
    lts = _w(jobs=[{"kind": "noop", "pair_with": "previous_visual", "pair_param": "visual_id",
                    "params": {"mode": "timeline"}}])
    assert job_spec(plan_slot(lts, "o", 0), pair_with=5)["params"] == {"mode": "timeline", "visual_id": 5}
    listed = _w(jobs=[{"kind": "noop", "count": 40, "prompts": ["one", "two"]}])
    assert {plan_slot(listed, "o", i).prompt for i in range(40)} == {"one", "two"}


def test_windows_across_daylight_saving_changes():
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    w = _w()
    # Clocks go forward on 2026-03-29 (01:00 GMT -> 02:00 BST): 22:00 to 07:00 is 8 real hours.
    start, end = current_occurrence(w, datetime(2026, 3, 28, 23, 0, tzinfo=london), london)
    assert start == datetime(2026, 3, 28, 22, 0, tzinfo=london)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 8 * 3600
    assert current_occurrence(w, datetime(2026, 3, 29, 6, 30, tzinfo=UTC), london) is None  # 07:30 BST
    # Clocks go back on 2026-10-25 (02:00 BST -> 01:00 GMT): 10 real hours, and the repeated hour is inside.
    start, end = current_occurrence(w, datetime(2026, 10, 25, 0, 30, tzinfo=UTC), london)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 10 * 3600
    assert current_occurrence(w, datetime(2026, 10, 25, 6, 59, tzinfo=UTC), london) is not None  # 06:59 GMT
    # A duration is elapsed time, whatever the clocks do.
    cron = Window.model_validate({"name": "c", "cron": "0 22 * * *", "duration_minutes": 540, "jobs": [{"kind": "noop"}]})
    s2, e2 = current_occurrence(cron, datetime(2026, 3, 28, 23, 0, tzinfo=london), london)
    assert (e2 - s2.astimezone(UTC)).total_seconds() == 540 * 60
