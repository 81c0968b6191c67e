"""What a night makes: every window of config.yaml run in miniature, in a throwaway data directory.

For each window: runs done / failed / skipped and the wall time; then each paired sound's duration
(the catalogue row, its WAV) against its visual's, and for melodies how the fit was made (bars played,
tempo). Then, without running anything, the pairing of each paired entry at the window's own walk
length (the shipped 30 s), by the rule melodies now follow and by the old one (tempo only).

    .venv/bin/python bench/night.py [--config config.yaml] [--rounds 2] [--seconds 4] [--size 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import soundfile as sf
from sqlalchemy import select

from catalogue import open_catalogue
from catalogue.models import Pairing, Run
from gallery.config import load_settings
from generator.schedule.plan import Compression
from generator.schedule.windows import run_once

NOT_DONE = ("failed", "failed-interrupted", "timed-out")


def paired(cat, run_ids: list[int]) -> list[tuple]:
    with cat.read() as s:
        made = [a for r in s.scalars(select(Run).where(Run.id.in_(run_ids))) for a in (r.artwork_ids or [])]
        pairs = [(p.visual_id, p.sound_id, p.timeline) for p in
                 s.scalars(select(Pairing).where(Pairing.sound_id.in_(made)).order_by(Pairing.sound_id))]
    rows = []
    for vid, sid, timeline in pairs:
        v, a = cat.get(vid), cat.get(sid)
        info = sf.info(str(cat.media_path(a.first_media("audio"))))
        fit = (a.recipe or {}).get("fit") or {}
        how = (f"{fit['phrase_bars']}-bar phrase {fit['played']}: {fit['bars_played']} bars at {fit['tempo']:g} bpm"
               if fit else "-")
        rows.append((f"{v.kind} {vid}", v.duration, f"{a.kind} {sid}", a.duration, info.frames / info.samplerate,
                     timeline["duration"], how))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "config.yaml"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--fps", type=int, default=8)
    args = ap.parse_args()
    comp = Compression(rounds=args.rounds, seconds=args.seconds, size=args.size, fps=args.fps)
    with tempfile.TemporaryDirectory(prefix="night-") as tmp:
        settings = load_settings(args.config, environ={}, overrides={
            "data_dir": tmp, "catalogue": {"fsync": False}, "schedule": {"min_free_disk_mb": 0, "worker_threads": 1}})
        cat = open_catalogue(settings)
        print(f"config {args.config}, in miniature: {comp}")
        print(f"{'window':<12} {'runs':>5} {'done':>5} {'failed':>6} {'skipped':>7} {'wall s':>7}  stopped by")
        tables = []
        for w in settings.schedule.windows:
            t0 = time.perf_counter()
            rep = run_once(settings, cat, w.name, minutes=60, compress=comp)
            wall = time.perf_counter() - t0
            states = [o.state for o in rep.outcomes]
            print(f"{w.name:<12} {len(states):>5} {states.count('done'):>5} "
                  f"{sum(s in NOT_DONE for s in states):>6} {states.count('skipped'):>7} {wall:>7.1f}  {rep.stopped_by}")
            for o in rep.outcomes:
                if o.state != "done":
                    print(f"    run {o.run_id} {o.state}: {(o.error or '').splitlines()[0] if o.error else ''}")
            tables.append((w.name, paired(cat, [o.run_id for o in rep.outcomes])))
        cat.close()
    print("\npaired sounds against their visuals (seconds)")
    print(f"{'window':<10} {'visual':<14} {'visual s':>8}  {'sound':<16} {'sound s':>8} {'wav s':>8} "
          f"{'timeline':>8}  fit")
    for name, rows in tables:
        for vis, vs, snd, ss, ws, ts, how in rows:
            print(f"{name:<10} {vis:<14} {vs:>8.3f}  {snd:<16} {ss:>8.3f} {ws:>8.3f} {ts:>8.3f}  {how}")
    from generator.musicvae.jobs import TEMPO_RANGE, NoFit, fit_phrase

    print("\nmelody pairing at the windows' own walk lengths (not run): new rule vs the old (tempo only)")
    for w in settings.schedule.windows:
        seconds = [float(e.params.get("seconds", settings.stylegan.walk_seconds)) for e in w.jobs
                   if e.kind == "stylegan.walk"]
        for e in w.jobs:
            if e.kind != "musicvae.sample" or not e.pair_with:
                continue
            bars, tempo = int(e.params.get("bars", 2)), float(e.params.get("tempo", settings.musicvae.tempo))
            for s in sorted(set(seconds)):
                old = 240.0 * bars / s
                old_ok = "ok" if TEMPO_RANGE[0] <= old <= TEMPO_RANGE[1] else "FAILS"
                try:
                    f = fit_phrase(s, bars, tempo)
                    new = f"{f.bars} bars ({f.to_dict()['played']}) at {f.tempo:g} bpm = {f.bars * 240 / f.tempo:g} s"
                except NoFit as exc:
                    new = f"no fit: {exc.reason}"
                print(f"  {w.name}: {bars}-bar melody on a {s:g} s walk: new {new}; old {old:.0f} bpm ({old_ok})")


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
