"""`gallery schedule once|list|thin` and `gallery runs` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gallery.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def _config(tmp_path: Path, data_dir: Path, schedule: dict) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump({"data_dir": str(data_dir), "catalogue": {"fsync": False},
                                 "schedule": {"timezone": "UTC", "min_free_disk_mb": 0, **schedule}}))
    return p


def test_once_runs_and_runs_lists(tmp_path, data_dir):
    cfg = _config(tmp_path, data_dir, {"windows": [
        {"name": "night", "start": "22:00", "end": "07:00", "max_jobs": 3,
         "jobs": [{"kind": "procedural.images", "count": 1, "params": {"count": 2, "size": 32}},
                  {"kind": "schedtestjobs:boom", "count": 1}, {"kind": "noop", "weight": 1}]}]})
    r = _cli(cfg, "schedule", "once", "--minutes", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["jobs"] == 3 and out["states"] == {"done": 2, "failed": 1} and out["artworks"] == 2
    assert out["stopped_by"] == "max_jobs"
    r = _cli(cfg, "runs", "--json")
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)
    assert [x["state"] for x in runs] == ["done", "failed", "done"]  # newest first
    assert len(runs[2]["artwork_ids"]) == 2 and runs[2]["spec"]["kind"] == "procedural.images"
    r = _cli(cfg, "runs", "--failed")
    assert r.returncode == 0 and "ValueError" in r.stdout and r.stdout.count("\n") == 1
    r = _cli(cfg, "schedule", "list", "--json")
    listed = json.loads(r.stdout)
    assert listed["windows"][0]["window"] == "night" and len(listed["windows"][0]["next"]) == 3
    assert listed["windows"][0]["next"][0][0].endswith("22:00+00:00")
    r = _cli(cfg, "schedule", "thin")
    assert r.returncode == 0 and "would remove 0 artworks" in r.stdout


def test_bad_input_exits_2_with_the_reason(tmp_path, data_dir):
    cfg = _config(tmp_path, data_dir, {"windows": [{"name": "night", "start": "22:00", "end": "07:00",
                                                     "jobs": [{"kind": "noop"}]}]})
    r = _cli(cfg, "schedule", "once", "--window", "day")
    assert r.returncode == 2 and "no window 'day'" in r.stderr and "night" in r.stderr
    missing = _config(tmp_path, data_dir, {"windows": [{"name": "n", "start": "22:00", "end": "07:00",
                                                         "jobs": [{"kind": "nosuchmodule.x:run"}]}]})
    r = _cli(missing, "schedule", "once")
    assert r.returncode == 2 and "'nosuchmodule.x:run' cannot be imported" in r.stderr and "window 'n'" in r.stderr
    bad = _config(tmp_path, data_dir, {"windows": [{"name": "n", "start": "22:00", "end": "07:00",
                                                     "jobs": [{"kind": "stylegan.nope"}]}]})
    r = _cli(bad, "schedule", "list")
    assert r.returncode == 2 and "unknown job kind 'stylegan.nope'" in r.stderr
    empty = _config(tmp_path, data_dir, {})
    r = _cli(empty, "schedule", "once")
    assert r.returncode == 2 and "schedule.windows is empty" in r.stderr
