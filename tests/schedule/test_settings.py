"""The `schedule` section: windows, job entries, and the reasons a bad programme is refused."""

from __future__ import annotations

import pytest

from gallery.config import load_settings
from gallery.errors import ConfigError


def _load(tmp_path, text: str):
    p = tmp_path / "config.yaml"
    p.write_text(f"data_dir: {tmp_path / 'd'}\nschedule:\n{text}")
    return load_settings(p, environ={})


GOOD = """
  timezone: Europe/Paris
  windows:
    - name: night
      start: "22:00"
      end: "07:00"
      days: mon-fri
      max_jobs: 100
      jobs:
        - {kind: procedural.images, count: 2, params: {count: 3}}
        - kind: noop
          weight: 3
          prompt_templates: ["a {mood} face of {who}"]
          vocabulary: {mood: [calm, uncanny], who: [a child, a saint]}
        - {kind: "schedtestjobs:pair_echo", pair_with: previous_visual}
    - name: hourly
      cron: "*/30 * * * *"
      duration_minutes: 10
      jobs: [{kind: noop}]
"""


def test_good_programme_loads(tmp_path):
    s = _load(tmp_path, GOOD).schedule
    night, hourly = s.windows
    assert night.minutes == 9 * 60  # wraps past midnight
    assert hourly.minutes == 10
    assert [e.effective_weight for e in night.jobs] == [0.0, 3.0, 1.0]
    assert s.window("hourly") is hourly


@pytest.mark.parametrize(("text", "words"), [
    ("  windows: [{name: a, start: '22:00', end: '07:00', jobs: [{kind: stylegan.nonsense}]}]",
     ["stylegan.nonsense", "unknown job kind", "procedural.images"]),
    ("  windows: [{name: a, start: '25:00', end: '07:00', jobs: [{kind: noop}]}]", ["'25:00'", "HH:MM"]),
    ("  windows: [{name: a, start: '22:00', end: '22:00', jobs: [{kind: noop}]}]", ["same time"]),
    ("  windows: [{name: a, start: '22:00', jobs: [{kind: noop}]}]", ["end (HH:MM) or duration_minutes"]),
    ("  windows: [{name: a, cron: '0 99 * * *', duration_minutes: 5, jobs: [{kind: noop}]}]", ["cron '0 99 * * *'"]),
    ("  windows: [{name: a, start: '22:00', end: '07:00', days: 'funday', jobs: [{kind: noop}]}]", ["days 'funday'"]),
    ("  windows: [{name: a, start: '22:00', end: '07:00', jobs: []}]", ["windows.0.jobs"]),
    ("  windows: [{name: a, start: '22:00', end: '07:00', jobs: [{kind: noop, count: 2, weight: 1}]}]",
     ["either count or weight"]),
    (("  windows: [{name: a, start: '22:00', end: '07:00', jobs: [{kind: noop, prompt_templates: ['{x} {y}'],"
     " vocabulary: {x: [a]}}]}]"), ["uses y"]),
    ("  windows: [{name: a, start: '22:00', end: '07:00', jobs: [{kind: noop, params: {seed: 3}}]}]",
     ["put the seed in `seed`"]),
    ("  timezone: Mars/Olympus\n", ["unknown time zone 'Mars/Olympus'"]),
    (("  windows: [{name: a, start: '1:00', end: '2:00', jobs: [{kind: noop}]},"
     " {name: a, start: '3:00', end: '4:00', jobs: [{kind: noop}]}]"), ["unique: a"]),
    ("  retention: {keep_one_in: 0}\n", ["schedule.retention.keep_one_in"]),
    ("  bogus: 1\n", ["schedule.bogus", "unknown key"]),
])
def test_bad_programme_is_refused_with_reason(tmp_path, text, words):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    msg = str(err.value)
    assert "config.yaml" in msg
    for w in words:
        assert w in msg


def test_every_job_kind_in_the_registry_is_accepted(tmp_path):
    import json

    from generator.job_params import REQUIRED_EXAMPLES
    from generator.registry import kinds

    jobs = ", ".join(f"{{kind: {k!r}, params: {json.dumps(REQUIRED_EXAMPLES.get(k, {}))}}}" for k in kinds())
    s = _load(tmp_path, f"  windows: [{{name: a, start: '22:00', end: '07:00', jobs: [{jobs}]}}]").schedule
    assert [e.kind for e in s.windows[0].jobs] == kinds()
