"""APScheduler's job store in the catalogue: a missed window start within the grace runs (coalesced
into one), an older one does not; and `gallery demo`'s step runs one short window."""

from __future__ import annotations

import logging
import pickle
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from schedutil import sched_settings
from sqlalchemy import select

from catalogue.models import Run
from generator.schedule.daemon import (
    JOB_ID_PREFIX,
    WINDOW_JOB_REF,
    make_scheduler,
    run_daemon,
    scheduled_window,
    sync_jobs,
)


def _daemon_with_missed_start(settings, catalogue, caplog, missed: list[int], **sched):
    """The window starts at these minutes (ago) of every hour, lasts 30 min; the daemon missed them all."""
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    starts = [minute - timedelta(minutes=m) for m in missed]
    cron = ",".join(str(t.minute) for t in sorted(starts, key=lambda t: t.minute)) + " * * * *"
    s = sched_settings(settings, windows=[{"name": "w", "cron": cron, "duration_minutes": 30,
                                           "jobs": [{"kind": "noop", "count": 1}]}], **sched)
    # A daemon that stored the job, then was down while the starts passed.
    first = make_scheduler(s, catalogue)
    first.start(paused=True)
    sync_jobs(first, s)
    first.shutdown()
    _set_stored_next_run(s, catalogue, JOB_ID_PREFIX + "w", min(starts))
    stop = threading.Event()
    t = threading.Thread(target=run_daemon, args=(s,), kwargs={"stop": stop, "poll_s": 0.1})
    with caplog.at_level(logging.INFO):
        t.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                fired = [r for r in caplog.records if r.name.startswith("apscheduler")
                         and ("Running job" in r.getMessage() or "was missed by" in r.getMessage())]
                with catalogue.read() as sess:
                    done = list(sess.scalars(select(Run.state).where(Run.state == "done")))
                if fired and (done or "was missed by" in fired[-1].getMessage()):
                    time.sleep(1.5)  # let any further (un-coalesced) firing happen
                    break
                time.sleep(0.2)
        finally:
            stop.set()
            t.join(60)
    running = [r for r in caplog.records if "Running job" in r.getMessage() and "w (trigger" in r.getMessage()]
    missed_logs = [r for r in caplog.records if "was missed by" in r.getMessage()]
    with catalogue.read() as sess:
        states = list(sess.scalars(select(Run.state).order_by(Run.id)))
    return running, missed_logs, states


def _set_stored_next_run(s, catalogue, job_id: str, when: datetime) -> None:
    """Edit the stored job as a daemon that was down since ``when`` would have left it."""
    from sqlalchemy import MetaData, Table, update

    table = Table(s.schedule.jobstore_table, MetaData(), autoload_with=catalogue.engine)
    with catalogue.engine.begin() as conn:
        blob = conn.execute(select(table.c.job_state).where(table.c.id == job_id)).scalar_one()
        state = pickle.loads(blob)
        assert state["next_run_time"] > when
        state["next_run_time"] = when
        conn.execute(update(table).where(table.c.id == job_id).values(
            job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL), next_run_time=when.timestamp()))


def test_missed_starts_within_grace_run_once_coalesced(settings, catalogue, caplog):
    running, missed, states = _daemon_with_missed_start(settings, catalogue, caplog, [4, 3, 2, 1],
                                                        misfire_grace_s=3600, coalesce=True)
    assert len(running) == 1 and not missed
    assert states == ["done"]


def test_a_start_missed_by_more_than_the_grace_does_not_run(settings, catalogue, caplog):
    running, missed, states = _daemon_with_missed_start(settings, catalogue, caplog, [10],
                                                        misfire_grace_s=60, coalesce=True)
    assert not running and missed
    assert states == []


def test_the_stored_reference_still_names_the_window_job(settings, catalogue):
    """The job store keeps the callable by reference: the one daemons stored before the scheduler became a
    package (``generator.schedule:scheduled_window``) still loads, and new jobs store the same."""
    from apscheduler.util import ref_to_obj

    assert WINDOW_JOB_REF == "generator.schedule:scheduled_window"
    assert ref_to_obj(WINDOW_JOB_REF) is scheduled_window
    s = sched_settings(settings, windows=[{"name": "w", "cron": "0 3 * * *", "duration_minutes": 30,
                                           "jobs": [{"kind": "noop", "count": 1}]}])
    first = make_scheduler(s, catalogue)
    first.start(paused=True)
    sync_jobs(first, s)
    first.shutdown()
    again = make_scheduler(s, catalogue)
    again.start(paused=True)
    try:
        job = again.get_job(JOB_ID_PREFIX + "w")  # unpickled from the store: the reference resolved
        assert job is not None and job.func is scheduled_window and job.func_ref == WINDOW_JOB_REF
    finally:
        again.shutdown()


@pytest.mark.parametrize("quick", [True])
def test_demo_step_runs_one_short_window(settings, catalogue, tmp_path, quick, monkeypatch):
    from gallery.demo import STEPS, DemoContext
    from generator.schedule import demo
    from generator.schedule.demo import schedule_step

    monkeypatch.setattr(demo, "DEMO_GENERATOR_JOBS", [])  # no model families in this area's tests

    assert "generator.schedule.demo:schedule_step" in STEPS
    res = schedule_step(DemoContext(settings=settings, catalogue=catalogue, out_dir=tmp_path, quick=quick))
    assert res["states"] == {"done": res["jobs"]} and res["jobs"] >= 3
    assert res["artworks"] >= 4
    with catalogue.read() as sess:
        assert [r.window for r in sess.scalars(select(Run))] == ["demo"] * res["jobs"]
