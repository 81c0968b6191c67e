"""gc against commits in flight: real processes race, and no committed row may name a missing blob.

Each round: a writer is SIGKILLed after writing its blobs (before its rows); its leftovers are aged
past the grace time; then a rerun of that job (adding the same media, from files), a second writer
and a gc loop run at once, with random pauses between each writer's blobs and its rows and between
gc's scan and its deletes. ``LG_RACE_ROUNDS`` (default 2) sets how many seeded rounds run per backend.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalogue import Catalogue

REPO = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("LG_RACE_ROUNDS", "2"))
N = int(os.environ.get("LG_RACE_ADDS", "40"))  # adds per writer per round


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.foundation.writer_proc", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def wait_for(path: Path, p: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert p.poll() is None, p.stderr.read() if p.stderr else ""
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def race_round(url: str, media: Path, tmp: Path, seed: int, grace: float) -> dict[str, int]:
    cat = Catalogue(url, media, fsync=False, gc_grace_seconds=0)
    flag = tmp / "killed-writer.flag"
    killed = spawn("put-then-hang", url, str(media), str(flag), str(N))
    wait_for(flag, killed)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert cat.count() == 0
    leftovers = list(cat.store.iter_blobs())
    assert len(leftovers) == 2 * N + 1  # image + thumbnail per draft, one shared watermark
    old = time.time() - 10 * max(grace, 60)
    for _sha, p in leftovers:
        os.utime(p, (old, old))

    env = {"LG_RACE_SEED": str(seed), "LG_RACE_GRACE": str(grace)}
    stop = tmp / "stop-gc"
    gc = spawn("race-gc", url, str(media), str(stop), "0", env=env)
    writers = [spawn("race-write-file", url, str(media), "job", str(N), env=env),
               spawn("race-write", url, str(media), f"other-{seed}", str(N), env=env)]
    outs = []
    for w in writers:
        out, err = w.communicate(timeout=600)
        assert w.returncode == 0, err[-3000:]
        outs.append(out)
    wait_for(Path(str(stop) + ".ready"), gc)  # gc ran at least once (usually many times, mid-race)
    stop.write_text("stop")
    gout, gerr = gc.communicate(timeout=300)
    assert gc.returncode == 0, gerr[-3000:]

    rep = cat.verify()
    assert rep.missing == [], f"seed {seed}: committed rows name {len(rep.missing)} missing blobs"
    assert rep.ok
    assert cat.count() == 2 * N
    st = cat.stats()
    assert st["media_rows"] == 3 * 2 * N
    put_back = sum(int(o.split("put_back=")[1]) for o in outs)
    loops, removed = (int(x.split("=")[1]) for x in gout.split()[1:3])
    cat.gc(grace_seconds=0)  # everything left unreferenced goes; everything named stays
    assert cat.verify().ok
    assert cat.stats()["blobs"] == 4 * N + 1
    cat.close()
    return {"gc_loops": loops, "gc_removed": removed, "put_back": put_back}


@pytest.mark.parametrize("grace", [0.0, 30.0], ids=["grace0", "grace30"])
def test_gc_never_removes_a_blob_a_commit_names_sqlite(tmp_path, grace):
    totals = {"gc_loops": 0, "gc_removed": 0, "put_back": 0}
    rounds = ROUNDS if grace == 0 else max(1, ROUNDS // 2)
    for seed in range(rounds):
        d = tmp_path / f"r{seed}"
        d.mkdir()
        got = race_round(f"sqlite:///{d / 'cat.sqlite'}", d / "media", d, seed, grace)
        totals = {k: totals[k] + got[k] for k in totals}
    print(f"\nsqlite grace={grace}: {rounds} rounds x {2 * N} adds: {totals}")
    assert totals["gc_loops"] >= rounds


@pytest.mark.postgres
def test_gc_never_removes_a_blob_a_commit_names_postgres(tmp_path, pg_server):
    totals = {"gc_loops": 0, "gc_removed": 0, "put_back": 0}
    rounds = max(1, ROUNDS // 2)
    for seed in range(rounds):
        d = tmp_path / f"r{seed}"
        d.mkdir()
        got = race_round(pg_server.create_db(f"race{seed}_{os.getpid()}"), d / "media", d, seed, 0.0)
        totals = {k: totals[k] + got[k] for k in totals}
    print(f"\npostgres grace=0: {rounds} rounds x {2 * N} adds: {totals}")
    assert totals["gc_loops"] >= rounds
