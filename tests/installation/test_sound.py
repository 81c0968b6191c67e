"""Sound: every sound at the loudness target (EBU R128, pyloudnorm), no clipping, no clicks, crossfades.

The recording tests play a catalogue whose melody is at -36 dBFS RMS and whose soundscape is at -14 (the
levels of the issue), slice the recorded track by ``Show.timeline`` and measure each sound item.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from generator.samples import image_draft
from generator.sound_samples import melody_draft, melody_signal, soundscape_draft, soundscape_signal
from installation.audio import RecordAudio
from installation.loudness import Leveller, LoudnessCache, declick, measure
from tests.installation.helpers import show_settings

SR = 44100


def stereo16(a: np.ndarray) -> np.ndarray:
    a = a if a.ndim == 2 else np.stack([a, a], axis=1)
    return (np.clip(a, -1, 1) * 32767).astype(np.int16)


def lufs(x16: np.ndarray) -> float:
    got, _ = measure(x16.astype(np.float32) / 32767, SR)
    assert got is not None
    return got


def peak_db(x16: np.ndarray) -> float:
    return 20 * math.log10(np.abs(x16.astype(np.float64)).max() / 32767)


def max_jump(x: np.ndarray) -> float:
    """Largest sample-to-sample step of a track, in full scale."""
    return float(np.abs(np.diff(x.astype(np.float64), axis=0)).max()) / 32767


# ---- the leveller -------------------------------------------------------------------------------
def test_quiet_melody_and_loud_soundscape_come_to_the_target():
    lv = Leveller(-23.0)
    quiet, loud = stereo16(melody_signal(8, -36)), stereo16(soundscape_signal(8, -14))
    assert lufs(loud) - lufs(quiet) > 20  # the levels of the issue: more than 20 dB apart
    for sha, x in (("quiet", quiet), ("loud", loud)):
        y = lv(x, SR, sha)
        assert abs(lufs(y) - (-23.0)) < 0.2, sha
        assert peak_db(y) <= -1.0 + 0.01
    assert lv.levels["quiet"].gain_db > 9 and lv.levels["loud"].gain_db < -9
    assert not lv.levels["quiet"].limited


def test_a_raised_melody_with_hard_attacks_is_limited_under_the_ceiling_and_still_on_target():
    x = melody_signal(10, -40)
    knock = 0.3 * np.sin(2 * np.pi * 900 * np.arange(441) / SR) * np.exp(-np.arange(441) / 110)
    for k in range(0, len(x) - len(knock), SR):  # a loud 10 ms knock each second: the +13 dB the melody
        x[k:k + len(knock)] += knock  # needs would take these past full scale
    x = stereo16(x)
    lv = Leveller(-23.0, ceiling=-1.0)
    y = lv(x, SR, "knocks")
    lvl = lv.levels["knocks"]
    print(f"in {lufs(x):.1f} LUFS peak {peak_db(x):.1f} dBFS -> gain {lvl.gain_db:+.1f} dB, "
          f"out {lufs(y):.2f} LUFS peak {peak_db(y):.2f} dBFS")
    assert lvl.limited and lvl.gain_db > 13
    assert peak_db(x) + lvl.gain_db > 1.0  # the gain alone would clip ...
    assert peak_db(y) <= -1.0 + 0.01  # ... the limiter holds the ceiling
    assert abs(lufs(y) - (-23.0)) < 0.2  # and the lost loudness is made up
    assert np.count_nonzero(np.abs(y) >= 32767) == 0


def test_short_silent_and_cached_sounds(tmp_path):
    cache = tmp_path / "show" / "loudness.json"
    lv = Leveller(-23.0, cache=LoudnessCache(cache))
    blip = stereo16(0.5 * np.sin(2 * np.pi * 440 * np.arange(int(0.1 * SR)) / SR))  # 0.1 s: under one block
    y = lv(blip, SR, "blip")
    assert lv.levels["blip"].how == "short"
    looped = np.tile(y, (5, 1))  # the loudness of the clip itself, measured on a loop of it
    assert abs(lufs(looped) - (-23.0)) < 0.3
    silence = np.zeros((SR, 2), np.int16)
    assert np.array_equal(lv(silence.copy(), SR, "silent"), silence)
    assert lv.levels["silent"].how == "silent" and lv.levels["silent"].gain_db == 0.0
    bad = np.full((SR, 2), np.nan, np.float32)
    bad[::7] = np.inf
    assert measure(bad, SR) == (None, "silent")  # NaN / inf never reach a gain (decoding refuses them too)
    measured = lv.measured
    lv(blip, SR, "blip")
    assert lv.measured == measured  # memory cache
    saved = json.loads(cache.read_text())["sounds"]
    assert set(saved) == {"blip", "silent"}
    again = Leveller(-23.0, cache=LoudnessCache(cache))
    assert np.array_equal(again(blip, SR, "blip"), y) and again.measured == 0  # the file cache, next start
    other = Leveller(-16.0, cache=LoudnessCache(cache))
    other(blip, SR, "blip")
    assert other.measured == 0 and other.levels["blip"].gain_db == pytest.approx(y_gain(lv, "blip") + 7.0)
    cache.write_text("{not json")
    broken = Leveller(-23.0, cache=LoudnessCache(cache))
    broken(blip, SR, "blip")  # a corrupt cache is ignored: measured again
    assert broken.measured == 1


def y_gain(lv: Leveller, sha: str) -> float:
    return lv.levels[sha].gain_db


def test_declick_ramps_the_edges_of_a_cut_sound():
    x = stereo16(0.8 * np.ones(SR // 10))  # a sound that starts and ends at 0.8 of full scale
    assert max_jump(np.vstack([np.zeros((1, 2), np.int16), x, np.zeros((1, 2), np.int16)])) > 0.7
    y = declick(x.copy(), SR)
    edged = np.vstack([np.zeros((1, 2), np.int16), y, np.zeros((1, 2), np.int16)])
    assert max_jump(edged) < 0.8 / (0.005 * SR) + 1e-3  # a 5 ms ramp: no step bigger than 1/220 of it


# ---- the mixers: crossfades ---------------------------------------------------------------------
def test_crossfade_of_the_same_tone_is_seamless_and_of_two_tones_has_no_step():
    t = np.arange(3 * SR) / SR
    a = stereo16(0.5 * np.sin(2 * np.pi * 440 * t))
    b = stereo16(0.5 * np.cos(2 * np.pi * 660 * t))  # at its peak where it starts and stops
    mix = RecordAudio(SR)
    mix.start("a", a, 0.0)
    mix.stop("a", 1.0, 0.5)  # a fades out over 0.5 s while ...
    mix.start("a2", a[SR:], 1.0, fade=0.5)  # ... the same tone, from where it is, fades in: nothing may change
    track = mix.render(2.5)
    assert np.abs(track[:, 0].astype(int) - a[:len(track), 0]).max() <= 2  # linear gains sum to one

    mix = RecordAudio(SR)
    mix.start("a", a, 0.0)
    mix.stop("a", 1.0, 0.5)
    mix.start("b", b, 1.0, fade=0.5)
    mix.stop("b", 2.0, 0.0)  # stopped "at once": still a 5 ms ramp
    track = mix.render(2.5)
    # bound: the steepest step of either tone plus what a fade adds per sample
    bound = 0.5 * 2 * np.pi * 660 / SR + 0.5 / (0.005 * SR) + 2 / 32767
    assert max_jump(track) <= bound, (max_jump(track), bound)
    cross = track[SR:SR + SR // 2].astype(np.float64) / 32767
    assert np.sqrt(np.mean(cross ** 2)) > 0.2  # the two overlap (no gap of silence between them)
    # the check can fail: the same two tones cut without fades
    hard = np.vstack([a[:SR], b[SR:2 * SR], np.zeros((SR // 2, 2), np.int16)])
    assert max_jump(hard) > 2 * bound


# ---- through a recording ------------------------------------------------------------------------
def sound_items(res, settings, track):
    """(row, LUFS) of each sound item that came and went, measured without its crossfades."""
    x = settings.audio_crossfade if settings.audio_crossfade is not None else settings.transition_seconds
    out = []
    for row in res.timeline:
        if row["sound_id"] is None or row["end"] is None:
            continue
        a, b = int((row["start"] + x) * SR), int((row["end"] - x) * SR)
        got, _ = measure(track[a:b], SR)
        out.append((row, got))
    return out


@pytest.mark.gl
@pytest.mark.parametrize("target", [-23.0, None])
def test_recorded_sound_items_are_within_one_lu_of_the_target(settings, catalogue, tmp_path, target):
    from installation.record import record_show
    from installation.recording import decode_audio

    catalogue.add(image_draft(1))
    mel = catalogue.add(melody_draft(6.0, -36.0, seed=1))
    scape = catalogue.add(soundscape_draft(6.0, -14.0, seed=2))
    s = show_settings(settings, loudness_target=target, durations={"image": 2.0})
    out = tmp_path / "sound.mkv"
    res = record_show(s, catalogue, out, 30.0, width=32, height=32, fps=5, audio_codec="pcm",
                      loudness_cache=tmp_path / "loudness.json")
    track = decode_audio(out, SR, channels=2)
    rows = res.timeline
    assert [r["start"] for r in rows] == sorted(r["start"] for r in rows)
    for r, nxt in zip(rows, rows[1:], strict=False):  # an item leaves when the next one's transition is over
        if r["end"] is not None:
                assert r["end"] == pytest.approx(nxt["start"] + s.transition_seconds, abs=1 / 5 + 1e-9)
    items = sound_items(res, s, track)
    assert {r["artwork_id"] for r, _ in items} == {mel, scape}
    expected = (target if target is not None else 0) + 20 * math.log10(s.volume)  # the master volume lowers all
    for r, got in items:
        print(f"{r['kind']:10} {r['start']:5.1f}-{r['end']:5.1f} s: {got:6.2f} LUFS")
    if target is None:  # off: the 20 dB jump between the melody and the soundscape is there
        by = {r["kind"]: got for r, got in items}
        assert by["soundscape"] - by["melody"] > 18
        return
    for r, got in items:
        assert abs(got - expected) <= 1.0, (r, got, expected)
    assert np.abs(track).max() < 0.99  # no clipping anywhere in the mix
    assert json.loads((tmp_path / "loudness.json").read_text())["sounds"]  # measured once, kept


LIVE = """
import sys, time
import numpy as np
from installation.audio import LiveAudio
fade = float(sys.argv[1])
a = LiveAudio(44100, 1.0)
t = np.arange(44100 * 3) / 44100
x = (0.5 * np.cos(2 * np.pi * 440 * t) * 32767).astype(np.int16)  # at its peak where it starts
time.sleep(0.2)
a.start("k", np.stack([x, x], axis=1), 0.0, fade=fade)
time.sleep(1.0)
a.stop("k", 1.0, fade)
time.sleep(max(fade, 0.1) + 0.4)
a.close()
"""


@pytest.mark.parametrize("fade", [0.5, 0.0])
def test_live_mixer_fades_in_and_out(tmp_path, fade):
    """pygame.mixer through SDL's disk driver (the live mixer's output written to a file, in real time)."""
    import os
    import subprocess
    import sys

    raw = tmp_path / "out.raw"
    env = {**os.environ, "SDL_AUDIODRIVER": "disk", "SDL_DISKAUDIOFILE": str(raw),
           "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", LIVE, str(fade)], env=env, check=True, timeout=60, capture_output=True)
    a = np.fromfile(raw, "<i2").reshape(-1, 2)[:, 0].astype(np.float64) / 32767
    on = np.flatnonzero(np.abs(a) > 0)
    s = a[max(0, on[0] - 1):on[-1] + 2]  # with the silence on either side
    first, last = np.abs(s[:2205]).max(), np.abs(s[-2205:]).max()  # the first and last 50 ms
    tone_step = 0.5 * 2 * np.pi * 440 / 44100
    print(f"fade {fade}: first 50 ms peak {first:.3f}, last 50 ms {last:.3f}, max step {max_jump(s * 32767):.4f}")
    assert np.abs(s).max() > 0.45  # it played at full level in between
    if fade:
        assert first < 0.15 and last < 0.15  # faded in and out over 0.5 s, not switched
        assert max_jump(s * 32767) < tone_step + 0.02  # SDL steps its fade per 1024-sample buffer: small steps
    else:  # no fade asked: it starts at once (the check above can fail; the show's sounds have 5 ms ramps
        assert first > 0.45  # of their own), but still stops over 8 buffers, in steps of 1/8 at most
        assert max_jump(s[-4000:] * 32767) < tone_step + 0.5 / 8 + 0.01


@pytest.mark.gl
def test_a_recorded_show_has_no_step_at_any_start_crossfade_or_end(settings, catalogue, tmp_path):
    """Tones that start at their peak (a hard start would be a step of their full amplitude), crossing each
    other and silent stills: the recorded track never steps more than the tones themselves do."""
    from generator.samples import sound_draft, wav_bytes
    from installation.record import record_show
    from installation.recording import decode_audio

    catalogue.add(image_draft(1))
    t = np.arange(int(5.0 * SR)) / SR
    for i, (f, amp) in enumerate(((440.0, 0.05), (660.0, 0.4))):
        d = sound_draft(5.0, freq=f, seed=i)
        d.media[0].data = wav_bytes(amp * np.cos(2 * np.pi * f * t))
        catalogue.add(d)
    s = show_settings(settings, durations={"image": 2.0})
    out = tmp_path / "steps.mkv"
    res = record_show(s, catalogue, out, 24.0, width=32, height=32, fps=5, audio_codec="pcm")
    track = decode_audio(out, SR, channels=2)
    kinds = [r["kind"] for r in res.timeline]
    assert kinds.count("soundscape") >= 3 and "image" in kinds
    level = max(abs(g.gain_db) for g in res.sound_levels.values())
    peak = float(np.abs(track).max())  # both tones levelled to the same loudness: the same amplitude
    assert peak < 0.2 and level > 3
    bound = peak * 2 * np.pi * 660 / SR * 2 + peak / (0.005 * SR) + 2 / 32767
    print(f"largest step {max_jump(track * 32767):.4f} (bound {bound:.4f}, peak {peak:.3f})")
    assert max_jump(track * 32767) <= bound
