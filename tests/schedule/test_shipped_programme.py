"""The programme shipped in config.yaml, every window of it run in miniature: no run fails, and every
paired melody and soundscape lasts exactly as long as its visual."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
from sqlalchemy import select

from catalogue.models import Pairing, Run
from generator.schedule.plan import Compression, compress_window
from generator.schedule.windows import FINAL_STATES, run_once

REPO = Path(__file__).resolve().parents[2]
# Two rounds of the programme, short walks and sounds, tiny pictures: the kinds, pairing and order are
# the shipped ones, only the lengths, sizes and counts shrink.
COMPRESSION = Compression(rounds=2, seconds=4.0, size=32)


def shipped_settings(data_dir: Path):
    """config.yaml as shipped; only where it writes and the disk guard (a test disk may be small) differ."""
    from gallery.config import load_settings

    return load_settings(REPO / "config.yaml", environ={}, overrides={
        "data_dir": str(data_dir), "catalogue": {"fsync": False, "gc_grace_seconds": 0},
        "schedule": {"min_free_disk_mb": 0, "worker_threads": 1}})


def paired_durations(cat, run_ids: list[int]) -> list[dict]:
    """Each sound made by these runs that is paired with a visual: its durations and the visual's."""
    out = []
    with cat.read() as s:
        made = [a for r in s.scalars(select(Run).where(Run.id.in_(run_ids))) for a in (r.artwork_ids or [])]
        pairs = list(s.scalars(select(Pairing).where(Pairing.sound_id.in_(made)).order_by(Pairing.sound_id)))
    for p in pairs:
        visual, sound = cat.get(p.visual_id), cat.get(p.sound_id)
        info = sf.info(str(cat.media_path(sound.first_media("audio"))))
        out.append({"visual": visual.id, "visual_kind": visual.kind, "visual_s": visual.duration,
                    "sound": sound.id, "sound_kind": sound.kind, "sound_s": sound.duration,
                    "timeline_s": p.timeline["duration"], "audio_s": info.frames / info.samplerate,
                    "fit": (sound.recipe or {}).get("fit")})
    return out


def test_every_shipped_window_runs_in_miniature_without_a_failed_run(tmp_path, capsys):
    from catalogue import open_catalogue

    settings = shipped_settings(tmp_path / "data")
    assert settings.schedule.windows, "config.yaml ships no window"
    cat = open_catalogue(settings)
    try:
        for window in settings.schedule.windows:
            small = compress_window(window, COMPRESSION)
            rep = run_once(settings, cat, window.name, minutes=30, compress=COMPRESSION)
            states = [o.state for o in rep.outcomes]
            errors = [o.error for o in rep.outcomes if o.state != "done"]
            assert all(s in FINAL_STATES for s in states)
            assert states.count("done") == len(states), (window.name, errors)
            assert rep.stopped_by in ("max_jobs", "programme done"), rep.stopped_by
            assert len(states) == small.max_jobs
            with cat.read() as s:
                kinds = {r.job_kind for r in s.scalars(select(Run).where(Run.id.in_([o.run_id for o in rep.outcomes])))}
            assert {e.kind for e in small.jobs if e.count} <= kinds
            pairs = paired_durations(cat, [o.run_id for o in rep.outcomes])
            expected = sum(e.count or 0 for e in small.jobs if e.pair_with)
            assert len(pairs) == expected
            for p in pairs:
                assert p["visual_s"] > 0
                assert abs(p["sound_s"] - p["visual_s"]) < 1e-6, p
                assert abs(p["timeline_s"] - p["visual_s"]) < 1e-6, p
                assert abs(p["audio_s"] - p["visual_s"]) <= 1 / 44100, p
            with capsys.disabled():
                print(f"\nwindow {window.name} in miniature ({COMPRESSION.rounds} rounds): {len(states)} runs, "
                      f"{states.count('done')} done, {len(states) - states.count('done')} not done")
                for p in pairs:
                    fit = p["fit"] or {}
                    how = (f" ({fit['phrase_bars']}-bar phrase {fit['played']}: {fit['bars_played']} bars at "
                           f"{fit['tempo']:g} bpm)" if fit else "")
                    print(f"  {p['sound_kind']} {p['sound']}: {p['sound_s']:.3f} s (audio {p['audio_s']:.3f} s) "
                          f"for {p['visual_kind']} {p['visual']}: {p['visual_s']:.3f} s{how}")
    finally:
        cat.close()
