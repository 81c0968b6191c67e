"""A soundscape paired to a visual (timeline mode) lasts exactly as long as the visual, whatever its length."""

from __future__ import annotations

import pytest
import soundfile as sf
from sqlalchemy import select

from catalogue import ArtworkDraft, MediaDraft
from catalogue.models import Pairing
from gallery.errors import BadInput
from generator.jobs import JobContext, JobSpec
from generator.run import execute_run


def _visual(catalogue, duration, keyframes=None, kind="walk") -> int:
    recipe = {"tag": f"{kind}-{duration}-{keyframes}"}
    if keyframes is not None:
        recipe["timeline"] = {"duration": duration, "fps": 8, "keyframe_times": keyframes}
    return catalogue.add(ArtworkDraft(kind=kind, recipe=recipe, duration=duration,
                                      media=[MediaDraft(role="poster", mime="image/png", data=recipe["tag"].encode())]))


def _soundscape(catalogue, ctx, vid):
    [sid] = execute_run(JobSpec(kind="lts.soundscape", seed=1,
                            params={"mode": "timeline", "visual_id": vid, "iterations": 1}), ctx)
    art = catalogue.get(sid)
    info = sf.info(str(catalogue.media_path(art.first_media("audio"))))
    with catalogue.read() as s:
        pair = s.scalars(select(Pairing).where(Pairing.sound_id == sid)).one()
    return art, info, pair


def test_a_soundscape_takes_its_visuals_duration_short_or_long(settings, catalogue, tmp_path):
    ctx = JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "w", seed=0)
    cases = [(0.01, [0.0]), (0.125, [0.0]), (0.3, [0.0, 0.1, 0.3]), (4.0, [0.0, 2.0, 4.0]), (7.3, [0.0, 7.3]),
             (30.0, [0.0, 10.0, 20.0, 30.0]),
             (2.5, None)]  # a time-based work without a timeline of its own: its whole length
    for duration, keyframes in cases:
        vid = _visual(catalogue, duration, keyframes, kind="walk" if keyframes else "progression")
        art, info, pair = _soundscape(catalogue, ctx, vid)
        assert art.duration == duration and pair.visual_id == vid and pair.timeline["duration"] == duration
        assert info.frames == round(duration * 44100) and info.samplerate == 44100
        assert art.recipe["timeline"]["keyframe_times"] == (keyframes or [0.0])
    still = _visual(catalogue, None, None, kind="image")
    with pytest.raises(BadInput, match="no timeline"):  # a still has no length to take
        _soundscape(catalogue, ctx, still)
