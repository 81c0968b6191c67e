"""Config-limits benchmark: time and peak memory of refusing hostile config files (issue 21).

Each case runs `gallery config check` in a fresh process (wall time including the interpreter's start
and imports, peak RSS of that process, exit code) and the loader in this process (best of 3 wall
times, then the tracemalloc peak of the load itself; reading a file reserves its 1 MiB limit). The cases: the
shipped config.yaml (the baseline), billion-laughs documents in a typed field and in a scheduled job's
params, a 1 MiB+1 file, nesting 10,000 levels deep, and a 64-hex key in a field.

Before the limits (issue 21): the billion laughs in a typed field took 108 s and 3.5 GB before a
MemoryError; inside a job's params `config check` said ok and the scheduler died at 6.3 GB.

    .venv/bin/python bench/config_limits.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gallery.config import load_settings
from gallery.errors import ConfigError


def laughs(depth: int, fanout: int, at: str) -> str:
    lines = ["x0: &x0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for i in range(1, depth):
        lines.append(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * fanout) + "]")
    bomb = f"*x{depth - 1}"
    if at == "params":
        lines.append("schedule:\n  windows:\n    - {name: n, start: '22:00', end: '07:00', jobs: "
                     f"[{{kind: stylegan.walk, count: 1, params: {{bends: {bomb}}}}}]}}")
    else:
        lines.append(f"{at}: {bomb}")
    return "\n".join(lines) + "\n"


def cases(tmp: Path) -> list[tuple[str, Path]]:
    out = [("shipped config.yaml", REPO / "config.yaml")]
    texts = {
        "billion laughs 10^9, typed field (seed)": laughs(9, 10, "seed"),
        "billion laughs 10^9, job params": laughs(9, 10, "params"),
        "laughs 40^30 (huge fan-out)": laughs(30, 40, "show"),
        "1 MiB + 1 byte": "#" * (1 << 20) + "\n",
        "nesting 10,000 deep": "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "64-hex key in minting.description": "minting:\n  description: " + "4c" * 32 + "\n",
    }
    for i, (name, text) in enumerate(texts.items()):
        p = tmp / f"case{i}.yaml"
        p.write_text(text)
        out.append((name, p))
    return out


def _load(p: Path) -> str:
    try:
        load_settings(p, environ={}, check_paths=False)
        return "ok"
    except ConfigError as e:
        return str(e).split(": ", 1)[1][:60]


def in_process(p: Path) -> tuple[float, float, str]:
    """Best of 3 wall times (no tracing), then the tracemalloc peak of one more load."""
    times = []
    for _ in range(3):
        t = time.perf_counter()
        outcome = _load(p)
        times.append(time.perf_counter() - t)
    tracemalloc.start()
    _load(p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return min(times), peak / 2 ** 20, outcome


def cli(p: Path) -> tuple[float, float, int]:
    code = ("import resource, sys, runpy\n"
            "sys.argv = ['gallery', 'config', 'check', '--config', sys.argv[1]]\n"
            "try:\n    runpy.run_module('gallery.cli', run_name='__main__')\n"
            "finally:\n    print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, env=env, cwd=REPO,
                       timeout=600)
    dt = time.perf_counter() - t
    rss = next((int(line.split()[1]) for line in r.stderr.splitlines() if line.startswith("MAXRSS")), 0)
    return dt, rss / 1024, r.returncode


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="config-limits-") as tmp:
        rows = []
        for name, p in cases(Path(tmp)):
            dt, peak, outcome = in_process(p)
            cdt, crss, rc = cli(p)
            rows.append((name, dt, peak, cdt, crss, rc, outcome))
    print(f"{'case':42} {'load s':>8} {'load MiB':>9} {'CLI s':>7} {'CLI RSS MiB':>12} {'exit':>5}  outcome")
    for name, dt, peak, cdt, crss, rc, outcome in rows:
        print(f"{name:42} {dt:8.3f} {peak:9.2f} {cdt:7.2f} {crss:12.1f} {rc:5d}  {outcome}")
    print(f"(python {sys.version.split()[0]}, this process max RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
