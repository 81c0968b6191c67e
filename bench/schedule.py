"""Scheduler benchmark: per-job overhead of the scheduler + worker, and jobs per hour of a mixed tiny programme.

Side by side with the obvious alternative, running each job in the scheduler's own process
(``execute_run``: no isolation, so a crash, an out-of-memory or a GPU error would take the scheduler
down). Rows:

- APScheduler dispatch: a DateTrigger job stored in the catalogue's SQLAlchemyJobStore, fired by a
  BackgroundScheduler; time from its run date to the call.
- noop in-process: run row + ``execute_run`` + row update, in this process.
- noop in a worker: the scheduler's real path (``run_window``: run row, worker process, wait, row
  update, work folder cleanup), per job, with ``worker_start: fork-server`` (a child forked from a
  process that imported the modules once) and ``fresh`` (``python -m generator.worker`` per job).
- mixed programme: a window of weighted draws run for ``--seconds`` each way; jobs/hour and
  artworks/hour. Its kinds: procedural.images (2 images of 256 px), noop, and every generator kind
  listed in BENCH_PARAMS that the job registry has when the bench runs (the table says which).

    .venv/bin/python bench/schedule.py [--jobs 10] [--seconds 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalogue import open_catalogue
from catalogue.models import Run, utcnow
from gallery.config import Settings, load_settings
from gallery.wiring import install as install_hooks
from generator import registry
from generator.jobs import JobContext, JobSpec
from generator.run import execute_run
from generator.schedule.calendar import SystemClock
from generator.schedule.plan import plan_slot
from generator.schedule.windows import run_window

# Tiny parameters of generator kinds for the mixed programme (used when the kind is registered).
BENCH_PARAMS: dict[str, dict[str, Any]] = {
    "procedural.images": {"count": 2, "size": 256},
    "noop": {},
    "stylegan.walk": {"seconds": 1, "fps": 8},
    "musicvae.sample": {"bars": 2},
    "lts.soundscape": {"mode": "between", "duration": 2.0},
}

_fired: list[float] = []
_done = threading.Event()


def _mark(expected: int) -> None:
    _fired.append(time.time())
    if len(_fired) >= expected:
        _done.set()


def settings_in(tmp: Path, windows: list[dict[str, Any]] | None = None, worker_start: str = "fork-server") -> Settings:
    base = load_settings(None, environ={}, overrides={"data_dir": str(tmp), "catalogue": {"fsync": False}})
    data = base.model_dump(mode="json")
    data["schedule"] = {"timezone": "UTC", "min_free_disk_mb": 0, "windows": windows or [],
                        "worker_start": worker_start}
    return Settings.model_validate(data)


def apscheduler_dispatch(tmp: Path, n: int) -> list[float]:
    from apscheduler.triggers.date import DateTrigger

    from generator.schedule.daemon import make_scheduler

    s = settings_in(tmp)
    cat = open_catalogue(s)
    sch = make_scheduler(s, cat)
    sch.start()
    lat = []
    for i in range(n):
        _fired.clear()
        _done.clear()
        at = datetime.now(UTC) + timedelta(milliseconds=50)
        sch.add_job("__main__:_mark", DateTrigger(at), args=[1], id=f"bench{i}")
        _done.wait(30)
        lat.append(_fired[0] - at.timestamp())
    sch.shutdown()
    cat.close()
    return lat


def noop_in_process(tmp: Path, n: int) -> list[float]:
    s = settings_in(tmp)
    cat = open_catalogue(s)
    out = []
    for i in range(n):
        t = time.perf_counter()
        with cat.write() as sess:
            r = Run(job_kind="noop", spec={"job": {"kind": "noop"}}, state="running", started=utcnow())
            sess.add(r)
            sess.flush()
            rid = r.id
        ids = execute_run(JobSpec(kind="noop", seed=i), JobContext(settings=s, catalogue=cat, workdir=tmp, seed=i,
                                                                   run_id=rid))
        with cat.write() as sess:
            r = sess.get(Run, rid)
            r.state, r.ended, r.artwork_ids = "done", utcnow(), ids
        out.append(time.perf_counter() - t)
    cat.close()
    return out


def noop_in_worker(tmp: Path, n: int, worker_start: str) -> list[float]:
    s = settings_in(tmp, [{"name": "bench", "cron": "* * * * *", "duration_minutes": 60,
                           "jobs": [{"kind": "noop", "count": n}]}], worker_start)
    cat = open_catalogue(s)
    clock = SystemClock(UTC)
    start = clock.now()
    rep = run_window(s, cat, s.schedule.windows[0], start, start + timedelta(hours=1), clock)
    cat.close()
    assert [o.state for o in rep.outcomes] == ["done"] * n, rep.summary()
    return [o.wall_s for o in rep.outcomes[1:]]  # the first one also starts the fork server


def mixed(tmp: Path, seconds: float, kinds: dict[str, dict[str, Any]], worker_start: str | None) -> dict[str, float]:
    jobs = [{"kind": k, "weight": 2 if k == "procedural.images" else 1, "params": p} for k, p in kinds.items()]
    s = settings_in(tmp, [{"name": "mixed", "cron": "* * * * *", "duration_minutes": 60, "jobs": jobs}],
                    worker_start or "fresh")
    isolated = worker_start is not None
    cat = open_catalogue(s)
    w = s.schedule.windows[0]
    t0 = time.time()
    if isolated:
        clock = SystemClock(UTC)
        start = clock.now()
        rep = run_window(s, cat, w, start, start + timedelta(seconds=seconds), clock)
        n, arts = len(rep.outcomes), sum(len(o.artwork_ids) for o in rep.outcomes)
        failed = sum(o.state != "done" for o in rep.outcomes)
    else:
        n = arts = failed = 0
        while time.time() - t0 < seconds:
            slot = plan_slot(w, "inproc", n)
            assert slot is not None
            try:
                arts += len(execute_run(JobSpec(kind=slot.entry.kind, params=slot.entry.params, seed=slot.seed),
                                        JobContext(settings=s, catalogue=cat, workdir=tmp, seed=slot.seed)))
            except Exception:  # noqa: BLE001
                failed += 1
            n += 1
    wall = time.time() - t0
    cat.close()
    return {"jobs": n, "artworks": arts, "failed": failed, "wall": wall,
            "jobs_h": n / wall * 3600, "art_h": arts / wall * 3600}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=10, help="no-op jobs per overhead row")
    ap.add_argument("--seconds", type=float, default=60, help="length of each mixed-programme run")
    a = ap.parse_args()
    install_hooks()  # as the command line and the workers run jobs: curation's features on insert
    kinds = {k: p for k, p in BENCH_PARAMS.items() if k in registry.kinds()}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        disp = apscheduler_dispatch(tmp / "a", a.jobs)
        inproc = noop_in_process(tmp / "b", a.jobs)
        forked = noop_in_worker(tmp / "c", a.jobs + 1, "fork-server")
        fresh = noop_in_worker(tmp / "f", a.jobs + 1, "fresh")
        m_fork = mixed(tmp / "d", a.seconds, kinds, "fork-server")
        m_fresh = mixed(tmp / "g", a.seconds, kinds, "fresh")
        m_in = mixed(tmp / "e", a.seconds, kinds, None)

    def ms(v: list[float]) -> str:
        return f"{statistics.median(v) * 1000:8.1f} {max(v) * 1000:8.1f}"

    print(f"scheduler overhead per job ({a.jobs} jobs each; fsync off; load avg {_load()})")
    print(f"{'path':<44} {'p50 ms':>8} {'max ms':>8}")
    print(f"{'APScheduler dispatch (SQLAlchemyJobStore)':<44} {ms(disp)}")
    print(f"{'noop in-process (execute_run, no isolation)':<44} {ms(inproc)}")
    print(f"{'noop, worker forked by the fork server':<44} {ms(forked)}")
    print(f"{'noop, worker = fresh interpreter':<44} {ms(fresh)}")
    print()
    print(f"mixed tiny programme, {a.seconds:.0f} s each: kinds {', '.join(kinds)} (procedural weight 2)")
    print(f"{'path':<44} {'jobs':>6} {'jobs/h':>8} {'art/h':>8} {'failed':>6}")
    for name, m in (("scheduler, fork-server workers", m_fork), ("scheduler, fresh-interpreter workers", m_fresh),
                    ("in-process execute_run (no isolation)", m_in)):
        print(f"{name:<44} {m['jobs']:>6} {m['jobs_h']:>8.0f} {m['art_h']:>8.0f} {m['failed']:>6}")


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
