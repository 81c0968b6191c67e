"""A melody paired with a visual fills the visual's duration (bars, tempo, repeats), or says which way to go."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from catalogue import ArtworkDraft, MediaDraft
from catalogue.models import Pairing
from gallery.errors import BadInput
from generator.jobs import JobContext, JobSpec
from generator.musicvae.events import NO_EVENT, NOTE_OFF, STEPS_PER_BAR, events_to_notes, sounding
from generator.musicvae.jobs import TEMPO_RANGE, NoFit, fit_audio, fit_phrase, played_events
from generator.run import execute_run

from .helpers import melody_events

LO, HI = TEMPO_RANGE


def _visual(catalogue, duration: float | None, kind: str = "walk") -> int:
    recipe = {"tag": f"{kind}-{duration}"}
    if duration is not None:
        recipe["timeline"] = {"duration": duration, "fps": 8, "keyframe_times": [0.0, duration]}
    return catalogue.add(ArtworkDraft(kind=kind, recipe=recipe, duration=duration,
                                      media=[MediaDraft(role="poster", mime="image/png",
                                                        data=f"poster {kind} {duration}".encode())]))


def _ctx(settings, catalogue, tmp_path):
    return JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "work", seed=0)


def _allowed(duration: float, phrase: int, whole: bool, limit: int = 20000) -> list[int]:
    """Brute force: every bar count whose tempo filling ``duration`` lies in the range."""
    step = phrase if whole else 1
    return [n for n in range(step, limit + 1, step) if LO - 1e-9 <= 240.0 * n / duration <= HI + 1e-9]


@pytest.mark.parametrize("whole", [False, True])
@pytest.mark.parametrize("phrase", [1, 2, 4, 10, 16, 32])
def test_fit_phrase_fills_any_duration_in_range_and_fails_only_when_nothing_fits(phrase, whole):
    for duration in (0.3, 0.9, 1.0, 1.7, 2.0, 4.0, 7.3, 8.0, 30.0, 61.7, 600.0):
        allowed = _allowed(duration, phrase, whole)
        for preferred in (LO, 110.0, HI):
            try:
                fit = fit_phrase(duration, phrase, preferred, whole)
            except NoFit as e:
                assert not allowed, (duration, phrase, whole, allowed[:3])
                assert e.needed > HI and e.max_bars == math.floor(duration * HI / 240 + 1e-9)
                continue
            assert allowed, (duration, phrase, whole)
            assert fit.bars in allowed and LO - 1e-9 <= fit.tempo <= HI + 1e-9
            assert fit.bars * 240.0 / fit.tempo == pytest.approx(duration, rel=1e-12)
            assert fit.duration == duration and fit.phrase_bars == phrase
            if whole:
                assert fit.bars % phrase == 0
            if fit.bars % phrase == 0:  # whole repeats: no other whole-repeat count is nearer the preferred tempo
                dist = abs(math.log(fit.tempo / preferred))
                others = [abs(math.log(240.0 * n / duration / preferred)) for n in allowed if n % phrase == 0]
                assert dist <= min(others) + 1e-12
            d = fit.to_dict()
            assert d["bars_played"] == fit.bars and d["repeats"] == pytest.approx(fit.bars / phrase)


def test_the_shipped_night_pairing_fits_a_30s_walk_near_the_configured_tempo():
    # the issue: 2 bars into a 30 s walk needed 16 bpm; now the phrase repeats
    fit = fit_phrase(30.0, 2, 110.0)
    assert fit.bars % 2 == 0 and fit.bars > 2
    assert abs(fit.tempo - 110.0) <= 240.0 * 2 / 30.0 / 2  # within half a step of whole-phrase tempos


def test_played_events_repeat_the_phrase_and_cut_at_a_bar_line():
    phrase = melody_events(2, seed=4)
    phrase[0] = NO_EVENT  # the phrase opens with a rest...
    assert sounding(phrase)[-1]  # ...and (this tune) ends on a sounding note
    out = played_events(phrase, 5)
    assert len(out) == 5 * STEPS_PER_BAR
    assert out[:32].tolist() == phrase.tolist()
    # each repeat opens with the phrase's rest: the held last note is released there
    assert out[32] == NOTE_OFF and out[33:64].tolist() == phrase[1:].tolist()
    assert out[64] == NOTE_OFF and out[65:80].tolist() == phrase[1:16].tolist()
    assert played_events(phrase, 1).tolist() == phrase[:16].tolist()
    opening_note = melody_events(2, seed=5)
    assert opening_note[0] >= 2
    assert played_events(opening_note, 4).tolist() == np.tile(opening_note, 2).tolist()


def test_fit_audio_cuts_with_a_fade_or_pads_with_silence(tmp_path):
    sr = 44100
    t = np.arange(int(1.3 * sr)) / sr
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    cut = tmp_path / "cut.wav"
    sf.write(str(cut), tone, sr, subtype="PCM_16")
    assert fit_audio(cut, 1.0) == 1.0
    data, _ = sf.read(str(cut), dtype="int16")
    assert len(data) == sr and data[: sr // 2].tolist() == tone[: sr // 2].tolist()
    assert abs(int(data[-1])) <= 1 and np.abs(data[-200:]).max() < np.abs(data[: sr // 2]).max() / 20
    pad = tmp_path / "pad.wav"
    quiet_end = tone.copy()
    quiet_end[-sr // 2:] = 0
    sf.write(str(pad), quiet_end, sr, subtype="PCM_16")
    assert fit_audio(pad, 2.0) == 2.0
    data, _ = sf.read(str(pad), dtype="int16")
    assert len(data) == 2 * sr and data[: len(tone)].tolist() == quiet_end.tolist() and not data[len(tone):].any()


@pytest.mark.parametrize("duration", [1.0, 2.0, 7.3, 30.0, 61.7])
def test_a_sampled_melody_takes_its_visuals_duration(mv_settings, catalogue, tmp_path, duration):
    vid = _visual(catalogue, duration)
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    [mid] = execute_run(JobSpec(kind="musicvae.sample", params={"pair_with": vid, "temperature": 1.0}, seed=3), ctx)
    art = catalogue.get(mid)
    fit = art.recipe["fit"]
    assert art.duration == pytest.approx(duration, abs=1e-9)
    assert fit["visual_id"] == vid and fit["preferred_tempo"] == 110.0 and fit["phrase_bars"] == 2
    assert art.recipe["tempo"] == fit["tempo"] and LO <= fit["tempo"] <= HI
    assert fit["bars_played"] * 240.0 / fit["tempo"] == pytest.approx(duration)
    wav = sf.info(str(catalogue.media_path(art.first_media("audio"))))
    assert wav.frames == round(duration * 44100) and wav.samplerate == 44100
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(catalogue.media_path(art.first_media("midi"))))
    played = played_events(np.array(art.recipe["events"]), fit["bars_played"])
    notes = events_to_notes(played)
    assert [n.pitch for n in pm.instruments[0].notes] == [n.pitch for n in notes]
    if notes:
        assert pm.instruments[0].notes[-1].end <= duration + 1e-6
    with catalogue.read() as s:
        pair = s.scalars(select(Pairing).where(Pairing.sound_id == mid)).one()
    assert pair.visual_id == vid and pair.timeline["duration"] == pytest.approx(duration)


def test_an_interpolation_too_long_for_its_visual_says_how_many_steps_fit(mv_settings, catalogue, tmp_path):
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    vid = _visual(catalogue, 8.0)
    a, b = melody_events(2, 60, seed=1).tolist(), melody_events(2, 67, seed=2).tolist()
    params = {"a": a, "b": b, "steps": 5, "pair_with": vid}
    with pytest.raises(BadInput, match=r"10 bars need 300 bpm.*fewer steps: at most 4 \(8 bars fit") as e:
        execute_run(JobSpec(kind="musicvae.interpolate", params=params, seed=0), ctx)
    assert "more" not in str(e.value)
    # the advice holds: 4 steps fit, played once, ending on the visual's last bar line
    [mid] = execute_run(JobSpec(kind="musicvae.interpolate", params={**params, "steps": 4}, seed=0), ctx)
    art = catalogue.get(mid)
    assert art.duration == pytest.approx(8.0) and art.recipe["fit"]["bars_played"] == 8
    # a long visual: the interpolation repeats whole, never cut
    long_vid = _visual(catalogue, 30.0)
    [mid] = execute_run(JobSpec(kind="musicvae.interpolate", params={**params, "pair_with": long_vid}, seed=0), ctx)
    fit = catalogue.get(mid).recipe["fit"]
    assert fit["bars_played"] % 10 == 0 and catalogue.get(mid).duration == pytest.approx(30.0)


def test_16_bar_and_too_short_requests_point_the_right_way(mv_settings, catalogue, tmp_path):
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    vid = _visual(catalogue, 8.0)
    a16, b16 = melody_events(16, 60, seed=1).tolist(), melody_events(16, 64, seed=2).tolist()
    with pytest.raises(BadInput, match=r"choose 2 bars a step \(then at most 4 steps fit"):
        execute_run(JobSpec(kind="musicvae.interpolate", params={"a": a16, "b": b16, "steps": 2, "bars": 16,
                                                              "pair_with": vid}, seed=0), ctx)
    a, b = melody_events(2, 60, seed=1).tolist(), melody_events(2, 67, seed=2).tolist()
    [mid] = execute_run(JobSpec(kind="musicvae.interpolate", params={"a": a, "b": b, "steps": 4, "pair_with": vid},
                            seed=0), ctx)
    assert catalogue.get(mid).duration == pytest.approx(8.0)
    short = _visual(catalogue, 3.0)
    with pytest.raises(BadInput, match=r"at least 4\.0 s \(2 steps of 2 bars at 240 bpm\)"):
        execute_run(JobSpec(kind="musicvae.interpolate", params={"a": a, "b": b, "steps": 2, "pair_with": short},
                        seed=0), ctx)
    blink = _visual(catalogue, 0.5)
    with pytest.raises(BadInput, match=r"1 bar needs 480 bpm.*at least 1\.0 s \(1 bar at 240 bpm\)"):
        execute_run(JobSpec(kind="musicvae.sample", params={"pair_with": blink}, seed=0), ctx)
    # a 16-bar melody on a short visual plays its first bars, ending on a bar line
    [mid] = execute_run(JobSpec(kind="musicvae.sample", params={"pair_with": vid, "bars": 16}, seed=0), ctx)
    fit = catalogue.get(mid).recipe["fit"]
    assert fit["bars_played"] < 16 and catalogue.get(mid).duration == pytest.approx(8.0)


def test_a_still_leaves_the_melody_its_own_length(mv_settings, catalogue, tmp_path):
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    still = _visual(catalogue, None, kind="image")
    [mid] = execute_run(JobSpec(kind="musicvae.sample", params={"pair_with": still}, seed=0), ctx)
    art = catalogue.get(mid)
    assert "fit" not in art.recipe and art.recipe["tempo"] == 110.0
    assert art.duration == pytest.approx(32 * 60 / 110 / 4)
    with catalogue.read() as s:
        pair = s.scalars(select(Pairing).where(Pairing.sound_id == mid)).one()
    assert pair.timeline["duration"] == pytest.approx(art.duration)
