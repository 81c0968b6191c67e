"""The daemon (`gallery schedule run`): APScheduler fires each window from a job store in the
catalogue database, so jobs survive restarts; open windows resume on start."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from generator.schedule.calendar import Clock, SystemClock, current_occurrence, trigger_for, zone
from generator.schedule.recovery import SchedulerLock, recover_interrupted
from generator.schedule.supervise import check_kinds
from generator.schedule.windows import occurrence_runs, run_window

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from catalogue import Catalogue
    from gallery.config import Settings

log = logging.getLogger("gallery.schedule")

JOB_ID_PREFIX = "window:"
RESUME_ID_PREFIX = "resume:"
# The callable stored in the job store, by reference. Kept as it was before the package split so that
# the jobs stored by an earlier daemon still load (generator/schedule/__init__.py resolves it lazily).
WINDOW_JOB_REF = "generator.schedule:scheduled_window"

# The daemon's stop request, seen by the window running in APScheduler's executor thread. One per
# process (a process runs at most one scheduler: the lock file enforces it).
_STOP = threading.Event()


def _open_worker_catalogue(settings: Settings) -> Catalogue:
    from catalogue import Catalogue

    c = settings.catalogue
    return Catalogue(settings.catalogue_url, settings.media_root, busy_timeout_ms=c.busy_timeout_ms, fsync=c.fsync,
                     auto_upgrade=False, gc_grace_seconds=c.gc_grace_seconds)


def scheduled_window(window_name: str, settings_json: str) -> dict[str, Any] | None:
    """The job APScheduler stores and fires: run the occurrence of a window that is open now."""
    from gallery.config import Settings

    settings = Settings.model_validate_json(settings_json)
    try:
        window = settings.schedule.window(window_name)
    except KeyError:
        log.warning("window %s is no longer in the configuration; nothing to do", window_name)
        return None
    tz = zone(settings.schedule)
    clock = SystemClock(tz)
    occ = current_occurrence(window, clock.now(), tz)
    if occ is None:
        log.warning("window %s fired at %s but is not open now; skipped", window_name, clock.now())
        return None
    cat = _open_worker_catalogue(settings)
    try:
        return run_window(settings, cat, window, occ[0], occ[1], clock, _STOP).summary()
    finally:
        cat.close()


def make_scheduler(settings: Settings, cat: Catalogue) -> BaseScheduler:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = settings.schedule
    # One job at a time: one machine, one accelerator. Windows that overlap run one after the other.
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=cat.engine, tablename=sched.jobstore_table)},
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": sched.coalesce, "misfire_grace_time": sched.misfire_grace_s, "max_instances": 1},
        timezone=zone(sched))


def sync_jobs(scheduler: BaseScheduler, settings: Settings) -> tuple[list[str], list[str]]:
    """Make the stored jobs match the configured windows; returns (all window job ids, those (re)added now)."""
    tz = zone(settings.schedule)
    blob = settings.model_dump_json()
    wanted = {}
    added = []
    for w in settings.schedule.windows:
        jid = JOB_ID_PREFIX + w.name
        wanted[jid] = w
        existing = scheduler.get_job(jid)
        trig = trigger_for(w, tz)
        if existing is not None and str(existing.trigger) == str(trig) and existing.args == (w.name, blob):
            continue  # unchanged: keep its stored next run time (a missed start still counts as a misfire)
        scheduler.add_job(WINDOW_JOB_REF, trig, args=[w.name, blob], id=jid, name=w.name,
                          replace_existing=True)
        added.append(jid)
    for job in scheduler.get_jobs():
        if job.id.startswith(JOB_ID_PREFIX) and job.id not in wanted:
            scheduler.remove_job(job.id)
    return sorted(wanted), added


def resume_open_windows(scheduler: BaseScheduler, settings: Settings, cat: Catalogue, clock: Clock,
                        new_jobs: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Windows open now to run at once: those whose occurrence already started (the scheduler died in
    it), and those just added to the store whose start was missed by less than the misfire grace.
    (A stored job that missed its start is fired by APScheduler itself, by the same misfire rules.)"""
    tz = zone(settings.schedule)
    blob = settings.model_dump_json()
    resumed = []
    for w in settings.schedule.windows:
        now = clock.now()
        occ = current_occurrence(w, now, tz)
        if occ is None:
            continue
        key = occ[0].isoformat(timespec="seconds")
        if not occurrence_runs(cat, w.name, key):
            late = (now - occ[0]).total_seconds()
            if JOB_ID_PREFIX + w.name not in new_jobs or late > settings.schedule.misfire_grace_s:
                continue
        from apscheduler.triggers.date import DateTrigger

        scheduler.add_job(WINDOW_JOB_REF, DateTrigger(clock.now()), args=[w.name, blob],
                          id=RESUME_ID_PREFIX + w.name, name=f"resume {w.name}", replace_existing=True,
                          misfire_grace_time=None)
        log.info("window %s (%s) is open%s; running it now", w.name, key,
                 " and was interrupted" if occurrence_runs(cat, w.name, key) else "")
        resumed.append(w.name)
    return resumed


def stored_jobs(settings: Settings, cat: Catalogue) -> list[dict[str, Any]]:
    """The job store's rows (id, next run time), read straight from the table; [] before the first start."""
    from sqlalchemy import MetaData, Table
    from sqlalchemy.exc import NoSuchTableError

    try:
        table = Table(settings.schedule.jobstore_table, MetaData(), autoload_with=cat.engine)
    except NoSuchTableError:
        return []
    with cat.engine.connect() as conn:
        rows = conn.execute(select(table.c.id, table.c.next_run_time).order_by(table.c.next_run_time)).all()
    tz = zone(settings.schedule)
    return [{"id": r[0], "next_run_time": datetime.fromtimestamp(r[1], tz).isoformat(timespec="seconds")
             if r[1] is not None else None} for r in rows]


def run_daemon(settings: Settings, stop: threading.Event | None = None, poll_s: float = 1.0) -> None:
    """`gallery schedule run`: recover, (re)store the window jobs, resume an open window, fire until stopped."""
    check_kinds(settings.schedule)
    stop = stop or _STOP
    with SchedulerLock(settings):
        from catalogue import open_catalogue

        cat = open_catalogue(settings)
        try:
            recover_interrupted(cat, settings.path("runs"))
            scheduler = make_scheduler(settings, cat)
            scheduler.start(paused=True)
            ids, added = sync_jobs(scheduler, settings)
            resume_open_windows(scheduler, settings, cat, SystemClock(zone(settings.schedule)), added)
            _STOP.clear()
            scheduler.resume()
            for job in scheduler.get_jobs():
                log.info("scheduled %s: next run %s", job.id, job.next_run_time)
            if not ids:
                log.warning("schedule: no windows configured (schedule.windows is empty); idling")
            while not stop.wait(poll_s):
                pass
            log.info("scheduler stopping")
            _STOP.set()
            scheduler.shutdown(wait=True)
        finally:
            cat.close()
