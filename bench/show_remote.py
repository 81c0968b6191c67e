"""Remote `next` to the new work's first frame: the show's control API against a live-like show.

    .venv/bin/python bench/show_remote.py [--n 40] [--size 1280x720] [--fps 30] [--gap 1.6]

A live-like show: headless EGL, a real clock (show time = monotonic time), the render loop draining
the dispatcher each frame, the control server (installation.api) on a real socket. A client process
sends ``POST /api/v1/next`` N times (spaced beyond a transition, so each skip starts at once). Timed,
on the one monotonic clock of both processes: request sent -> the new work's first frame drawn (GL
finished; the goal, p95 < 100 ms), request sent -> answer received (the show answers after that
frame), and inside the show request parsed -> frame drawn. Also frames over budget, the machine's
load and CPU count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

CLIENT = """
import json, sys, time, urllib.request
url, n, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
out = []
time.sleep(2.0)  # the first work is on screen
for _ in range(n):
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10) as r:
            r.read()
            code = r.status
    except Exception as e:
        code = getattr(e, "code", 0)
    out.append([t0, time.monotonic(), code])
    time.sleep(gap)
print(json.dumps(out))
"""


def percentiles(xs: list[float]) -> tuple[float, float, float]:
    a = np.asarray(xs)
    return float(np.percentile(a, 50)), float(np.percentile(a, 95)), float(a.max())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="number of remote `next` requests")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--finish", choices=["ctypes", "moderngl"], default="ctypes",
                    help="glFinish without the GIL (as the live show) or moderngl's ctx.finish (holds it)")
    ap.add_argument("--gap", type=float, default=1.6, help="seconds between requests (beyond a transition)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))

    from catalogue import open_catalogue
    from gallery.config import load_settings
    from generator.samples import image_draft
    from installation.audio import RecordAudio
    from installation.control import Controller, Dispatcher
    from installation.glsync import gil_free_finish
    from installation.heartbeat import Heartbeat
    from installation.programme import CatalogueSource
    from installation.render import Renderer, headless_context, offscreen_target
    from installation.settings import ShowSettings
    from installation.show import Show

    with tempfile.TemporaryDirectory(prefix="bench-remote-") as d:
        settings = load_settings(None, environ={}, overrides={"data_dir": d, "catalogue": {"fsync": False}})
        cat = open_catalogue(settings)
        for i in range(8):
            cat.add(image_draft(i, size=512))
        ss = ShowSettings(durations={"image": 60.0}, transition_seconds=1.0, fps=args.fps, http_port=0, seed=1,
                          fresh_hours=0, heartbeat_seconds=1.0)
        ctx = headless_context()
        fbo = offscreen_target(ctx, w, h)
        r = Renderer(ctx, w, h, ss.fit)
        audio = RecordAudio(ss.sample_rate)  # silent: the bench times pictures
        show = Show(ss, r, audio, source=CatalogueSource(cat, ss), catalogue=cat, live=True)
        hb = Heartbeat(None, port=0, stale_after=10.0)
        hb._serve(0)  # an ephemeral port
        control = Controller(show, audio, Dispatcher(), on_change=hb.beat)
        hb.control = control.dispatcher
        url = f"http://127.0.0.1:{hb.port}/api/v1/next"
        # The client is another process (as a phone or curl would be), so its timing does not wait on
        # this process's GIL; both read CLOCK_MONOTONIC, so its send times compare with our frame times.
        client = subprocess.Popen([sys.executable, "-c", CLIENT, url, str(args.n), str(args.gap)],
                                  stdout=subprocess.PIPE, text=True)
        finish = (gil_free_finish() if args.finish == "ctypes" else None) or ctx.finish
        seen: dict[int, tuple[float, float, float]] = {}  # id(command) -> (submitted, taken, frame drawn)
        t_start = time.monotonic()
        period = 1.0 / args.fps
        frames = late = 0
        next_beat = 0.0
        load0 = os.getloadavg()
        while client.poll() is None:
            mono = time.monotonic()
            t, _ = control.step(mono - t_start)
            show.frame(t, fbo)
            finish()  # the frame is drawn (the GL work done), as the live loop does before its flip
            control.after_frame()
            for c in control.applied:
                if c.completed_at is not None and c.name == "next":
                    seen[id(c)] = (c.submitted, c.applied_at or c.completed_at, c.completed_at)
            frames += 1
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + ss.heartbeat_seconds
                hb.beat(show.status())
            spare = period - (now - mono)
            if spare > 0:
                time.sleep(spare)
            else:
                late += 1
        load1 = os.getloadavg()
        sent = json.loads(client.stdout.read() or "[]")
        st = show.status()
        control.close()
        hb.close()
        show.close()
        r.release()
        fbo.release()
        ctx.release()
        cat.close()

    drawn = sorted(v[2] for v in seen.values())
    ok = [x for x in sent if x[2] == 200]
    errors = [f"HTTP {x[2]}" for x in sent if x[2] != 200]
    rtts = [1000 * (x[1] - x[0]) for x in ok]
    # each answered request's new work was drawn before its answer and after its send
    first = [1000 * (min(d for d in drawn if d >= x[0]) - x[0]) for x in ok if any(d >= x[0] for d in drawn)]
    server = [1000 * (v[2] - v[0]) for v in seen.values()]
    queued = [1000 * (v[1] - v[0]) for v in seen.values()]
    drawing = [1000 * (v[2] - v[1]) for v in seen.values()]
    print(f"## Remote `next` to the new work's first drawn frame ({w}x{h}, {args.fps:g} frames/s, finish: {args.finish}, "
          f"{ctx.info.get('GL_RENDERER', '?') if hasattr(ctx, 'info') else '?'})\n")
    print("| measure | n | p50 ms | p95 ms | max ms |")
    print("|---|--:|--:|--:|--:|")
    for name, xs in (("request sent -> new work's first frame drawn", first),
                     ("request sent -> answer received (sent after that frame)", rtts),
                     ("in the show: request parsed -> frame drawn", server),
                     ("  of which: waiting for the render loop to take it", queued),
                     ("  of which: taken -> the new work's frame drawn", drawing)):
        if xs:
            p50, p95, mx = percentiles(xs)
            print(f"| {name} | {len(xs)} | {p50:.1f} | {p95:.1f} | {mx:.1f} |")
    print(f"\nframes {frames}, frames over budget {late}, items started {st['items_started']}, "
          f"errors {len(errors)}{': ' + errors[0] if errors else ''}")
    print(f"load average before {load0[0]:.2f} / after {load1[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    if first:
        p95 = percentiles(first)[1]
        print(f"goal p95 < 100 ms: {'met' if p95 < 100 else 'NOT met'} ({p95:.1f} ms)")


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
