"""`gallery schedule run` as a real process: SIGKILLed mid-window, restarted, jobs persisted, carries on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]


def _noon_zone(now: datetime) -> tuple[str, datetime]:
    """A fixed-offset zone in which ``now`` (UTC) is within an hour of noon, and ``now`` there: a window
    spelled HH:MM that opens now then never wraps past midnight, whenever the test runs."""
    hours = (12 - now.hour + 12) % 24 - 12  # -12 .. 11
    name = "UTC" if hours == 0 else f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}"  # Etc signs are inverted
    return name, now.astimezone(ZoneInfo(name))


def _config(tmp_path: Path, data_dir: Path, jobs: list[dict], start: datetime, minutes: int, zone: str) -> Path:
    end = start + timedelta(minutes=minutes)
    cfg = {"data_dir": str(data_dir), "catalogue": {"fsync": False},
           "schedule": {"timezone": zone, "min_free_disk_mb": 0, "kill_grace_s": 1,
                        "windows": [{"name": "open", "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
                                     "jobs": jobs}]}}
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _gallery(config: Path, *args: str, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.PIPE  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "gallery.cli", "--config", str(config), *args], cwd=REPO,
                            stdout=out, stderr=subprocess.STDOUT)


def _rows(data_dir: Path, sql: str) -> list[tuple]:
    eng = create_engine(f"sqlite:///{data_dir / 'catalogue.sqlite'}")
    try:
        with eng.connect() as c:
            return [tuple(r) for r in c.execute(text(sql))]
    except Exception:  # noqa: BLE001 - the daemon may not have created the tables yet
        return []
    finally:
        eng.dispose()


def _wait(pred, timeout: float, what: str):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_daemon_killed_mid_window_restarts_and_carries_on(tmp_path, data_dir):
    zone, now = _noon_zone(datetime.now(UTC))
    # Round-robin: slot 0 sleepy (the daemon is SIGKILLed), slot 1 noop, slot 2 sleepy (the daemon is SIGTERMed).
    jobs = [{"kind": "schedtestjobs:sleepy", "count": 2, "params": {"seconds": 300}},
            {"kind": "noop", "count": 1}]
    cfg = _config(tmp_path, data_dir, jobs, now - timedelta(minutes=1), 25, zone)
    log = tmp_path / "daemon.log"
    first = _gallery(cfg, "schedule", "run", log=log)
    try:
        running = _wait(lambda: _rows(data_dir, "select id, pid from run where state = 'running'"), 90,
                        f"the first job to run (log: {log.read_text() if log.exists() else ''})")
        stored = _rows(data_dir, "select id, next_run_time from apscheduler_jobs")
        assert [r[0] for r in stored] == ["window:open"]
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    worker_pid = running[0][1]
    _wait(lambda: not _alive(worker_pid), 10, "the orphaned worker to die with its scheduler")
    # The job store survived the kill; the next start is tomorrow's.
    (jid, next_run), = _rows(data_dir, "select id, next_run_time from apscheduler_jobs")
    assert jid == "window:open" and next_run > time.time() + 20 * 3600
    second = _gallery(cfg, "schedule", "run", log=log)
    try:
        _wait(lambda: _rows(data_dir, "select id from run where state = 'running' and id = 3"),
              120, f"the rest of the window (log: {log.read_text()})")
        second.send_signal(signal.SIGTERM)  # a clean stop while a job runs
        assert second.wait(30) == 0
    finally:
        if second.poll() is None:
            second.kill()
    rows = _rows(data_dir, "select state, job_kind, extra, error from run order by id")
    assert [r[0] for r in rows] == ["failed-interrupted", "done", "failed-interrupted"]
    assert [json.loads(r[2])["slot"] for r in rows] == [0, 1, 2]
    assert [r[1] for r in rows] == ["schedtestjobs:sleepy", "noop", "schedtestjobs:sleepy"]
    assert "stopped or the machine restarted" in rows[0][3]
    assert "the scheduler was stopped while the job ran" in rows[2][3]
    assert not list((data_dir / "runs").glob("*/partial.bin"))  # no half-made work left
    assert _rows(data_dir, "select id from apscheduler_jobs") == [("window:open",)]
