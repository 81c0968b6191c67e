"""Several processes on one SQLite catalogue, and writers killed with SIGKILL (real subprocesses)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from catalogue import Catalogue

REPO = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.foundation.writer_proc", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_writers_two_readers_no_lock_errors(tmp_path):
    url = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    media = tmp_path / "media"
    Catalogue(url, media).close()  # migrate once up front
    procs = [spawn("write-fast", url, str(media), f"w{k}", "500") for k in range(2)]
    procs += [spawn("read", url, str(media), f"r{k}", "8") for k in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        outs.append(out)
        assert p.returncode == 0, f"process failed:\n{err[-3000:]}"
        assert "locked" not in err
    assert all(o.startswith("polls") for o in outs[2:])
    cat = Catalogue(url, media)
    assert cat.count() == 1000
    assert cat.stats()["media_rows"] == 3000
    assert cat.verify().ok


def test_sigkill_between_blobs_and_rows_leaves_no_broken_artwork(tmp_path):
    url = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    media = tmp_path / "media"
    cat = Catalogue(url, media, gc_grace_seconds=0)
    flag = tmp_path / "flag"
    p = spawn("crash-mid-add", url, str(media), str(flag), "1")
    deadline = time.monotonic() + 120
    while not flag.exists():
        assert p.poll() is None, p.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert cat.count() == 0
    blobs = list(cat.store.iter_blobs())
    assert len(blobs) == 3  # the blobs made it to disk, the rows did not
    assert cat.verify().ok
    removed = cat.gc()
    assert len(removed) == 3
    assert list(cat.store.iter_blobs()) == []


def test_sigkill_during_a_stream_of_adds(tmp_path):
    url = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    media = tmp_path / "media"
    cat = Catalogue(url, media, gc_grace_seconds=0)
    tag = str(tmp_path / "stream")
    p = spawn("write-forever", url, str(media), tag, "0")
    deadline = time.monotonic() + 120
    while not Path(tag + ".started").exists():
        assert p.poll() is None, p.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.7)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    n = cat.count()
    assert n >= 3
    rep = cat.verify()
    assert rep.ok, f"artworks with missing/corrupt blobs after SIGKILL: {rep.missing} {rep.corrupt}"
    cat.gc()
    st = cat.stats()
    assert st["blobs"] == st["media_rows"] == 3 * n
    assert list(cat.store.tmp.iterdir()) == []
