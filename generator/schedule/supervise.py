"""One job in a worker subprocess: a fresh interpreter or a child of the fork server, time-boxed,
its `run` row updated with how it ended; which modules the job kinds need."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from catalogue.models import Artwork, Run, utcnow
from gallery.errors import BadInput, GalleryError
from generator.schedule.settings import ScheduleSettings

if TYPE_CHECKING:
    from catalogue import Catalogue
    from gallery.config import Settings

log = logging.getLogger("gallery.schedule")

# The worker's module, run as ``python -m WORKER_MODULE``: both spawn sites below (the fork server
# and a fresh interpreter per job) and the check that a pid is still one of our workers.
WORKER_MODULE = "gallery.worker"  # the front door's worker: it wires the after-save hooks, then runs generator.worker


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
            self.proc = subprocess.Popen([sys.executable, "-m", WORKER_MODULE, "--server", *self.modules],
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
            kill_pid(pid, signal.SIGKILL)
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
    """The module of a job kind: a registered kind or an explicit ``module:function``."""
    from generator import registry

    return registry.module_of(kind)


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
            proc = subprocess.Popen([sys.executable, "-m", WORKER_MODULE, str(run_id)], env=env,
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
            kill_pid(wpid, signal.SIGTERM)
        elif term_at is not None and (now >= max(hard_deadline, term_at + min(grace, 1.0)) or
                                      now >= term_at + grace):
            kill_pid(wpid, signal.SIGKILL)
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


def kill_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def is_our_worker(pid: int) -> bool:
    """Whether ``pid`` is a live gallery worker (after a reboot the number may name any process)."""
    import psutil

    try:
        p = psutil.Process(pid)
        return p.status() != psutil.STATUS_ZOMBIE and any(m in " ".join(p.cmdline()) for m in (WORKER_MODULE, "generator.worker"))
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def kind_modules(kinds: Any) -> list[str]:
    """The modules of ``kinds``, each once, in order (what the fork server imports once)."""
    return [m for m in dict.fromkeys(kind_module(k) for k in kinds) if m]


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
