"""Running a window: queued runs first, then its programme, slot after slot, until the programme,
the window's end or a guard stops it; `gallery schedule once`."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from catalogue.models import VISUAL_KINDS, Artwork, Run, utcnow
from gallery.errors import BadInput
from generator.schedule.calendar import Clock, SystemClock, as_utc, zone
from generator.schedule.guards import guard_reason
from generator.schedule.plan import (
    Compression,
    Slot,
    compress_settings,
    compress_window,
    counted_order,
    job_spec,
    plan_slot,
)
from generator.schedule.recovery import SchedulerLock, recover_interrupted
from generator.schedule.retention import apply_retention
from generator.schedule.settings import JobEntry, Window
from generator.schedule.supervise import ForkServer, Outcome, check_kinds, execute, kind_modules

if TYPE_CHECKING:
    from catalogue import Catalogue
    from gallery.config import Settings

log = logging.getLogger("gallery.schedule")

FINAL_STATES = ("done", "failed", "failed-interrupted", "timed-out", "skipped")
NOT_DONE_STATES = ("failed", "failed-interrupted", "timed-out", "skipped")
MIN_JOB_S = 2.0  # a job starts only with at least this long (plus kill_grace_s) left in its window
TONIGHT = "tonight"  # queued runs for "tonight" run in the next window that opens, whichever it is


@dataclass
class WindowReport:
    window: str
    occurrence: str
    outcomes: list[Outcome] = field(default_factory=list)
    stopped_by: str | None = None  # guard reason, "window ended", "max_jobs", "programme done", "stopped"
    retention_removed: int = 0
    queued_runs: int = 0  # of the outcomes, how many were queued runs (curation's), run before the programme

    def summary(self) -> dict[str, Any]:
        states: dict[str, int] = {}
        for o in self.outcomes:
            states[o.state] = states.get(o.state, 0) + 1
        return {"window": self.window, "occurrence": self.occurrence, "jobs": len(self.outcomes), "states": states,
                "artworks": sum(len(o.artwork_ids) for o in self.outcomes), "stopped_by": self.stopped_by,
                "retention_removed": self.retention_removed, "queued_runs": self.queued_runs}


def occurrence_runs(cat: Catalogue, window: str, occurrence: str) -> list[Run]:
    with cat.read() as s:
        rows = s.scalars(select(Run).where(Run.window == window).order_by(Run.id))
        return [r for r in rows if (r.extra or {}).get("occurrence") == occurrence]


def _latest_visual(cat: Catalogue, run_ids: list[int], kinds: list[str] | tuple[str, ...] = VISUAL_KINDS) -> int | None:
    if not run_ids:
        return None
    with cat.read() as s:
        return s.scalar(select(Artwork.id).where(Artwork.run_id.in_(run_ids), Artwork.kind.in_(list(kinds)),
                                                 Artwork.status == "ok").order_by(Artwork.id.desc()).limit(1))


def _new_run(cat: Catalogue, window: Window, occurrence: str, slot: Slot, spec: dict[str, Any],
             state: str = "queued", error: str | None = None) -> int:
    now = utcnow()
    with cat.write() as s:
        run = Run(job_kind=slot.entry.kind, window=window.name, state=state, created=now, error=error,
                  spec={"job": spec, "entry": slot.entry.label, "slot": slot.index}, host=socket.gethostname(),
                  extra={"occurrence": occurrence, "slot": slot.index, "scheduler_pid": os.getpid()},
                  artwork_ids=[])
        if state in FINAL_STATES:
            run.started = run.ended = now
        s.add(run)
        s.flush()
        return run.id


def run_window(settings: Settings, cat: Catalogue, window: Window, start: datetime, end: datetime,
               clock: Clock, stop: threading.Event | None = None, occurrence: str | None = None) -> WindowReport:
    """Run (or carry on with) one occurrence of a window until its programme, its end or a guard stops it."""
    occ = occurrence or start.isoformat(timespec="seconds")
    rep = WindowReport(window.name, occ)
    done = occurrence_runs(cat, window.name, occ)
    next_index = max((int((r.extra or {}).get("slot", -1)) for r in done), default=-1) + 1
    if done:
        log.info("window %s (%s): carrying on from slot %d (%d runs already recorded)", window.name, occ,
                 next_index, len(done))
    run_ids = [r.id for r in done if r.state == "done"]
    counted = counted_order(window)
    index = next_index
    waiting = queued_runs(cat, window.name)
    server = None
    if settings.schedule.worker_start == "fork-server":
        server = ForkServer(settings, kind_modules([*(e.kind for e in window.jobs), *(k for _, k in waiting)]))
    try:
        _queued_loop(settings, cat, window, end, clock, stop, occ, rep, [rid for rid, _ in waiting], server)
        _window_loop(settings, cat, window, end, clock, stop, occ, rep, run_ids, counted, index, server)
    finally:
        if server is not None:
            server.close()
    if settings.schedule.retention.enabled and rep.stopped_by != "stopped":
        rep.retention_removed = len(apply_retention(settings, cat, clock.now()))
    log.info("window %s (%s) over: %s", window.name, occ, rep.summary())
    return rep


def queued_runs(cat: Catalogue, window_name: str) -> list[tuple[int, str]]:
    """(run id, job kind) of the runs queued for ``tonight`` or for this window by name and not yet
    claimed by a scheduler (no host), oldest first."""
    with cat.read() as s:
        q = (select(Run.id, Run.job_kind)
             .where(Run.state == "queued", Run.host.is_(None), Run.window.in_([TONIGHT, window_name]))
             .order_by(Run.created, Run.id))
        return [(int(rid), str(kind)) for rid, kind in s.execute(q).all()]


def _claim(cat: Catalogue, run_id: int, window: Window, occurrence: str) -> bool:
    """Take a queued run for this scheduler (host, pid, ``running``); False if someone else took it first
    (another scheduler, or `gallery curate queue --run`) or it is gone."""
    with cat.write() as s:
        run = s.get(Run, run_id)
        if run is None or run.state != "queued" or run.host is not None:
            return False
        run.state = "running"  # so curation's run_now can no longer take it
        run.host = socket.gethostname()
        run.extra = dict(run.extra or {}, scheduler_pid=os.getpid(),
                         ran_in={"window": window.name, "occurrence": occurrence})
        return True


def _seconds_left(settings: Settings, end: datetime, clock: Clock) -> float | None:
    """Seconds to the window's ``end``, or None when too little is left for a job to start and stop cleanly."""
    remaining = (as_utc(end) - as_utc(clock.now())).total_seconds()
    return None if remaining <= settings.schedule.kill_grace_s + MIN_JOB_S else remaining


def _log_ended(window: Window, what: str, out: Outcome, more: str = "") -> None:
    """One line: how a run ended (INFO when done, WARNING otherwise), with the first line of its error."""
    level = logging.INFO if out.state == "done" else logging.WARNING
    log.log(level, "window %s: %s %d %s in %.1f s, %d artworks%s%s", window.name, what, out.run_id, out.state,
            out.wall_s, len(out.artwork_ids), more, f": {out.error.splitlines()[0]}" if out.error else "")


def _queued_loop(settings: Settings, cat: Catalogue, window: Window, end: datetime, clock: Clock,
                 stop: threading.Event | None, occ: str, rep: WindowReport, run_ids: list[int],
                 server: ForkServer | None) -> None:
    """Run the queued runs ``run_ids`` (see :func:`queued_runs`) one by one, each in a worker.

    Stops early, leaving the rest queued, when stopped, near the window's end or when a guard says so
    (the programme loop that follows then says why)."""
    from catalogue.lineage import link_run_lineage

    for rid in run_ids:
        if stop is not None and stop.is_set():
            return
        remaining = _seconds_left(settings, end, clock)
        if remaining is None:
            return
        reason = guard_reason(settings, cat)
        if reason is not None:
            log.warning("schedule: queued runs left queued in window %s: %s", window.name, reason)
            return
        if not _claim(cat, rid, window, occ):
            log.info("window %s: queued run %d was taken or removed meanwhile; skipped", window.name, rid)
            continue
        hard_deadline = time.time() + min(remaining, settings.schedule.job_timeout_s)
        log.info("window %s: queued run %d", window.name, rid)
        out = execute(settings, cat, rid, hard_deadline, stop, server)
        linked = link_run_lineage(cat, [rid]) if out.state == "done" else 0
        _log_ended(window, "queued run", out, f", {linked} lineage links")
        rep.outcomes.append(out)
        rep.queued_runs += 1


def _window_loop(settings: Settings, cat: Catalogue, window: Window, end: datetime, clock: Clock,
                 stop: threading.Event | None, occ: str, rep: WindowReport, run_ids: list[int],
                 counted: list[JobEntry], index: int, server: ForkServer | None) -> None:
    while True:
        if stop is not None and stop.is_set():
            rep.stopped_by = "stopped"
            break
        remaining = _seconds_left(settings, end, clock)
        if remaining is None:
            rep.stopped_by = "window ended"  # too little time left for a job to start and stop cleanly
            break
        slot = plan_slot(window, occ, index, counted)
        if slot is None:
            rep.stopped_by = "max_jobs" if window.max_jobs is not None and index >= window.max_jobs else "programme done"
            break
        reason = guard_reason(settings, cat)
        if reason is not None:
            log.warning("schedule: generation stopped in window %s: %s", window.name, reason)
            rid = _new_run(cat, window, occ, slot, job_spec(slot), state="skipped", error=f"guard: {reason}")
            rep.outcomes.append(Outcome(rid, "skipped", reason, [], 0.0))
            rep.stopped_by = reason
            break
        pair = None
        if slot.entry.pair_with == "previous_visual":
            pair = _latest_visual(cat, run_ids, slot.entry.pair_kinds)
            if pair is None:
                msg = "no visual artwork made yet in this window to pair with"
                rid = _new_run(cat, window, occ, slot, job_spec(slot), state="skipped", error=msg)
                rep.outcomes.append(Outcome(rid, "skipped", msg, [], 0.0))
                index += 1
                continue
        spec = job_spec(slot, pair)
        rid = _new_run(cat, window, occ, slot, spec)
        timeout = slot.entry.timeout_s or settings.schedule.job_timeout_s
        hard_deadline = time.time() + min(remaining, timeout)
        log.info("window %s: slot %d run %d: %s (seed %d)", window.name, index, rid, slot.entry.label, slot.seed)
        out = execute(settings, cat, rid, hard_deadline, stop, server)
        _log_ended(window, "run", out)
        rep.outcomes.append(out)
        if out.state == "done":
            run_ids.append(rid)
        index += 1


def run_once(settings: Settings, cat: Catalogue, window_name: str | None = None, minutes: float | None = None,
             clock: Clock | None = None, stop: threading.Event | None = None,
             compress: Compression | None = None) -> WindowReport:
    """`gallery schedule once`: run one window's programme now, for ``minutes`` (default: its length),
    or its programme in miniature (``compress``: fewer jobs, smaller works; see :func:`compress_window`)."""
    window = once_window(settings, window_name)
    check_kinds(settings.schedule)
    if compress is not None:
        settings = compress_settings(settings, compress)
        window = compress_window(window, compress)
    clock = clock or SystemClock(zone(settings.schedule))
    start = clock.now()
    end = as_utc(start) + timedelta(minutes=minutes if minutes is not None else window.minutes)
    prefix = "preview-" if compress is not None else "once-"
    with SchedulerLock(settings):
        recover_interrupted(cat, settings.path("runs"))
        return run_window(settings, cat, window, start, end, clock, stop,
                          occurrence=prefix + start.isoformat(timespec="seconds"))


def once_window(settings: Settings, window_name: str | None = None) -> Window:
    """The window `gallery schedule once` runs: the named one, or the first (BadInput naming the known ones)."""
    sched = settings.schedule
    if not sched.windows:
        raise BadInput("schedule.windows is empty: nothing to run (add a window to config.yaml)")
    if window_name is None:
        return sched.windows[0]
    try:
        return sched.window(window_name)
    except KeyError:
        raise BadInput(f"no window {window_name!r} in schedule.windows; known: "
                       f"{', '.join(w.name for w in sched.windows)}") from None
