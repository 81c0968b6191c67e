"""The overnight scheduler: windows of generation, each job in a worker subprocess, every job a `run` row.

- APScheduler 3 fires each configured window (cron trigger) from a job store in the catalogue
  database (``SQLAlchemyJobStore``), so jobs survive restarts. The stored callable is the importable
  :func:`scheduled_window`, with the window name and the settings (JSON) as arguments.
- A window's programme is a deterministic sequence of *slots*: counted entries first (round-robin),
  then weighted draws, seeded by the window seed, the occurrence and the slot number. Each slot runs
  in ``python -m generator.worker`` (a crash, an out-of-memory or a GPU error kills that one job),
  time-boxed so that it is gone by the window's end, and leaves a `run` row.
- Resume: on start the scheduler marks runs left ``queued``/``running`` by a dead scheduler as
  ``failed-interrupted`` (their artworks, if any, are whole: the worker adds them in one
  transaction) and, if a window is still open, carries on with its next slot. Missed starts within
  ``misfire_grace_s`` still run; several missed starts are coalesced into one.
- Guards (free disk, catalogue size) stop generation with a clear log line and a ``skipped`` run row;
  the retention policy (opt-in) thins old unrated, uncollected works after each window.
- Queued runs first: runs queued from outside the programme (curation's "variations around this" and
  "between these two": state ``queued``, no host yet, window ``tonight`` or this window's name) run at
  the start of a window, oldest first, before its programme, each in a worker like a programme job
  and within the same time box and guards. Their own row is updated (claimed: host, ``running``;
  then done/failed/timed-out…) and their results are linked to the parents the row names
  (``extra.parents``). They do not count towards ``max_jobs``.

Only one scheduler runs per data directory (a lock file), so a `queued`/`running` row of this host
seen at start belongs to a scheduler that died.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, select

from catalogue.models import Artwork, CollectionItem, Mint, Run, utcnow
from gallery.errors import BadInput, GalleryError
from generator.schedule_settings import JobEntry, ScheduleSettings, Window, parse_hhmm

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from catalogue import Catalogue
    from gallery.config import Settings

log = logging.getLogger("gallery.schedule")

VISUAL_KINDS = ("image", "walk", "mix", "projection", "uncanny", "bend", "progression")
FINAL_STATES = ("done", "failed", "failed-interrupted", "timed-out", "skipped")
NOT_DONE_STATES = ("failed", "failed-interrupted", "timed-out", "skipped")
LIVE_STATES = ("queued", "running")
MIN_JOB_S = 2.0  # a job starts only with at least this long (plus kill_grace_s) left in its window
JOB_ID_PREFIX = "window:"
TONIGHT = "tonight"  # queued runs for "tonight" run in the next window that opens, whichever it is
RESUME_ID_PREFIX = "resume:"

# The daemon's stop request, seen by the window running in APScheduler's executor thread. One per
# process (a process runs at most one scheduler: the lock file enforces it).
_STOP = threading.Event()


# ---- time ---------------------------------------------------------------------------------------
class Clock(Protocol):
    def now(self) -> datetime:  # timezone-aware
        ...


@dataclass
class SystemClock:
    tz: tzinfo

    def now(self) -> datetime:
        return datetime.now(self.tz)


def zone(sched: ScheduleSettings) -> tzinfo:
    if sched.timezone:
        from zoneinfo import ZoneInfo

        return ZoneInfo(sched.timezone)
    from tzlocal import get_localzone

    return get_localzone()


def trigger_for(window: Window, tz: tzinfo):  # noqa: ANN201 - apscheduler CronTrigger
    from apscheduler.triggers.cron import CronTrigger

    if window.cron is not None:
        return CronTrigger.from_crontab(window.cron, timezone=tz)
    assert window.start is not None
    t = parse_hhmm(window.start)
    return CronTrigger(day_of_week=window.days, hour=t.hour, minute=t.minute, timezone=tz)


def _utc(t: datetime) -> datetime:
    # Aware datetimes sharing a tzinfo compare and subtract by wall clock in Python; UTC is exact across DST.
    return t.astimezone(UTC)


def occurrence_end(window: Window, start: datetime) -> datetime:
    """Where an occurrence ends: `end` is a wall-clock time (07:00 stays 07:00 on the night the clocks
    change); `duration_minutes` is elapsed time."""
    if window.end is not None:
        return (start + timedelta(minutes=window.minutes)).replace(fold=0)
    return _utc(start) + timedelta(minutes=window.minutes)


def current_occurrence(window: Window, now: datetime, tz: tzinfo) -> tuple[datetime, datetime] | None:
    """The (start, end) of the window occurrence that contains ``now``, or None (the latest if several)."""
    trig = trigger_for(window, tz)
    found = None
    now_u = _utc(now)
    t = trig.get_next_fire_time(None, (now_u - timedelta(minutes=window.minutes + 120)).astimezone(tz))
    while t is not None and _utc(t) <= now_u:
        end = occurrence_end(window, t)
        if _utc(end) > now_u:
            found = (t, end)
        t = trig.get_next_fire_time(t, t + timedelta(seconds=1))
    return found


def next_occurrences(window: Window, now: datetime, tz: tzinfo, n: int = 3) -> list[tuple[datetime, datetime]]:
    trig = trigger_for(window, tz)
    out = []
    t = trig.get_next_fire_time(None, now)
    while t is not None and len(out) < n:
        out.append((t, occurrence_end(window, t).astimezone(tz)))
        t = trig.get_next_fire_time(t, t + timedelta(seconds=1))
    return out


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


# ---- the programme --------------------------------------------------------------------------------
@dataclass
class Slot:
    index: int
    entry: JobEntry
    seed: int
    prompt: str | None = None


def counted_order(window: Window) -> list[JobEntry]:
    """Counted entries interleaved round-robin (walk, soundscape, walk, soundscape, …)."""
    counted = [e for e in window.jobs if e.count is not None]
    out: list[JobEntry] = []
    rounds = max((e.count or 0 for e in counted), default=0)
    for r in range(rounds):
        out.extend(e for e in counted if (e.count or 0) > r)
    return out


def plan_slot(window: Window, occurrence: str, index: int, _counted: list[JobEntry] | None = None) -> Slot | None:
    """The job of slot ``index`` of one occurrence of a window (deterministic), or None when the programme ends."""
    counted = counted_order(window) if _counted is None else _counted
    if window.max_jobs is not None and index >= window.max_jobs:
        return None
    rng = random.Random(f"{window.seed}:{window.name}:{occurrence}:{index}")
    if index < len(counted):
        entry = counted[index]
    else:
        weighted = [e for e in window.jobs if e.effective_weight > 0]
        if not weighted:
            return None
        entry = rng.choices(weighted, weights=[e.effective_weight for e in weighted])[0]
    seed = entry.seed if entry.seed is not None else rng.randrange(2**31)
    prompt = None
    if entry.prompts:
        prompt = rng.choice(entry.prompts)
    elif entry.prompt_templates:
        template = rng.choice(entry.prompt_templates)
        words = {k: rng.choice(v) for k, v in sorted(entry.vocabulary.items())}
        prompt = template.format(**words)
    return Slot(index=index, entry=entry, seed=seed, prompt=prompt)


def job_spec(slot: Slot, pair_with: int | None = None) -> dict[str, Any]:
    params = dict(slot.entry.params)
    if slot.prompt is not None:
        params[slot.entry.prompt_param] = slot.prompt
    if pair_with is not None:
        params[slot.entry.pair_param] = pair_with
    return {"kind": slot.entry.kind, "params": params, "seed": slot.seed, "title": None}


# ---- a compressed programme (`gallery schedule once` previews) ---------------------------------------
@dataclass(frozen=True)
class Compression:
    """A window's programme in miniature: the same entries, kinds, pairing and order, with fewer jobs
    and smaller works, so a whole night's programme can be tried in minutes."""

    rounds: int = 1  # each counted entry runs at most this many times; weighted entries: this many draws each
    seconds: float = 4.0  # walks, soundscapes and other time-based works at most this long
    size: int = 64  # pictures at most this many pixels a side
    count: int = 2  # works per job (images, melodies) at most this many
    iterations: int = 20  # optimisation steps (VQGAN+CLIP) at most this many
    fps: int = 8  # frames per second of videos at most this many

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.seconds <= 0 or self.size < 16 or self.count < 1 or self.iterations < 1 \
                or self.fps < 1:
            raise BadInput(f"compression {self}: rounds, count, iterations, fps >= 1, seconds > 0, size >= 16")

    def caps(self) -> dict[str, float]:
        return {"seconds": self.seconds, "duration": self.seconds, "seconds_per_keyframe": self.seconds / 2,
                "size": self.size, "width": self.size,
                "height": self.size, "count": self.count, "iterations": self.iterations, "fps": self.fps}


def _cap(value: Any, limit: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value  # not a number: the job says what is wrong with it
    return min(value, int(limit)) if isinstance(value, int) else min(float(value), float(limit))


def compress_params(params: dict[str, Any], comp: Compression) -> dict[str, Any]:
    """A job's params with its lengths, sizes, counts and steps capped (other params as they are)."""
    caps = comp.caps()
    return {k: _cap(v, caps[k]) if k in caps else v for k, v in params.items()}


def compress_window(window: Window, comp: Compression) -> Window:
    """The window's programme in miniature: counted entries ``comp.rounds`` times each (still interleaved,
    so each sound pairs with the visual just before it), then ``comp.rounds`` draws per weighted entry."""
    jobs = []
    for e in window.jobs:
        d = e.model_dump()
        d["params"] = compress_params(e.params, comp)
        if e.count is not None:
            d["count"] = min(e.count, comp.rounds)
        jobs.append(d)
    data = window.model_dump()
    data["jobs"] = jobs
    counted = sum(min(e.count, comp.rounds) for e in window.jobs if e.count is not None)
    weighted = sum(1 for e in window.jobs if e.count is None)
    limit = counted + comp.rounds * weighted
    data["max_jobs"] = min(limit, window.max_jobs) if window.max_jobs is not None else limit
    return Window.model_validate(data)


def compress_settings(settings: Settings, comp: Compression) -> Settings:
    """Settings whose defaults make small works: the lengths, sizes and steps that jobs fall back on."""
    data = settings.model_dump(mode="json")
    sg = data.get("stylegan") or {}
    if sg:
        sg["walk_seconds"] = min(sg["walk_seconds"], comp.seconds)
        sg["seconds_per_keyframe"] = min(sg["seconds_per_keyframe"], comp.seconds / 2)
        sg["fps"] = min(sg["fps"], comp.fps)
        sg["render_size"] = comp.size if not sg["render_size"] else min(sg["render_size"], comp.size)
    vq = data.get("vqclip") or {}
    if vq:
        old = vq["iterations"]
        vq["iterations"] = min(old, comp.iterations)
        vq["snapshots"] = sorted({round(v * vq["iterations"] / old) for v in vq["snapshots"]})
        vq["size"] = min(vq["size"], comp.size)
        vq["fps"] = min(vq["fps"], comp.fps)
    if data.get("lts"):
        data["lts"]["duration"] = min(data["lts"]["duration"], comp.seconds)
    return type(settings).model_validate(data)


def describe_window(window: Window) -> str:
    """One line: what a window's programme does (its counted jobs, weighted entries, bounds)."""
    counted = [e for e in window.jobs if e.count is not None]
    weighted = [e for e in window.jobs if e.count is None]
    parts = []
    if counted:
        parts.append(f"{sum(e.count or 0 for e in counted)} counted jobs (" + ", ".join(
            f"{e.count} x {e.label}{_what_params(e)}" for e in counted) + ")")
    if weighted:
        parts.append("then draws of " + ", ".join(f"{e.label}{_what_params(e)}" for e in weighted))
    limit = f"at most {window.max_jobs} jobs" if window.max_jobs is not None else "no job limit"
    return "; ".join(parts) + f"; {limit}"


def _what_params(e: JobEntry) -> str:
    shown = {k: v for k, v in e.params.items() if k in ("seconds", "duration", "size", "count", "iterations")}
    return f" {shown}" if shown else ""


# ---- guards and retention -------------------------------------------------------------------------
def _existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def guard_reason(settings: Settings, cat: Catalogue) -> str | None:
    """Why generation must stop now (free disk, catalogue size), or None."""
    sched = settings.schedule
    where = _existing(settings.media_root)
    free_mb = shutil.disk_usage(where).free / 2**20
    if free_mb < sched.min_free_disk_mb:
        return (f"free disk {free_mb:.0f} MB on {where} is below schedule.min_free_disk_mb = "
                f"{sched.min_free_disk_mb} MB")
    if sched.max_artworks is not None:
        n = cat.count()
        if n >= sched.max_artworks:
            return f"the catalogue holds {n} artworks, at or above schedule.max_artworks = {sched.max_artworks}"
    if sched.max_catalogue_mb is not None:
        from catalogue.models import Media

        with cat.read() as s:
            blobs = select(Media.sha256, func.max(Media.size).label("size")).group_by(Media.sha256).subquery()
            total = int(s.scalar(select(func.coalesce(func.sum(blobs.c.size), 0))) or 0)
        if total / 2**20 >= sched.max_catalogue_mb:
            return (f"the catalogue's media take {total / 2**20:.1f} MB, at or above schedule.max_catalogue_mb = "
                    f"{sched.max_catalogue_mb} MB")
    return None


def retention_candidates(settings: Settings, cat: Catalogue, now: datetime | None = None) -> list[int]:
    """Artwork ids the retention policy would remove (whether or not it is enabled)."""
    pol = settings.schedule.retention
    now = _naive_utc(now) if now is not None else utcnow()
    thin_before = now - timedelta(days=pol.keep_days)
    delete_before = now - timedelta(days=pol.delete_after_days) if pol.delete_after_days else None
    with cat.read() as s:
        q = select(Artwork.id, Artwork.created).where(Artwork.created < thin_before)
        if pol.keep_rated:
            q = q.where(Artwork.rating.is_(None))
        rows = s.execute(q.order_by(Artwork.id)).all()
        # Collected or minted works are always kept (those rows refer to them).
        protected = set(s.scalars(select(CollectionItem.artwork_id))) | set(s.scalars(select(Mint.artwork_id)))
    out = []
    for aid, created in rows:
        if aid in protected:
            continue
        if (delete_before is not None and created < delete_before) or aid % pol.keep_one_in != 0:
            out.append(aid)
    return out


def apply_retention(settings: Settings, cat: Catalogue, now: datetime | None = None, dry_run: bool = False) -> list[int]:
    """Remove what the policy thins (rows, then unreferenced blobs); returns the ids removed."""
    ids = retention_candidates(settings, cat, now)
    if dry_run or not ids:
        return ids
    with cat.write() as s:
        for aid in ids:
            art = s.get(Artwork, aid)
            if art is not None:
                s.delete(art)
    removed = cat.gc()
    log.info("retention: removed %d artworks older than %s days (%d blobs freed)", len(ids),
             settings.schedule.retention.keep_days, len(removed))
    return ids


# ---- one job in a worker subprocess ---------------------------------------------------------------
@dataclass
class Outcome:
    run_id: int
    state: str
    error: str | None
    artwork_ids: list[int]
    wall_s: float
    exit_code: int | None = None


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _log_tail(path: Path, n: int = 1500) -> str:
    try:
        data = path.read_bytes()[-n:]
    except OSError:
        return ""
    return data.decode("utf-8", "replace").strip()


class ForkServerUnavailable(GalleryError):
    """The fork server could not start a job (it exited: see logs/runs/server.log)."""


class ForkServer:
    """Client of ``python -m generator.worker --server``: a process that has imported the heavy modules
    once and forks one child per job (each child still its own process). One job at a time."""

    def __init__(self, settings: Settings, modules: list[str] | tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.modules = list(modules)
        self.proc: subprocess.Popen | None = None
        self._buf = b""
        self._exits: dict[int, tuple[int, int]] = {}
        self._eof = False
        self.failed = False  # it could not start a job once: the window goes on with fresh workers

    def _ensure(self) -> subprocess.Popen:
        if self.proc is not None and self.proc.poll() is None and not self._eof:
            return self.proc
        self.close()
        log_dir = self.settings.path("logs/runs")
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "server.log", "ab") as logf:
            self.proc = subprocess.Popen([sys.executable, "-m", "generator.worker", "--server", *self.modules],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logf,
                                         start_new_session=True)
        self._buf, self._eof = b"", False
        return self.proc

    def _read(self, timeout: float) -> list[dict[str, Any]]:
        import select

        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        events = []
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self._eof = True
            self._buf += chunk
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            ev = json.loads(line)
            if ev.get("event") == "exit":
                self._exits[int(ev["pid"])] = (int(ev["code"]), int(ev.get("maxrss_kb") or 0))
            events.append(ev)
        return events

    def start(self, run_id: int, settings_json: str, deadline: float, log_path: Path) -> int:
        proc = self._ensure()
        assert proc.stdin is not None
        req = {"run_id": run_id, "settings": settings_json, "deadline": deadline, "log": str(log_path)}
        proc.stdin.write((json.dumps(req) + "\n").encode())
        proc.stdin.flush()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 300:
            for ev in self._read(0.5):
                if ev.get("event") == "started" and ev.get("run_id") == run_id:
                    return int(ev["pid"])
            if self._eof:
                break
        self.failed = True
        raise ForkServerUnavailable(f"the worker server did not start run {run_id} "
                                    f"(see {log_path.parent / 'server.log'})")

    def poll(self, pid: int) -> tuple[int, int] | None:
        """(exit status, peak RSS in kB) once the child ``pid`` has ended, else None."""
        if pid not in self._exits and not self._eof:
            self._read(0)
        if pid in self._exits:
            return self._exits.pop(pid)
        if self._eof:  # the server died: its children die with it (PDEATHSIG)
            _kill(pid, signal.SIGKILL)
            return (-signal.SIGKILL, 0)
        return None

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def kind_module(kind: str) -> str:
    """The module of a job kind: a JOB_KINDS name or an explicit ``module:function``."""
    from generator.jobs import JOB_KINDS

    return JOB_KINDS.get(kind, kind).partition(":")[0]


def execute(settings: Settings, cat: Catalogue, run_id: int, hard_deadline: float,
            stop: threading.Event | None = None, server: ForkServer | None = None) -> Outcome:
    """Run the queued run ``run_id`` in a worker process (a fresh interpreter, or a child forked by
    ``server``); SIGTERM at ``hard_deadline - kill_grace_s`` (epoch), SIGKILL at ``hard_deadline``."""
    from generator.worker import ENV_DEADLINE, ENV_SETTINGS

    grace = settings.schedule.kill_grace_s
    t0 = time.time()
    soft_deadline = max(t0, hard_deadline - grace)
    log_dir = settings.path("logs/runs")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{run_id}.log"
    settings_json = settings.model_dump_json()
    if server is not None and not server.failed:
        try:
            wpid = server.start(run_id, settings_json, soft_deadline, log_path)
        except ForkServerUnavailable as exc:
            log.warning("%s; this window goes on with a fresh interpreter per job", exc)
            server.close()
    if server is not None and not server.failed:
        def poll() -> tuple[int, int] | None:
            return server.poll(wpid)
    else:
        env = dict(os.environ)
        env[ENV_SETTINGS] = settings_json
        env[ENV_DEADLINE] = repr(soft_deadline)
        with open(log_path, "ab") as logf:
            proc = subprocess.Popen([sys.executable, "-m", "generator.worker", str(run_id)], env=env,
                                    stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        wpid = proc.pid

        def poll() -> tuple[int, int] | None:
            pid, status, usage = os.wait4(wpid, os.WNOHANG)
            if not pid:
                return None
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss
    with cat.write() as s:
        run = s.get(Run, run_id)
        assert run is not None
        run.pid = wpid
        run.extra = dict(run.extra or {}, log=str(log_path), deadline=datetime.fromtimestamp(hard_deadline, UTC)
                         .isoformat(timespec="seconds"), worker="fork-server" if server is not None and not server.failed else "fresh")
    why: str | None = None
    term_at: float | None = None
    delay = 0.002
    while True:
        ended = poll()
        if ended is not None:
            break
        now = time.time()
        if term_at is None and (now >= soft_deadline or (stop is not None and stop.is_set())):
            why = "interrupted" if stop is not None and stop.is_set() else "timed-out"
            term_at = now
            _kill(wpid, signal.SIGTERM)
        elif term_at is not None and (now >= max(hard_deadline, term_at + min(grace, 1.0)) or
                                      now >= term_at + grace):
            _kill(wpid, signal.SIGKILL)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)
    code, maxrss_kb = ended
    wall = time.time() - t0
    with cat.write() as s:
        run = s.get(Run, run_id)
        assert run is not None
        # The worker's last act is to record done/failed: a signal after that (during its exit) changes nothing.
        recorded = run.state in ("done", "failed")
        if not recorded:
            if why == "timed-out":
                run.state = "timed-out"
                run.error = f"stopped at its time limit ({wall:.1f} s; window end or job timeout)"
            elif why == "interrupted":
                run.state = "failed-interrupted"
                run.error = "the scheduler was stopped while the job ran"
            else:
                run.state = "failed"
                if code < 0:
                    hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if code == -signal.SIGKILL else ""
                    run.error = f"worker killed by {_signal_name(code)}{hint}"
                else:
                    run.error = f"worker exited with status {code}"
                tail = _log_tail(log_path)
                if tail:
                    run.error += f"\n--- worker log (tail) ---\n{tail}"
            run.ended = utcnow()
            # Whatever the worker committed is whole (one transaction); record it.
            run.artwork_ids = list(s.scalars(select(Artwork.id).where(Artwork.run_id == run_id).order_by(Artwork.id)))
        run.extra = dict(run.extra or {}, exit_code=code, wall_s=round(wall, 3),
                         peak_rss_mb=round(maxrss_kb / 1024, 1))
        out = Outcome(run_id, run.state, run.error, list(run.artwork_ids or []), wall, code)
    shutil.rmtree(settings.path(Path("runs") / str(run_id)), ignore_errors=True)
    return out


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# ---- a window --------------------------------------------------------------------------------------
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
        server = ForkServer(settings, _kind_modules([*(e.kind for e in window.jobs), *(k for _, k in waiting)]))
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


def _kind_modules(kinds: Any) -> list[str]:
    """The modules of ``kinds``, each once, in order (what the fork server imports once)."""
    return [m for m in dict.fromkeys(kind_module(k) for k in kinds) if m]


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
        remaining = (_utc(end) - _utc(clock.now())).total_seconds()
        if remaining <= settings.schedule.kill_grace_s + MIN_JOB_S:
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
        level = logging.INFO if out.state == "done" else logging.WARNING
        log.log(level, "window %s: queued run %d %s in %.1f s, %d artworks, %d lineage links%s", window.name, rid,
                out.state, out.wall_s, len(out.artwork_ids), linked,
                f": {out.error.splitlines()[0]}" if out.error else "")
        rep.outcomes.append(out)
        rep.queued_runs += 1


def _window_loop(settings: Settings, cat: Catalogue, window: Window, end: datetime, clock: Clock,
                 stop: threading.Event | None, occ: str, rep: WindowReport, run_ids: list[int],
                 counted: list[JobEntry], index: int, server: ForkServer | None) -> None:
    while True:
        if stop is not None and stop.is_set():
            rep.stopped_by = "stopped"
            break
        now = clock.now()
        remaining = (_utc(end) - _utc(now)).total_seconds()
        if remaining <= settings.schedule.kill_grace_s + MIN_JOB_S:
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
        level = logging.INFO if out.state == "done" else logging.WARNING
        log.log(level, "window %s: run %d %s in %.1f s, %d artworks%s", window.name, rid, out.state, out.wall_s,
                len(out.artwork_ids), f": {out.error.splitlines()[0]}" if out.error else "")
        rep.outcomes.append(out)
        if out.state == "done":
            run_ids.append(rid)
        index += 1


# ---- recovery, locking -------------------------------------------------------------------------------
def recover_interrupted(cat: Catalogue, runs_dir: Path | None = None, host: str | None = None) -> list[int]:
    """Mark runs of this host left queued/running (their scheduler died) as failed-interrupted, and
    remove their work folders (under ``runs_dir``): what they had half made goes with them."""
    host = host or socket.gethostname()
    fixed = []
    with cat.write() as s:
        for run in s.scalars(select(Run).where(Run.state.in_(LIVE_STATES), Run.host == host)):
            if run.pid and _is_our_worker(run.pid):
                _kill(run.pid, signal.SIGKILL)  # a worker that outlived its scheduler (no PDEATHSIG off Linux)
            run.state = "failed-interrupted"
            run.ended = utcnow()
            run.error = ((run.error + "\n") if run.error else "") + (
                f"interrupted: the scheduler (pid {(run.extra or {}).get('scheduler_pid')}) stopped or the machine "
                "restarted while this job ran")
            run.artwork_ids = list(s.scalars(select(Artwork.id).where(Artwork.run_id == run.id).order_by(Artwork.id)))
            fixed.append(run.id)
    for rid in fixed:
        if runs_dir is not None:
            shutil.rmtree(runs_dir / str(rid), ignore_errors=True)
        log.warning("run %d was interrupted (scheduler or machine stopped); marked failed-interrupted", rid)
    return fixed


def _is_our_worker(pid: int) -> bool:
    """Whether ``pid`` is a live gallery worker (after a reboot the number may name any process)."""
    import psutil

    try:
        p = psutil.Process(pid)
        return p.status() != psutil.STATUS_ZOMBIE and "generator.worker" in " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


class SchedulerLock:
    """One scheduler per data directory: an exclusive lock on <data_dir>/schedule.lock."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.path("schedule.lock")
        self._fd: int | None = None

    def __enter__(self) -> SchedulerLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise GalleryError(f"another scheduler (pid {other}) is running on {self.path.parent}; "
                               "stop it first (one scheduler per data directory)") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def check_kinds(sched: ScheduleSettings) -> None:
    """Every job kind's module can be found (BadInput naming the window and the kind otherwise).

    Found, not imported: the scheduler stays light (no torch in the daemon); the workers import them,
    and a function missing from its module fails its job with the reason."""
    import importlib.util

    for w in sched.windows:
        for e in w.jobs:
            mod = kind_module(e.kind)
            try:
                found = importlib.util.find_spec(mod) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise BadInput(f"schedule window {w.name!r}: job kind {e.kind!r} cannot be imported: "
                               f"no module named {mod!r}")


# ---- APScheduler ---------------------------------------------------------------------------------------
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
        scheduler.add_job("generator.schedule:scheduled_window", trig, args=[w.name, blob], id=jid, name=w.name,
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

        scheduler.add_job("generator.schedule:scheduled_window", DateTrigger(clock.now()), args=[w.name, blob],
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
    end = _utc(start) + timedelta(minutes=minutes if minutes is not None else window.minutes)
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


# ---- the demo ----------------------------------------------------------------------------------------------
# Cheap generator entries the demo's window adds when their kinds are registered in JOB_KINDS: a short
# walk, then a melody and a soundscape paired to it (the overnight programme in miniature).
DEMO_GENERATOR_JOBS: list[dict[str, Any]] = [
    {"kind": "stylegan.walk", "count": 1, "params": {"seconds": 2, "fps": 8}},
    {"kind": "musicvae.sample", "count": 1, "pair_with": "previous_visual", "pair_kinds": ["walk"]},
    {"kind": "lts.soundscape", "count": 1, "pair_with": "previous_visual", "pair_kinds": ["walk"],
     "pair_param": "visual_id", "params": {"mode": "timeline"}},
]


def schedule_step(dc: Any) -> dict[str, Any]:
    """`gallery demo`: schedule one short window (procedural images, a no-op, a walk with a melody and a
    soundscape paired to it) and run it, each job in a worker process as the nightly daemon does."""
    from generator.jobs import JOB_KINDS

    jobs: list[dict[str, Any]] = [
        {"kind": "procedural.images", "name": "demo-images", "count": 2,
         "params": {"count": 2 if dc.quick else 3, "size": 128}},
        {"kind": "noop", "name": "demo-noop", "count": 1},
    ]
    jobs += [dict(e) for e in DEMO_GENERATOR_JOBS if e["kind"] in JOB_KINDS]
    data = dc.settings.model_dump(mode="json")
    data["schedule"] = dict(data["schedule"], windows=[{"name": "demo", "cron": "* * * * *",
                                                        "duration_minutes": 2, "seed": 1, "jobs": jobs}])
    settings = type(dc.settings).model_validate(data)
    rep = run_once(settings, dc.catalogue, "demo", minutes=1.5 if dc.quick else 2)
    s = rep.summary()
    return {"window": "demo", "jobs": s["jobs"], "states": s["states"], "artworks": s["artworks"],
            "runs": [o.run_id for o in rep.outcomes], "seconds_per_job": round(
                sum(o.wall_s for o in rep.outcomes) / max(1, len(rep.outcomes)), 2)}
