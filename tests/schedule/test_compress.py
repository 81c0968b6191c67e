"""A programme in miniature (`gallery schedule once` by default): same entries, order and pairing; fewer,
smaller jobs. And what `gallery schedule once` says it will do and did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_shipped_programme import shipped_settings

from gallery.errors import BadInput
from generator.schedule.plan import (
    Compression,
    compress_params,
    compress_settings,
    compress_window,
    counted_order,
)
from generator.schedule.settings import Window

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_night_in_miniature_keeps_its_order_and_pairing(tmp_path):
    night = shipped_settings(tmp_path).schedule.windows[0]
    for rounds in (1, 2, 3):
        comp = Compression(rounds=rounds)
        small = compress_window(night, comp)
        order = [e.label for e in counted_order(small)]
        # the same interleaving as the night's first rounds: each sound right after its walk
        assert order == [e.label for e in counted_order(night)][:len(order)]
        assert len(order) == sum(min(e.count, rounds) for e in night.jobs if e.count)
        weighted = [e for e in night.jobs if e.count is None]
        assert small.max_jobs == min(night.max_jobs, len(order) + rounds * len(weighted))
        for big, e in zip(night.jobs, small.jobs, strict=True):
            assert (e.kind, e.pair_with, e.pair_param, e.pair_kinds, e.weight) == \
                (big.kind, big.pair_with, big.pair_param, big.pair_kinds, big.weight)
            assert set(e.params) == set(big.params)
            for k, v in e.params.items():
                limit = comp.caps().get(k)
                if limit is None or not isinstance(v, int | float) or isinstance(v, bool):
                    assert v == big.params[k]  # e.g. mode: timeline stays
                else:
                    assert v == min(big.params[k], limit) and type(v) is type(big.params[k])
    assert night.jobs[0].params["seconds"] == 30  # the window itself is untouched


def test_compressed_params_and_limits():
    comp = Compression(rounds=1, seconds=3.0, size=48, count=2, iterations=10, fps=6)
    params = {"seconds": 30, "duration": 12.5, "size": 512, "width": 20, "count": 9, "iterations": 500,
              "fps": 24, "loop": True, "mode": "timeline", "steps": 7, "seconds_per_keyframe": 5.0, "prompt": "x"}
    out = compress_params(params, comp)
    assert out == {"seconds": 3, "duration": 3.0, "size": 48, "width": 20, "count": 2, "iterations": 10, "fps": 6,
                   "loop": True, "mode": "timeline", "steps": 7, "seconds_per_keyframe": 1.5, "prompt": "x"}
    few = Window.model_validate({"name": "w", "start": "22:00", "end": "23:00", "max_jobs": 2,
                                 "jobs": [{"kind": "noop", "count": 5}, {"kind": "noop", "weight": 1}]})
    assert compress_window(few, Compression(rounds=3)).max_jobs == 2  # never more than the window allows
    for bad in ({"rounds": 0}, {"seconds": 0}, {"size": 8}, {"count": 0}):
        with pytest.raises(BadInput, match="compression"):
            Compression(**bad)


def test_compressed_settings_make_small_defaults(settings):
    settings.stylegan.render_size = 0
    settings.vqclip.iterations = 500
    settings.vqclip.snapshots = [0, 100, 250, 500]
    small = compress_settings(settings, Compression(seconds=4.0, size=64, iterations=20, fps=8))
    assert small.stylegan.walk_seconds == min(settings.stylegan.walk_seconds, 4.0)
    assert small.stylegan.render_size == 64 and small.stylegan.fps <= 8
    assert small.vqclip.iterations == 20 and small.vqclip.snapshots == [0, 4, 10, 20]
    assert small.lts.duration == 4.0 and small.vqclip.size <= 64
    assert settings.stylegan.render_size == 0 and settings.vqclip.iterations == 500  # the original is untouched


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gallery.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_once_says_what_it_will_do_and_what_it_did(tmp_path, data_dir):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"data_dir": str(data_dir), "catalogue": {"fsync": False}, "schedule": {
        "timezone": "UTC", "min_free_disk_mb": 0, "windows": [
            {"name": "night", "start": "22:00", "end": "07:00", "max_jobs": 400,
             "jobs": [{"kind": "procedural.images", "count": 40, "params": {"count": 4, "size": 512}},
                      {"kind": "schedtestjobs:boom", "count": 40}, {"kind": "noop", "weight": 1}]}]}}))
    # bare: the programme in miniature (one round, small works), not the 9-hour window
    r = _cli(cfg, "schedule", "once", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["mode"] == "preview" and out["jobs"] == 3 and out["stopped_by"] == "max_jobs"
    assert (out["done"], out["failed"], out["skipped"]) == (2, 1, 0)
    assert out["artworks"] == 2  # procedural.images count 4 -> 2
    assert "in miniature" in r.stderr and "540 min" in r.stderr and "--full" in r.stderr
    # human output: the plan first, a line per run, then the totals and where to read the failure
    r = _cli(cfg, "schedule", "once", "--rounds", "2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("window night in miniature") and "4 counted jobs" in lines[0]
    assert "window night (preview): 6 runs: 4 done, 2 failed, 0 skipped; 4 artworks" in r.stdout
    assert "(why: gallery runs --failed)" in lines[-1]
    r = _cli(cfg, "schedule", "once", "--full", "--minutes", "1")
    assert r.returncode == 2 and "--full runs the whole window" in r.stderr
    r = _cli(cfg, "schedule", "once", "--minutes", "0.1", "--json")  # as configured, bounded
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["mode"] == "minutes" and "as configured, for at most 0.1 min" in r.stderr
    assert out["stopped_by"] == "window ended"
