"""Helpers of the synchronised-show tests and bench: an installation of three screens on 127.0.0.1,
each a real `gallery show --sync ... --headless --record` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCREENS = ("left", "centre", "right")


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def fill_catalogue(catalogue, tmp: Path) -> None:
    """Stills and videos whose every frame differs (so equal frame numbers must show equal pictures)."""
    from generator.samples import image_draft, video_draft

    for i in range(3):
        catalogue.add(image_draft(10 + i, size=64))
        catalogue.add(video_draft(tmp, seconds=3.0, fps=30, size=64, seed=i))


def write_config(tmp: Path, data_dir: Path, layout: str = "mirror", successors: tuple[str, ...] = ("centre",),
                 extra: str = "", leader_http: int = 0) -> Path:
    udp = free_ports(len(SCREENS))
    screens = "\n".join(
        f"      {n}: {{address: '127.0.0.1:{p}', layout: {layout}, column: {i}, "
        f"http_port: {leader_http if n == 'left' else 0}}}"
        for i, (n, p) in enumerate(zip(SCREENS, udp, strict=True)))
    cfg = tmp / "config.yaml"
    cfg.write_text(f"""data_dir: {data_dir}
catalogue:
  fsync: false
  gc_grace_seconds: 0
show:
  durations: {{image: 2.0}}
  default_duration: 2.0
  transition_seconds: 0.3
  label: false
  http_port: 0
  fresh_hours: 0
  programme: all
  refresh_seconds: 1.0
  sync:
    leader: left
    successors: [{", ".join(successors)}]
    sound: none
    canvas: {{columns: 3, rows: 1, bezel_px: [8, 0]}}
    screens:
{screens}
{extra}""")
    return cfg


def spawn(cfg: Path, screen: str, role: str, out: Path, seconds: float, size: str = "320x180",
          skew_ms: float = 0.0, skew_after: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, "SDL_AUDIODRIVER": "dummy", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
           "GALLERY_SYNC_SKEW_MS": str(skew_ms), "GALLERY_SYNC_SKEW_AFTER_S": str(skew_after)}
    cmd = [sys.executable, "-m", "gallery.cli", "-c", str(cfg), "show", "--sync", role, "--screen", screen,
           "--headless", "--record", str(out), "--seconds", str(seconds), "--size", size, "--fps", "30", "--json"]
    log = open(out.with_suffix(".log"), "w")  # noqa: SIM115 - the process owns it
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_all(procs: list[subprocess.Popen], timeout: float) -> list[int]:
    end = time.monotonic() + timeout
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(1.0, end - time.monotonic())))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes
