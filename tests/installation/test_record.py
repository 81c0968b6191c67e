"""Headless recordings: what visitors see and hear, broken media, A/V alignment, closed hours, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from generator.samples import image_draft, sound_draft, video_draft
from installation.record import record_show
from installation.recording import decode_audio, decode_video
from tests.installation.helpers import show_settings

pytestmark = pytest.mark.gl


def test_av_alignment_click_on_flash_and_sound_ends_with_its_visual(settings, catalogue, tmp_path):
    catalogue.add(image_draft(1))  # older: shown second, silent
    vid = catalogue.add(video_draft(tmp_path, seconds=3.0, fps=25, flash_at=1.0))
    t = np.arange(3 * 44100) / 44100
    tone = 0.1 * np.sin(2 * np.pi * 220 * t)
    tone[44100:44100 + 64] = 0.9  # the click, at 1.0 s like the flash
    from generator.samples import wav_bytes

    d = sound_draft(3.0, pair_with=vid)
    d.media[0].data = wav_bytes(tone)
    catalogue.add(d)
    s = show_settings(settings, fresh_hours=48, durations={"image": 2.0}, transition_seconds=0.5,
                      loudness_target=None)  # the levels as made (loudness: test_sound.py)
    out = tmp_path / "av.mp4"
    res = record_show(s, catalogue, out, 4.0, width=64, height=64, fps=25)
    assert res.status["skipped"] == 0 and res.frames == 100
    frames, fps = decode_video(out)
    assert len(frames) == 100 and fps == 25
    bright = np.flatnonzero(frames.reshape(len(frames), -1).mean(axis=1) > 128)
    assert len(bright) >= 1
    t_flash = bright[0] / fps
    a = decode_audio(out)
    t_click = np.flatnonzero(np.abs(a) > 0.5)[0] / 44100
    assert abs(t_flash - 1.0) < 1e-6
    print(f"A/V offset {1000 * (t_click - t_flash):+.1f} ms")
    assert abs(t_click - t_flash) < 1 / fps, (t_click, t_flash)  # within one frame
    rms = lambda a0, a1: float(np.sqrt(np.mean(a[int(a0 * 44100):int(a1 * 44100)] ** 2)))  # noqa: E731
    assert 0.05 < rms(1.2, 2.4) < 0.1  # the soundscape plays with its visual
    assert rms(3.05, 3.9) < 0.003  # and has ended with it (the next item is silent)


def test_recording_completes_past_broken_and_missing_media(settings, catalogue, tmp_path):
    good = [catalogue.add(image_draft(i)) for i in range(3)]
    bad_video = video_draft(tmp_path, seconds=1.0, seed=9)
    bad_video.media[0].data = b"\x00\x00\x00\x18ftypmp42 definitely not a video" * 50
    bad_vid = catalogue.add(bad_video)
    missing = catalogue.add(image_draft(7))  # newest: tried first
    art = catalogue.get(missing)
    catalogue.media_path(art.media[0]).unlink()
    s = show_settings(settings, fresh_hours=48)
    out = tmp_path / "broken.mp4"
    res = record_show(s, catalogue, out, 6.0, width=80, height=48, fps=10)
    assert res.status["skipped"] == 2 and res.status["items_started"] >= 3
    errors = " | ".join(res.status["recent_errors"])
    assert "file is missing" in errors and "not a readable video" in errors, errors
    frames, _ = decode_video(out)
    assert len(frames) == 60
    assert frames.reshape(60, -1).max(axis=1).min() > 40  # never a black gap: a picture in every frame
    for aid in (bad_vid, missing):
        assert catalogue.get(aid).status == "quarantined"
    assert {catalogue.get(a).status for a in good} == {"ok"}
    assert any(catalogue.store.quarantine.iterdir())  # the corrupt blob was moved aside


@pytest.mark.parametrize("screen", ["dim", "blank"])
def test_closed_hours_show_a_dim_or_blank_screen_then_open(settings, catalogue, tmp_path, screen):
    catalogue.add(image_draft(1))
    s = show_settings(settings, opening_hours={"wed": ["09:00-18:00"]}, closed_screen=screen)
    out = tmp_path / "closed.mp4"
    res = record_show(s, catalogue, out, 2.0, width=160, height=90, fps=10,
                      wall_start=datetime(2026, 11, 25, 8, 59, 59, tzinfo=UTC))
    frames, _ = decode_video(out)
    closed, open_ = frames[:9], frames[12:]
    assert closed.mean() < 12  # dark, nothing of the artworks
    if screen == "dim":
        assert closed.max() > 60  # the small "Closed · opens …" note: visibly not a dead screen
    else:
        assert closed.max() < 10
    assert open_.reshape(len(open_), -1).max(axis=1).min() > 60
    assert res.status["state"] == "playing"


def test_show_cli_records_and_rejects_bad_input(config_file, catalogue, tmp_path):
    from gallery.cli import main

    catalogue.add(image_draft(1))
    out = tmp_path / "cli.mp4"

    def run(*args: str) -> int:
        with pytest.raises(SystemExit) as e:
            main(["-c", str(config_file), "show", *args])
        return e.value.code

    assert run("--headless", "--record", str(out), "--seconds", "1", "--width", "64", "--height", "36",
               "--fps", "10") == 0
    frames, _ = decode_video(out)
    assert frames.shape == (10, 36, 64, 3)
    assert run("--headless", "--seconds", "1") == 2
    assert run("--headless", "--record", str(tmp_path / "x.avi"), "--seconds", "1") == 2
    assert run("--headless", "--record", str(out), "--seconds", "1", "--width", "63") == 2
    assert run("--headless", "--record", str(tmp_path / "nope" / "x.mp4"), "--seconds", "1") == 2
    assert run("--headless", "--record", str(out), "--seconds", "-3") == 2


def test_broken_sound_is_quarantined_and_its_picture_comes_back_silent(settings, catalogue, tmp_path):
    vid = catalogue.add(video_draft(tmp_path, seconds=1.0, fps=10, seed=3))
    bad = sound_draft(1.0, pair_with=vid)
    bad.media[0].data = b"RIFF\x10\x00\x00\x00WAVEjunk" * 10
    sound = catalogue.add(bad)
    catalogue.add(image_draft(1))
    s = show_settings(settings, no_repeat=0)
    res = record_show(s, catalogue, tmp_path / "s.mp4", 12.0, width=64, height=36, fps=10)
    assert res.status["skipped"] == 1 and "not a readable sound file" in res.status["last_error"]
    assert catalogue.get(sound).status == "quarantined" and catalogue.get(vid).status == "ok"
    assert vid in res.status["recent_items"]  # the picture came back once its broken sound was dropped
    assert np.abs(decode_audio(tmp_path / "s.mp4")).max() < 0.01  # and it is silent


def test_pairing_offset_delays_the_sound(settings, catalogue, tmp_path):
    vid = catalogue.add(video_draft(tmp_path, seconds=2.0, fps=25, flash_at=1.0))
    d = sound_draft(1.5, click_at=0.5, pair_with=vid)
    d.pair_with = (vid, {"duration": 1.5, "offset": 0.5})  # the sound starts half a second in
    catalogue.add(d)
    out = tmp_path / "off.mp4"
    record_show(show_settings(settings), catalogue, out, 2.0, width=32, height=32, fps=25)
    frames, fps = decode_video(out)
    t_flash = np.flatnonzero(frames.reshape(len(frames), -1).mean(axis=1) > 128)[0] / fps
    a = decode_audio(out)
    t_click = np.flatnonzero(np.abs(a) > 0.5)[0] / 44100
    assert abs(t_flash - 1.0) < 1e-6 and abs(t_click - 1.0) < 1 / fps
