"""Content-addressed media store: blobs at ``<root>/sha256/ab/cdef…``, written to a temp file and renamed."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1 << 20


class MediaStore:
    def __init__(self, root: Path, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.blobs = self.root / "sha256"
        self.tmp = self.root / "tmp"
        self.quarantine = self.root / "quarantine"
        for d in (self.blobs, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        self._dirs: set[Path] = set()
        self._seq = itertools.count()

    # ---- paths -----------------------------------------------------------------------------
    def path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return self.blobs / sha[:2] / sha[2:]

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    # ---- writing ---------------------------------------------------------------------------
    def put_bytes(self, data: bytes, sync: bool | None = None) -> str:
        """Store bytes; ``sync=False`` skips the per-file fsync (the caller calls :meth:`sync`)."""
        sha = hashlib.sha256(data).hexdigest()
        final = self.path(sha)
        if self.touch(sha):
            return sha
        self._write_atomic(final, lambda f: f.write(data), self.fsync if sync is None else sync)
        return sha

    def put_file(self, src: Path, sync: bool | None = None) -> str:
        """Copy a file into the store (streamed, hashed while copying)."""
        sync = self.fsync if sync is None else sync
        src = Path(src)
        h = hashlib.sha256()
        tmp_name = self._tmp_name()
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                while chunk := inp.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                if sync:
                    os.fsync(out.fileno())
            sha = h.hexdigest()
            final = self.path(sha)
            if self.touch(sha):
                os.unlink(tmp_name)
                return sha
            self._replace(tmp_name, final)
            if sync:
                self._fsync_dir(final.parent)
            return sha
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def touch(self, sha: str) -> bool:
        """Refresh an existing blob's mtime (a re-put makes it young again, so gc's grace time
        counts from the last put, not the first); False when the blob is not there."""
        final = self.path(sha)
        try:
            os.utime(final)
        except FileNotFoundError:
            return False
        except PermissionError:  # a read-only store shared with us: presence is what matters
            return final.is_file()
        return final.is_file()

    def _tmp_name(self) -> str:
        return os.path.join(self.tmp, f"in-{os.getpid()}-{threading.get_ident()}-{next(self._seq)}")

    def _ensure_dir(self, d: Path) -> None:
        if d not in self._dirs:
            d.mkdir(parents=True, exist_ok=True)
            self._dirs.add(d)

    def _replace(self, tmp_name: str, final: Path) -> None:
        """Move a written temp file to its blob path; the shard directory is made again if it was
        removed since it was last seen (gc removes empty ones, in this process or another)."""
        self._ensure_dir(final.parent)
        for attempt in range(5):
            try:
                os.replace(tmp_name, final)
                return
            except FileNotFoundError:
                if attempt == 4 or not os.path.exists(tmp_name):
                    raise
                final.parent.mkdir(parents=True, exist_ok=True)

    def _write_atomic(self, final: Path, writer, sync: bool) -> None:
        tmp_name = self._tmp_name()
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as f:
                writer(f)
                f.flush()
                if sync:
                    os.fsync(f.fileno())
            self._replace(tmp_name, final)
            if sync:
                self._fsync_dir(final.parent)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def sync(self) -> None:
        """Make every blob written so far durable with one syncfs(2) of the store's file system
        (group commit for a batch), falling back to sync(2) where syncfs is unavailable."""
        if not self.fsync:
            return
        import ctypes
        import ctypes.util

        fd = os.open(self.root, os.O_RDONLY)
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            if libc.syncfs(fd) == 0:
                return
        except (OSError, AttributeError):
            pass
        finally:
            os.close(fd)
        os.sync()

    def _fsync_dir(self, d: Path) -> None:
        try:
            fd = os.open(d, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- reading / maintenance -------------------------------------------------------------
    def read_bytes(self, sha: str) -> bytes:
        return self.path(sha).read_bytes()

    def hash_file(self, path: Path) -> str:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
        return h.hexdigest()

    def iter_blobs(self) -> Iterator[tuple[str, Path]]:
        if not self.blobs.exists():
            return
        for sub in sorted(self.blobs.iterdir()):
            if not sub.is_dir():
                continue
            for f in sorted(sub.iterdir()):
                yield sub.name + f.name, f

    def move_to_quarantine(self, sha: str) -> Path | None:
        src = self.path(sha)
        if not src.exists():
            return None
        self.quarantine.mkdir(parents=True, exist_ok=True)
        dst = self.quarantine / f"{sha}.{int(time.time())}"
        shutil.move(str(src), dst)
        return dst

    def clean_tmp(self, older_than_s: float) -> int:
        """Remove temp files older than ``older_than_s`` whose writing process is gone (the pid is in
        the name; a live one may still be writing it, whatever its age)."""
        n = 0
        now = time.time()
        for f in self.tmp.iterdir():
            try:
                if now - f.stat().st_mtime >= older_than_s and not _writer_alive(f.name):
                    f.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n


def _writer_alive(name: str) -> bool:
    """Whether the process that named this temp file (``in-<pid>-…``) still runs."""
    parts = name.split("-")
    if len(parts) < 2 or parts[0] != "in" or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
