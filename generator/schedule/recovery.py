"""Recovery and locking: runs a dead scheduler left behind; one scheduler per data directory."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from catalogue.models import Artwork, Run, utcnow
from gallery.errors import GalleryError
from generator.schedule.supervise import is_our_worker, kill_pid

if TYPE_CHECKING:
    from catalogue import Catalogue
    from gallery.config import Settings

log = logging.getLogger("gallery.schedule")

LIVE_STATES = ("queued", "running")


def recover_interrupted(cat: Catalogue, runs_dir: Path | None = None, host: str | None = None) -> list[int]:
    """Mark runs of this host left queued/running (their scheduler died) as failed-interrupted, and
    remove their work folders (under ``runs_dir``): what they had half made goes with them."""
    host = host or socket.gethostname()
    fixed = []
    with cat.write() as s:
        for run in s.scalars(select(Run).where(Run.state.in_(LIVE_STATES), Run.host == host)):
            if run.pid and is_our_worker(run.pid):
                kill_pid(run.pid, signal.SIGKILL)  # a worker that outlived its scheduler (no PDEATHSIG off Linux)
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
