"""Many screens, one clock: three real `gallery show --sync` processes on 127.0.0.1 recording the same
programme headless; every recorded frame carries the shared frame number it was drawn for and the
observer's clock (installation.watermark), read back from the recordings to measure the offsets."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from installation.sync_measure import first_in_sync, offsets, percentiles, read_track, same_pictures
from tests.installation.sync_helpers import fill_catalogue, free_ports, spawn, wait_all, write_config

pytestmark = [pytest.mark.gl, pytest.mark.slow]
FPS = 30


def wait_running(data_dir: Path, names: list[str], timeout: float = 40.0) -> None:
    """Until each screen has written its first heartbeat (it is drawing)."""
    files = [data_dir / "show" / ("status.json" if n == "left" else f"status-{n}.json") for n in names]
    end = time.monotonic() + timeout
    while time.monotonic() < end and not all(f.exists() for f in files):
        time.sleep(0.1)
    assert all(f.exists() for f in files), [str(f) for f in files if not f.exists()]


def logs(tmp: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(tmp.glob("*.log")))


def test_three_screens_in_lockstep_with_skew_and_a_programme_change(catalogue, data_dir, tmp_path):
    """A follower 200 ms fast from the start, another stepped 200 ms slow mid-run, a new work added
    mid-run (a new version: every screen switches at the same frame); all mirror the leader."""
    from generator.samples import image_draft

    fill_catalogue(catalogue, tmp_path)
    cfg = write_config(tmp_path, data_dir)
    out = {n: tmp_path / f"{n}.mkv" for n in ("left", "centre", "right")}
    procs = [spawn(cfg, "left", "leader", out["left"], 14),
             spawn(cfg, "centre", "follower", out["centre"], 14, skew_ms=200),
             spawn(cfg, "right", "follower", out["right"], 14, skew_ms=-200, skew_after=6)]
    try:
        wait_running(data_dir, ["left", "centre", "right"])
        time.sleep(2.0)
        catalogue.add(image_draft(99, size=64, title="Late arrival"))  # the leader's next read: a new version
        codes = wait_all(procs, 120)
    finally:
        for p in procs:
            p.kill()
    assert codes == [0, 0, 0], logs(tmp_path)
    tr = {n: read_track(p, keep_pictures=True) for n, p in out.items()}
    for n, t in tr.items():
        assert len(t.frames) > 150 and t.unreadable <= 2, (n, len(t.frames), t.unreadable)
    # the clocks agree within a frame (frames a busy machine drew late left out: see sync_measure.late) ...
    fast = percentiles(offsets(tr["left"], tr["centre"], FPS, skip_late=True))
    assert fast["p99"] <= 1.0, fast
    # ... and all frames but a few held up by the machine are within a frame of the leader's
    raw = abs(offsets(tr["left"], tr["centre"], FPS))
    assert (raw <= 1.0).mean() >= 0.95, percentiles(raw)
    # the slow step: let the filter see it (3 exchanges) and count from then on
    step_ms = min(ms for ms, _, _ in tr["right"].frames.values()) + 6000
    slow = percentiles(offsets(tr["left"], tr["right"], FPS, since_ms=step_ms + 1500, skip_late=True))
    assert slow["n"] > 60 and slow["p99"] <= 1.0, slow
    stepped = offsets(tr["left"], tr["right"], FPS)
    assert (abs(stepped) > 3.0).sum() >= 3  # the step did happen (6 frames) before it was pulled in
    # the same pictures at the same frame numbers; a frame apart they differ (the test can fail)
    n_same, worst = same_pictures(tr["left"], tr["centre"])
    assert n_same > 150 and worst < 4.0, worst
    shifted = type(tr["centre"])({}, 0, {n + 15: p for n, p in tr["centre"].pictures.items()})
    assert same_pictures(tr["left"], shifted)[1] > 10.0
    # the new version starts on the same frame on every screen
    switch = {}
    for n, t in tr.items():
        nibbles = [(f, tag >> 4) for f, (_, tag, _) in sorted(t.frames.items())]
        changes = [f for (f0, a), (f, b) in zip(nibbles, nibbles[1:], strict=False) if a != b]
        assert len(changes) == 1, (n, changes)
        switch[n] = changes[0]
    assert len(set(switch.values())) == 1, switch


def test_follower_killed_and_restarted_rejoins(catalogue, data_dir, tmp_path):
    fill_catalogue(catalogue, tmp_path)
    cfg = write_config(tmp_path, data_dir)
    lead = spawn(cfg, "left", "leader", tmp_path / "left.mkv", 16)
    first = spawn(cfg, "right", "follower", tmp_path / "right1.mkv", 16)
    again = None
    try:
        wait_running(data_dir, ["left", "right"])
        time.sleep(1.0)
        first.send_signal(signal.SIGKILL)
        first.wait()
        started_ms = time.time() * 1000
        again = spawn(cfg, "right", "follower", tmp_path / "right2.mkv", 5)
        codes = wait_all([again, lead], 90)
    finally:
        for p in (lead, first, again):
            if p is not None:
                p.kill()
    assert codes == [0, 0], logs(tmp_path)
    left, right = read_track(tmp_path / "left.mkv"), read_track(tmp_path / "right2.mkv")
    first_frame = min(ms for ms, _, _ in right.frames.values())
    joined = first_in_sync(left, right, FPS)
    assert joined is not None, percentiles(offsets(left, right, FPS))
    # its first drawn frame is already on the shared clock (rejoined as soon as it draws)
    assert joined - first_frame < 200, (joined - first_frame)
    print(f"restart -> first frame {first_frame - started_ms:.0f} ms, -> in sync {joined - started_ms:.0f} ms")
    st = percentiles(offsets(left, right, FPS, skip_late=True))
    assert st["p99"] <= 1.0, st


def test_leader_killed_a_successor_takes_over(catalogue, data_dir, tmp_path):
    fill_catalogue(catalogue, tmp_path)
    http = free_ports(1)[0]
    cfg = write_config(tmp_path, data_dir, leader_http=http)
    out = {n: tmp_path / f"{n}.mkv" for n in ("left", "centre", "right")}
    procs = {"left": spawn(cfg, "left", "leader", out["left"], 30),
             "centre": spawn(cfg, "centre", "follower", out["centre"], 12),
             "right": spawn(cfg, "right", "follower", out["right"], 12)}
    try:
        wait_running(data_dir, ["left", "centre", "right"])
        time.sleep(2.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/api/v1/status", timeout=5) as r:
            st = json.loads(r.read())
        procs["left"].send_signal(signal.SIGKILL)
        killed_ms = time.time() * 1000
        codes = wait_all([procs["centre"], procs["right"]], 90)
    finally:
        for p in procs.values():
            p.kill()
    assert codes == [0, 0], logs(tmp_path)
    assert {s["screen"] for s in st["screens"]} == {"left", "centre", "right"}, st["screens"]
    assert all(not s.get("lost") for s in st["screens"])
    centre, right = read_track(out["centre"]), read_track(out["right"])
    tags = sorted((ms, tag & 0xF) for ms, tag, _ in right.frames.values())
    assert any(t == 1 for ms, t in tags if ms < killed_ms)  # led by left (screen 1) before
    took_over = [ms for ms, t in tags if ms > killed_ms and t == 2]  # then by centre (screen 2)
    assert took_over, tags[-5:]
    handover = took_over[0] - killed_ms
    print(f"hand-over {handover:.0f} ms")
    assert handover < 3000
    # the followers drew on from their clocks: no gap, and in step with each other after the hand-over
    times = [ms for ms, _ in tags]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) < 500, max(gaps)
    after = percentiles(offsets(centre, right, FPS, since_ms=int(killed_ms), skip_late=True))
    assert after["n"] > 60 and after["p99"] <= 1.0, after
