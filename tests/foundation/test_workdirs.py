"""gc removes the scratch folders SIGKILLed jobs leave under data_dir/work (and runs/<id>), once
older than the grace time, and never one a live process still owns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from catalogue import Catalogue, open_catalogue
from catalogue.workdirs import owned_tempdir, stale

REPO = Path(__file__).resolve().parents[2]


def start(how: str, work: Path, flag: Path) -> tuple[subprocess.Popen, Path]:
    p = subprocess.Popen([sys.executable, "-m", "tests.foundation.workdir_proc", how, str(work), str(flag)],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not flag.exists() or not flag.read_text():
        assert p.poll() is None, p.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return p, Path(flag.read_text())


def age(p: Path, seconds: float) -> None:
    t = time.time() - seconds
    for root, dirs, files in os.walk(p):
        for n in dirs + files:
            os.utime(os.path.join(root, n), (t, t), follow_symlinks=False)
    os.utime(p, (t, t))


def kill(p: subprocess.Popen) -> None:
    os.kill(p.pid, signal.SIGKILL)
    p.wait()


def test_gc_removes_scratch_of_killed_jobs_keeps_live_ones(settings, tmp_path):
    work = settings.data_dir / "work"
    run_dir = settings.data_dir / "runs" / "17"
    cat = open_catalogue(settings)  # work patterns come from data_dir
    procs = {}
    for how, where in [("closed", work), ("closed-run", run_dir), ("open-file", work), ("owned", work),
                       ("cwd", work)]:
        procs[how] = start(how.removesuffix("-run"), where, tmp_path / f"{how}.flag")
    kill(procs["closed"][0])
    kill(procs["closed-run"][0])
    young_p, young = start("closed", work, tmp_path / "young.flag")
    kill(young_p)  # killed just now: younger than the grace time
    keep = work / "musicvae"  # a job's named output folder, not a tempfile scratch folder
    keep.mkdir()
    (keep / "melody.mid").write_bytes(b"MThd")
    for _, d in procs.values():
        age(d, 7200)
    age(keep, 7200)

    assert sorted(stale(cat.work_patterns, 3600)) == sorted([procs["closed"][1], procs["closed-run"][1]])
    res = cat.gc(grace_seconds=3600)
    assert sorted(res.workdirs) == sorted([procs["closed"][1], procs["closed-run"][1]])
    assert not procs["closed"][1].exists() and not procs["closed-run"][1].exists()
    for how in ("open-file", "owned", "cwd"):
        assert procs[how][1].is_dir(), f"gc removed the folder of a live job ({how})"
    assert young.is_dir() and (keep / "melody.mid").is_file()

    for how in ("open-file", "owned", "cwd"):  # now they die too
        kill(procs[how][0])
    res = cat.gc(grace_seconds=3600)
    assert sorted(res.workdirs) == sorted(procs[h][1] for h in ("open-file", "owned", "cwd"))
    assert young.is_dir()
    assert cat.gc(grace_seconds=0).workdirs == [young]
    assert sorted(p.name for p in work.iterdir()) == ["musicvae"]
    cat.close()


def test_owned_tempdir_is_ours_until_closed(tmp_path):
    work = tmp_path / "work"
    with owned_tempdir(work) as d:
        (d / "x").write_text("x")
        age(d, 7200)
        assert stale([str(work / "tmp*")], 60) == []
    assert not d.exists()


def test_gc_keeps_tmp_files_of_live_writers(tmp_path):
    cat = Catalogue(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path / "media", fsync=False)
    mine = cat.store.tmp / f"in-{os.getpid()}-1-0"  # being written by this (live) process
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = cat.store.tmp / f"in-{int(dead.stdout)}-1-0"  # its writer has exited
    for f in (mine, gone):
        f.write_bytes(b"partial")
    res = cat.gc(grace_seconds=0)
    assert res.tmp_files == 1 and mine.exists() and not gone.exists()
    cat.close()
