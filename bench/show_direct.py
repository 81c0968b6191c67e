"""Directing the show (issue 23): an accelerated 1-hour recording of a mixed set, measured from its track
and ``Show.timeline``.

    .venv/bin/python bench/show_direct.py [--seconds 3600] [--fps 5] [--size 160x90] [--quick]

A catalogue of a mixed set is made in a temporary data_dir: stills (procedural images), walks (small
H.264 videos, two with paired soundscapes), melodies and soundscapes whose levels range from -40 to -10
dBFS RMS (generator.sound_samples), one melody longer than ``show.max_item_seconds``. The show is
recorded twice with ``installation.record.record_show`` (the same seed: the same programme), with
``show.loudness_target`` off (null) and on (-23 LUFS), and the tables print:

1. the loudness of every sound item heard, per work: each play measured with pyloudnorm (EBU R128
   integrated) on the recorded track between the item's start and end from ``Show.timeline``, leaving out
   the crossfades at both ends; off and on side by side, the deviation from the target at the master volume
   (target + 20 log10(volume): -23.9 LUFS at volume 0.9); goal within +-1 LU;
2. the longest time any still and any sound-only work held the screen (``end - start`` in the timeline,
   both transitions included) against the caps: where the code has programmes, the show plays a programme
   "bench" of every work capped at 15 s (stills) and 60 s (sound-only works); otherwise the bench reports
   against show.max_item_seconds and says so; 3. the machine and its load.

Why a small, slow recording is faithful: the show runs on a frame clock (t = i / fps); items start and end,
and sounds are mixed sample-exactly, at those times, whatever the size. At 5 frames/s every time is that of
a 30 frames/s show rounded to the next 0.2 s frame, and the picture's size enters neither the programme nor
the sound, so 160x90 at 5 fps gives the same programme and the same track as 1920x1080 at 30 in a fraction
of the time (18,000 frames instead of 108,000 at 135 times the pixels).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

SR = 44100
# The caps on how long a still or a sound-only work holds the screen come with programmes (issue 23:
# show.programmes.NAME.still_seconds / sound_seconds). Where this code has them, the bench plays a programme
# "bench" of every work with these caps; otherwise it reports against show.max_item_seconds, and says so.
STILL_CAP, SOUND_CAP = 15.0, 60.0


def make_set(cat, tmp: Path, quick: bool) -> dict[int, str]:
    """The mixed set; returns artwork id -> a description of its sound level (for the table)."""
    from generator.samples import image_draft, video_draft
    from generator.sound_samples import melody_draft, soundscape_draft

    level: dict[int, str] = {}
    for i in range(8):
        cat.add(image_draft(i, size=64, title=f"Still {i}"))
    for i in range(4):
        vid = cat.add(video_draft(tmp, seconds=10.0, fps=10, size=64, seed=i))
        if i < 2:
            db = (-30.0, -12.0)[i]
            sid = cat.add(soundscape_draft(10.0, db, seed=10 + i, pair_with=vid, title=f"Paired {db:g}"))
            level[sid] = f"paired soundscape {db:g} dBFS"
    long_melody = 60.0 if quick else 200.0
    for db, sec in ((-40.0, 30.0), (-36.0, long_melody), (-30.0, 20.0), (-24.0, 45.0)):
        level[cat.add(melody_draft(sec, db, seed=int(-db)))] = f"melody {db:g} dBFS, {sec:g} s"
    for db, sec in ((-30.0, 30.0), (-20.0, 60.0), (-14.0, 25.0), (-10.0, 40.0)):
        level[cat.add(soundscape_draft(sec, db, seed=100 + int(-db)))] = f"soundscape {db:g} dBFS, {sec:g} s"
    return level


def track_of(path: Path, tmp: Path) -> np.ndarray:
    """The recording's sound track, stereo int16, memory-mapped from a raw file (an hour is 635 MB)."""
    from installation.recording import ffmpeg

    raw = tmp / f"{path.stem}.s16"
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(path), "-vn", "-f", "s16le", "-ac", "2",
                    "-ar", str(SR), str(raw)], check=True)
    return np.memmap(raw, dtype="<i2", mode="r").reshape(-1, 2)


def item_loudness(res, track: np.ndarray, crossfade: float) -> list[tuple[dict, float | None]]:
    from installation.loudness import measure

    out = []
    for row in res.timeline:
        if row["sound_id"] is None or row["end"] is None:
            continue
        a, b = int((row["start"] + crossfade) * SR), int((row["end"] - crossfade) * SR)
        got = measure(np.asarray(track[a:b], np.float32) / 32768, SR)[0] if b - a > 0.4 * SR else None
        out.append((row, got))
    return out


def holds(res) -> dict[str, tuple[float, dict | None]]:
    from catalogue.models import SOUND_KINDS, STILL_KINDS

    best: dict[str, tuple[float, dict | None]] = {"still": (0.0, None), "sound-only": (0.0, None)}
    for row in res.timeline:
        if row["end"] is None:
            continue
        group = "still" if row["kind"] in STILL_KINDS else "sound-only" if row["kind"] in SOUND_KINDS else None
        if group and row["end"] - row["start"] > best[group][0]:
            best[group] = (row["end"] - row["start"], row)
    return best


def bench_settings(target: float | None):
    from installation.settings import ShowSettings

    base = {"http_port": 0, "seed": 7, "fresh_hours": 0, "loudness_target": target}
    if "programmes" in ShowSettings.model_fields:
        return ShowSettings(**base, programmes={"bench": {"still_seconds": STILL_CAP, "sound_seconds": SOUND_CAP}},
                            programme="bench")
    return ShowSettings(**base)


def hold_caps(ss) -> dict[str, tuple[float, str]]:
    name = getattr(ss, "programme", None)
    spec = (getattr(ss, "programmes", None) or {}).get(name)
    out = {}
    for group, attr in (("still", "still_seconds"), ("sound-only", "sound_seconds")):
        v = getattr(spec, attr, None) if spec is not None else None
        out[group] = (float(v), f"show.programmes.{name}.{attr}") if v else \
            (ss.max_item_seconds, "show.max_item_seconds (no hold caps in this code yet)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3600.0)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--size", default="160x90")
    ap.add_argument("--target", type=float, default=-23.0)
    ap.add_argument("--quick", action="store_true", help="300 s of show time, a shorter long melody")
    args = ap.parse_args()
    if args.quick:
        args.seconds = 300.0
    w, h = (int(v) for v in args.size.split("x"))

    from catalogue import open_catalogue
    from gallery.config import load_settings
    from installation.record import record_show

    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="show-direct-") as td:
        tmp = Path(td)
        s = load_settings(None, environ={}, overrides={"data_dir": str(tmp / "data"), "catalogue": {"fsync": False}})
        cat = open_catalogue(s)
        t0 = time.perf_counter()
        level = make_set(cat, tmp, args.quick)
        made = time.perf_counter() - t0
        runs = {}
        for name, target in (("off", None), ("on", args.target)):
            ss = bench_settings(target)
            out = tmp / f"{name}.mp4"
            t0 = time.perf_counter()
            cpu0 = time.process_time()
            res = record_show(ss, cat, out, args.seconds, width=w, height=h, fps=args.fps,
                              loudness_cache=s.path(ss.loudness_cache) if ss.loudness_cache else None)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            track = track_of(out, tmp)
            xf = ss.audio_crossfade if ss.audio_crossfade is not None else ss.transition_seconds
            runs[name] = (ss, res, item_loudness(res, track, xf), wall, cpu)
        cat.close()
    load1 = os.getloadavg()

    ss_on, res_on = runs["on"][0], runs["on"][1]
    expected = args.target + 20 * math.log10(ss_on.volume)
    print(f"# Directing the show: {args.seconds:g} s of show time recorded at {w}x{h}, {args.fps:g} frames/s, "
          f"seed 7, default show settings\n")
    kinds: dict[str, int] = {}
    for row in res_on.timeline:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    print("items started: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
          + f"; skipped {res_on.status['skipped']}\n")
    print(f"## Loudness of every sound item (pyloudnorm, EBU R128 integrated, crossfades left out); target "
          f"{args.target:g} LUFS at volume {ss_on.volume:g} = {expected:.1f} LUFS\n")
    print("| work (as made) | plays | off: LUFS | on: LUFS (min..max) | on: worst deviation |")
    print("|---|---:|---:|---:|---:|")
    devs, offs, ons = [], [], []
    for aid in sorted(level, key=lambda a: (level[a].split()[0], float(level[a].split(" dBFS")[0].split()[-1]))):
        # a paired soundscape is heard under its walk: the timeline row names the sound (sound_id)
        off = [g for r, g in runs["off"][2] if r["sound_id"] == aid and g is not None]
        on = [g for r, g in runs["on"][2] if r["sound_id"] == aid and g is not None]
        if not on and not off:
            print(f"| #{aid} {level[aid]} | 0 | - | - | - |")
            continue
        offs += off
        ons += on
        off_s = f"{np.median(off):.1f}" if off else "-"
        if on:
            worst = max(on, key=lambda g: abs(g - expected))
            devs.append(worst - expected)
            print(f"| #{aid} {level[aid]} | {len(on)} | {off_s} | {min(on):.1f}..{max(on):.1f} | "
                  f"{worst - expected:+.2f} LU |")
        else:
            print(f"| #{aid} {level[aid]} | 0 | {off_s} | - | - |")
    within = sum(abs(g - expected) <= 1.0 for g in ons)
    print(f"\nspread of all sound items: off {max(offs) - min(offs):.1f} LU ({min(offs):.1f}..{max(offs):.1f}), "
          f"on {max(ons) - min(ons):.2f} LU ({min(ons):.2f}..{max(ons):.2f}); within +-1 LU of {expected:.1f}: "
          f"{within} of {len(ons)} items (goal: all)\n")
    lv = res_on.sound_levels
    limited = sum(1 for v in lv.values() if v.limited)
    print(f"leveller: {len(lv)} sounds, {limited} limited under {ss_on.loudness_ceiling:g} dBFS; gains "
          + ", ".join(f"{v.gain_db:+.1f}" for v in lv.values()) + " dB\n")

    caps = hold_caps(ss_on)
    print("## Longest hold of the screen (Show.timeline: end - start, both transitions included) against the "
          f"cap (within one {1 / args.fps:g} s frame)\n")
    print("| works | loudness off | loudness on | cap | cap from | within |")
    print("|---|---:|---:|---:|---|---|")
    h_off, h_on = holds(runs["off"][1]), holds(res_on)
    for g in ("still", "sound-only"):
        (a, _), (b, row) = h_off[g], h_on[g]
        cap, src = caps[g]
        what = f" (#{row['artwork_id']} {row['kind']})" if row else ""
        print(f"| {g}{what} | {a:.1f} s | {b:.1f} s | {cap:g} s | {src} | "
              f"{'yes' if b <= cap + 1 / args.fps + 1e-6 else 'NO'} |")
    print()
    print(f"## Machine\n\n{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average {load0[0]:.1f} before, {load1[0]:.1f} after; set made in "
          f"{made:.0f} s; recording wall time (CPU of this process): "
          + ", ".join(f"{n} {runs[n][3]:.0f} s ({runs[n][4]:.0f} s)" for n in runs)
          + f", for {args.seconds:g} s of show time each")


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
