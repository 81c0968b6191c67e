"""Scratch folders of jobs (``data_dir/work/tmp*`` and the like) and which of them are stale.

A job killed with SIGKILL leaves its ``tempfile.TemporaryDirectory`` behind. gc removes such a
folder when its newest entry is older than the grace time and no live process owns it. A process
owns a folder when it holds the folder's ``.owner`` file locked (:func:`owned_tempdir`), or when its
working directory or one of its open files lies inside the folder (read from ``/proc``, so the
folders of jobs that use plain ``tempfile`` are recognised too, as are their ffmpeg children).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

OWNER_FILE = ".owner"


@contextlib.contextmanager
def owned_tempdir(parent: Path | str, prefix: str = "tmp") -> Iterator[Path]:
    """A temporary folder under ``parent`` marked as owned by this process for as long as it is open
    (an flock on its ``.owner`` file; the kernel drops it when the process dies, however it dies)."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    fd = os.open(d / OWNER_FILE, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield d
    finally:
        os.close(fd)
        shutil.rmtree(d, ignore_errors=True)


def _locked_by_someone(d: Path) -> bool:
    try:
        fd = os.open(d / OWNER_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops our own (probe) lock
    return False


def _inside(target: str, roots: Sequence[str]) -> str | None:
    for r in roots:
        if target == r or target.startswith(r + os.sep):
            return r
    return None


def live_users(paths: Sequence[Path]) -> set[Path]:
    """Those of ``paths`` that some live process (this one included) works in or holds a file of."""
    roots = [os.path.realpath(p) for p in paths]
    used: set[str] = set()
    proc = Path("/proc")
    if not proc.is_dir():
        return set()
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        links = [pid_dir / "cwd"]
        with contextlib.suppress(OSError):  # gone, or not ours to read
            links += list((pid_dir / "fd").iterdir())
        for link in links:
            try:
                target = os.readlink(link)
            except OSError:
                continue
            hit = _inside(target.removesuffix(" (deleted)"), roots)
            if hit is not None:
                used.add(hit)
        if len(used) == len(roots):
            break
    return {Path(p) for p, r in zip(paths, roots, strict=True) if r in used}


def newest_mtime(p: Path) -> float:
    """The newest mtime of ``p`` and everything under it (a folder being written to stays young)."""
    try:
        newest = p.lstat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone: nothing to do
    if p.is_dir() and not p.is_symlink():
        for root, dirs, files in os.walk(p):
            for name in dirs + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
                except FileNotFoundError:
                    continue
    return newest


def stale(patterns: Sequence[str], grace_s: float, now: float | None = None) -> list[Path]:
    """Scratch folders (and files) matching ``patterns`` that are older than the grace time and owned
    by no live process."""
    now = time.time() if now is None else now
    old = sorted({Path(p) for pat in patterns for p in glob.glob(pat)
                  if now - newest_mtime(Path(p)) >= grace_s})
    if not old:
        return []
    old = [p for p in old if not (p.is_dir() and _locked_by_someone(p))]
    busy = live_users(old)
    return [p for p in old if p not in busy]


def remove_stale(patterns: Sequence[str], grace_s: float, now: float | None = None) -> list[Path]:
    removed = []
    for p in stale(patterns, grace_s, now):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        if not p.exists() and not p.is_symlink():
            removed.append(p)
    return removed
