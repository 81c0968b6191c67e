"""Benchmarks of the show (prints tables): frame times on this machine's GL, A/V offset, memory over time.

    .venv/bin/python bench/installation.py [--frames 120] [--transitions 1000] [--quick] [--crossfades-only] [--lp-threads 0,1]

1. Crossfades at 1920x1080, the same two fitted pictures, side by side (frame by frame in turn): pygame
   alone (software Surface alpha blit; in a window presented SDL's default way, which on X11 draws the
   surface through SDL's own GL renderer, and with SDL_FRAMEBUFFER_ACCELERATION=0, by X11 shared memory)
   against GL variants (the show's renderer; two blended passes; a blit + one blended pass; both pictures
   in one texture), both presented in real windows under Xvfb (flip, then XSync: the frame is on the X
   server's screen) and both drawn into memory (no presentation); p50/p99, frames/s, CPU per frame (the
   drawing process, not the X server), the ratio to pygame, each variant's pixel error against the exact
   mix; load averages. Then frame times of a still and of video playback (H.264 decode on the worker
   thread, upload, draw), 1080p video drawn 1:1 beside the former linear-filtered way.
2. The audio/video offset measured in a headless recording (a click on a flash).
3. Memory (RSS), live GL textures and open files after 10 and after N transitions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.installation_bench.crossfades import (
    PYGAME,
    PYGAME_X11,
    H,
    W,
    crossfades_offscreen,
    pct,
    square_crossfades,
)
from bench.installation_bench.show import (
    av_offset,
    catalogue_refresh,
    gl_videos,
    make_video,
    memory,
    show_still,
)
from bench.installation_bench.window import crossfades_window, window_child


def print_crossfades(title: str, res: dict[str, tuple[list[float], list[float]]],
                     err: dict[str, float]) -> dict[str, float]:
    """The side-by-side table, frame rates against each pygame row; returns the best GL ratio per pygame row."""
    bases = {n: pct(res[n][0])[2] for n in (PYGAME, PYGAME_X11) if n in res}
    cols = {PYGAME: "vs pygame", PYGAME_X11: "vs pygame X11"}
    w = max(len(n) for n in res)
    print(f"### {title}\n")
    print(f"| {'crossfade 1920x1080':{w}} | p50 ms | p99 ms | frames/s | CPU ms/frame | "
          + " | ".join(cols[n] for n in bases) + " | max px err |")
    print(f"|{'-' * (w + 2)}|-------:|-------:|---------:|-------------:|"
          + "|".join("-" * (len(cols[n]) + 1) + ":" for n in bases) + "|-----------:|")
    best = dict.fromkeys(bases, 0.0)
    for name, (wall, cpu) in res.items():
        p50, p99, fps = pct(wall)
        ratios = []
        for n, base in bases.items():
            if name.startswith("GL") and "readback" not in name:
                best[n] = max(best[n], fps / base)
            ratios.append(f"{fps / base:{len(cols[n]) - 1}.2f}x")
        e = f"{err[name]:10.1f}" if name in err else f"{'':10}"
        print(f"| {name:{w}} | {p50:6.1f} | {p99:6.1f} | {fps:8.1f} | {np.median(cpu) * 1000:12.1f} | "
              + " | ".join(ratios) + f" | {e} |")
    print()
    return best

def crossfade_tables(args: argparse.Namespace) -> None:
    print(f"## Crossfade at {W}x{H}: pygame alone against GL, the same two fitted pictures\n")
    print("Frame by frame in turn (one frame of each variant, then the next), so all meet the same load.")
    print("CPU ms/frame counts all threads of the drawing process (llvmpipe rasterises on LP_NUM_THREADS).\n")
    load0 = os.getloadavg()
    win = crossfades_window(args.frames, tuple(n for n in args.lp_threads.split(",") if n))
    load1 = os.getloadavg()
    if isinstance(win, str):
        print(f"(no window measurement: {win})\n")
        best_win = None
    else:
        best_win = print_crossfades(f"Presented in a window under Xvfb (what visitors see): drawn, flipped, on the "
                                    f"X server's screen (XSync) — load average {load0[0]:.1f} -> {load1[0]:.1f}",
                                    *win)
    off, err = crossfades_offscreen(args.frames)
    load2 = os.getloadavg()
    best_off = print_crossfades(f"Into memory, not presented: pygame into a 32-bit surface, GL into a framebuffer "
                                f"(glFinish) — load average {load1[0]:.1f} -> {load2[0]:.1f}", off, err)
    sq = square_crossfades(args.frames)
    print(f"### Two square pictures, contain (bars on the sides), into memory — load average "
          f"{os.getloadavg()[0]:.1f}\n")
    w = max(len(n) for n in sq)
    print(f"| {'crossfade 1920x1080':{w}} | p50 ms | p99 ms | frames/s | CPU ms/frame |")
    print(f"|{'-' * (w + 2)}|-------:|-------:|---------:|-------------:|")
    for name, (wall, cpu) in sq.items():
        p50, p99, fps = pct(wall)
        print(f"| {name:{w}} | {p50:6.1f} | {p99:6.1f} | {fps:8.1f} | {np.median(cpu) * 1000:12.1f} |")
    print()
    shown = ""
    if best_win is not None:
        shown = (f"{best_win[PYGAME]:.2f}x in a window (pygame with SDL's default presentation), "
                 f"{best_win[PYGAME_X11]:.2f}x (pygame by X11 shared memory), ")
    print(f"Best GL crossfade frame rate against pygame alone: {shown}{best_off[PYGAME]:.2f}x into memory "
          f"(goal >= 1.5x); load average {load2[0]:.1f} on {os.cpu_count()} cores\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--transitions", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="fewer frames and transitions")
    ap.add_argument("--crossfades-only", action="store_true", help="only the crossfade tables")
    ap.add_argument("--skip-crossfades", action="store_true", help="all but the crossfade tables")
    ap.add_argument("--lp-threads", default="", help="comma-separated LP_NUM_THREADS for extra GL windows, e.g. 0,1")
    ap.add_argument("--child", choices=["pygame", "gl"], help=argparse.SUPPRESS)  # a window of crossfades_window
    args = ap.parse_args()
    if args.child:
        window_child(args.child)
        return
    if args.quick:
        args.frames, args.transitions = 30, 100
    import moderngl

    from installation.render import headless_context

    c = headless_context()
    renderer, version = c.info["GL_RENDERER"], c.info["GL_VERSION"]
    c.release()
    print(f"# show benchmarks on {renderer}, {version} (moderngl {moderngl.__version__}), {os.cpu_count()} CPU "
          f"cores, {args.frames} frames per row\n")
    if not args.skip_crossfades:
        crossfade_tables(args)
    if args.crossfades_only:
        return
    rows = [("still on screen, redrawn every frame", *pct(show_still(args.frames, False))),
            ("still on screen, unchanged frames skipped (show)", *pct(show_still(args.frames, True)))]
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        late = {}
        for name, size in (("1080p", (W, H)), ("512x512", (512, 512))):
            p = tmp / f"{name}.mp4"
            make_video(p, size, seconds=max(2.0, args.frames / 30 + 0.5))
            runs = [{f"video {name} 30 fps (decode thread + upload + draw)": False}]
            if size == (W, H):  # and the change, both played at once (two decoders: slower than the show)
                runs.append({"video 1080p, 2 at once: drawn 1:1 (nearest)": False,
                             "video 1080p, 2 at once: before, scaled (linear)": True})
            for variants in runs:
                for n, (times, late[n]) in gl_videos(p, args.frames, variants).items():
                    rows.append((n, *pct(times)))
        print(f"## Frame time at {W}x{H}, headless (EGL framebuffer) — load average {os.getloadavg()[0]:.1f}\n")
        print(f"| {'path':52} | p50 ms | p99 ms | frames/s |")
        print(f"|{'-' * 54}|-------:|-------:|---------:|")
        for name, p50, p99, fps in rows:
            print(f"| {name:52} | {p50:6.1f} | {p99:6.1f} | {fps:8.1f} |")
        print(f"\nvideo frames not decoded in time (shown late, the previous frame held): {late}; "
              f"goal: 1080p video p99 < 33 ms\n")
        off = av_offset(tmp)
        print("## A/V offset in a recording (click on a flash, 25 fps, AAC)\n")
        print(f"offset: {off * 1000:+.1f} ms (one frame = 40.0 ms; goal within one frame)\n")
        print("## Memory over transitions (320x180, images + videos with paired sound)\n")
        print("| transitions | RSS MB | GL textures | open fds | seconds |")
        print("|------------:|-------:|------------:|---------:|--------:|")
        for n, rss, tex, fds, sec in memory(tmp, [10, args.transitions]):
            print(f"| {n:11d} | {rss:6.1f} | {tex:11d} | {fds:8d} | {sec:7.1f} |")
        works = 500 if args.quick else 5000
        print(f"\n## Catalogue refresh with {works} works (every show.refresh_seconds, on its own thread)\n")
        print("| read                         | seconds |")
        print("|------------------------------|--------:|")
        for name, sec in catalogue_refresh(tmp, works):
            print(f"| {name:28} | {sec:7.3f} |")


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
