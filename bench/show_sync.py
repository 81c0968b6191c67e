"""Many screens, one clock (issue 27): offsets between screens, rejoin, hand-over, CPU of following.

Three `gallery show --sync ... --headless --record` processes on 127.0.0.1 (320x180, 30 frames/s) play
one programme; every frame carries the shared frame number and the observer's clock
(installation.watermark), read back from the recordings (installation.sync_measure).

    PYTHONPATH=. python bench/show_sync.py [--seconds 12]

Rows: offset of each follower to the leader, p50 / p99 / max in frames at 30 fps, over all frames
("all") and leaving out the frames a busy machine drew late ("clock": what the clocks agree to), without
skew and with a follower +200 ms and another -200 ms; the rejoin of a follower killed and restarted
(restart -> first frame, -> in sync; its clock's first exchange after it starts); the hand-over when
the leader is killed (kill -> the first frame a follower drew under the successor); the CPU of the sync
service alone (a follower's exchanges, the leader's answers per follower).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from installation.sync_measure import first_in_sync, offsets, percentiles, read_track
from tests.installation.sync_helpers import fill_catalogue, spawn, wait_all, write_config

FPS = 30


def setup(tmp: Path) -> tuple[Path, Path]:
    from catalogue import open_catalogue
    from gallery.config import load_settings

    data = tmp / "data"
    data.mkdir()
    cfg = write_config(tmp, data)
    cat = open_catalogue(load_settings(cfg, environ={}))
    fill_catalogue(cat, tmp)
    cat.close()
    return cfg, data


def wait_running(data: Path, names: list[str], timeout: float = 60) -> None:
    files = [data / "show" / ("status.json" if n == "left" else f"status-{n}.json") for n in names]
    end = time.monotonic() + timeout
    while time.monotonic() < end and not all(f.exists() for f in files):
        time.sleep(0.1)


def lockstep(tmp: Path, seconds: float, skew: bool) -> list[tuple]:
    cfg, _ = setup(tmp)
    out = {n: tmp / f"{n}.mkv" for n in ("left", "centre", "right")}
    procs = [spawn(cfg, "left", "leader", out["left"], seconds),
             spawn(cfg, "centre", "follower", out["centre"], seconds, skew_ms=200 if skew else 0),
             spawn(cfg, "right", "follower", out["right"], seconds, skew_ms=-200 if skew else 0)]
    wait_all(procs, seconds + 120)
    tr = {n: read_track(p) for n, p in out.items()}
    rows = []
    for n in ("centre", "right"):
        a = percentiles(offsets(tr["left"], tr[n], FPS))
        c = percentiles(offsets(tr["left"], tr[n], FPS, skip_late=True))
        rows.append((f"{'±200 ms skew' if skew else 'no skew'}: {n} ({'+200' if skew and n == 'centre' else '-200' if skew else '0'} ms)",
                     a["n"], a["p50"], a["p99"], a["max"], c["p50"], c["p99"], c["max"]))
    return rows


def restart(tmp: Path, seconds: float) -> dict[str, float]:
    cfg, data = setup(tmp)
    lead = spawn(cfg, "left", "leader", tmp / "left.mkv", seconds + 8)
    first = spawn(cfg, "right", "follower", tmp / "right1.mkv", seconds + 8)
    wait_running(data, ["left", "right"])
    time.sleep(1.0)
    first.send_signal(signal.SIGKILL)
    first.wait()
    t = time.time() * 1000
    again = spawn(cfg, "right", "follower", tmp / "right2.mkv", 4)
    wait_all([again, lead], seconds + 120)
    left, right = read_track(tmp / "left.mkv"), read_track(tmp / "right2.mkv")
    first_frame = min(ms for ms, _, _ in right.frames.values())
    joined = first_in_sync(left, right, FPS)
    final = json.loads((tmp / "right2.log").read_text().strip().splitlines()[-1])
    return {"restart -> first frame (s)": (first_frame - t) / 1000,
            "restart -> in sync (s)": None if joined is None else (joined - t) / 1000,
            "first frame -> in sync (s)": None if joined is None else (joined - first_frame) / 1000,
            "sync service start -> first exchange (s)": final["sync"]["synced_after_s"]}


def handover(tmp: Path) -> dict[str, float]:
    cfg, data = setup(tmp)
    out = {n: tmp / f"{n}.mkv" for n in ("left", "centre", "right")}
    procs = [spawn(cfg, "left", "leader", out["left"], 40), spawn(cfg, "centre", "follower", out["centre"], 10),
             spawn(cfg, "right", "follower", out["right"], 10)]
    wait_running(data, ["left", "centre", "right"])
    time.sleep(2.0)
    procs[0].send_signal(signal.SIGKILL)
    killed = time.time() * 1000
    wait_all(procs[1:], 120)
    centre, right = read_track(out["centre"]), read_track(out["right"])
    tags = sorted((ms, tag & 0xF) for ms, tag, _ in right.frames.values())
    took = [ms for ms, tg in tags if ms > killed and tg == 2]
    times = [ms for ms, _ in tags]
    after = percentiles(offsets(centre, right, FPS, since_ms=int(killed)))
    return {"kill -> successor leads a follower's frame (s)": (took[0] - killed) / 1000 if took else None,
            "longest gap in a follower's frames (s)": max(b - a for a, b in zip(times, times[1:], strict=False)) / 1000,
            "offset after, p99 (frames)": after["p99"]}


CPU_CODE = """
import os, sys, time
from installation.sync_follower import SyncNode
from installation.sync_clock import Timeline
from installation.sync_settings import SyncSettings
from tests.installation.sync_helpers import free_ports
n = int(sys.argv[1]); T = float(sys.argv[2])
names = ["s%d" % i for i in range(n + 1)]
ports = free_ports(n + 1)
cfg = SyncSettings(leader="s0", screens={m: {"address": "127.0.0.1:%d" % p} for m, p in zip(names, ports)})
lead = SyncNode(cfg, "s0", "leader", Timeline(0.0, "all", "v"))
import subprocess
code = "import sys,time,os,json;from installation.sync_follower import SyncNode;from installation.sync_settings import SyncSettings;" \\
       "cfg=SyncSettings.model_validate_json(sys.argv[1]);node=SyncNode(cfg,sys.argv[2],'follower');" \\
       "c0=os.times();time.sleep(float(sys.argv[3]));c1=os.times();print((c1.user+c1.system-c0.user-c0.system)/float(sys.argv[3]))"
ps = [subprocess.Popen([sys.executable, "-c", code, cfg.model_dump_json(), m, str(T)], stdout=subprocess.PIPE, text=True)
      for m in names[1:]]
time.sleep(1.0)
c0 = os.times(); time.sleep(T - 1.0); c1 = os.times()
fol = [float(p.communicate()[0]) for p in ps]
print((c1.user + c1.system - c0.user - c0.system) / (T - 1.0), sum(fol) / max(1, len(fol)))
"""


def cpu(n: int, seconds: float = 8.0) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", CPU_CODE, str(n), str(seconds)], env=env, capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    lead, fol = res.stdout.split()
    return float(lead), float(fol)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=12.0)
    args = ap.parse_args()
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    print(f"load average at start: {os.getloadavg()}")
    rows = []
    for skew in (False, True):
        with tempfile.TemporaryDirectory() as d:
            rows += lockstep(Path(d), args.seconds, skew)
    print("\n| run | frames | all: p50 / p99 / max (frames) | clock: p50 / p99 / max (frames) |\n| --- | ---: | --- | --- |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.2f} / {r[3]:.2f} / {r[4]:.2f} | {r[5]:.2f} / {r[6]:.2f} / {r[7]:.2f} |")
    with tempfile.TemporaryDirectory() as d:
        re = restart(Path(d), args.seconds)
    with tempfile.TemporaryDirectory() as d:
        ho = handover(Path(d))
    print("\n| measure | value |\n| --- | ---: |")
    for k, v in {**re, **ho}.items():
        print(f"| {k} | {'-' if v is None else f'{v:.3f}'} |")
    l0, _ = cpu(0)
    l3, f3 = cpu(3)
    print("\n| sync service CPU (share of one core) | value |\n| --- | ---: |")
    print(f"| a follower's exchanges (5/s) | {100 * f3:.2f} % |")
    print(f"| the leader, 0 followers | {100 * l0:.2f} % |")
    print(f"| the leader, 3 followers (per follower) | {100 * (l3 - l0) / 3:.2f} % |")
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
