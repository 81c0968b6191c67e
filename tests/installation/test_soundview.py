"""Sound-only works on screen: a melody's piano roll scrolls in time with its sound (measured in a
recording), a soundscape shows its paired visual or its spectrogram with a moving playhead."""

from __future__ import annotations

import numpy as np
import pytest

from generator.samples import image_draft, solid_png
from installation import soundview
from installation.audio import RecordAudio
from installation.programme import CatalogueSource
from installation.record import record_show
from installation.recording import decode_audio, decode_video
from installation.render import Renderer, offscreen_target
from installation.show import Show
from tests.installation.helpers import show_settings
from tests.installation.sound_samples import MELODY, melody_draft, soundscape_draft

pytestmark = pytest.mark.gl


def amber(frame: np.ndarray) -> np.ndarray:
    """Pixels of the roll's playhead colour."""
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    return (r > 190) & (g > 130) & (g < 235) & (b < 140)


def cyan(frame: np.ndarray) -> np.ndarray:
    """Pixels of the spectrogram's playhead colour."""
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    return (r < 150) & (g > 170) & (b > 190)


def centre_x(mask: np.ndarray) -> float | None:
    cols = mask.sum(axis=0).astype(float)
    return None if cols.sum() < 3 else float((cols * np.arange(len(cols))).sum() / cols.sum())


def note_pixels(row: np.ndarray) -> np.ndarray:
    """A roll's note blocks along one row of pixels (played, sounding or to come; not their glow)."""
    r, b = row[:, 0].astype(int), row[:, 2].astype(int)
    return (b > 120) & (b - r > 60)


def test_melody_playhead_matches_the_audio_clock_within_one_frame(settings, catalogue, tmp_path):
    mel = catalogue.add(melody_draft())  # older: plays second, so it starts mid-show, after a transition
    catalogue.add(image_draft(1))
    # The sound's own onset marks the audio clock: no fade-in (audio_crossfade 0) and no levelling, so
    # the first note's attack is where the melody's sound starts.
    s = show_settings(settings, fresh_hours=48, durations={"image": 2.0}, transition_seconds=0.5, label=False,
                      audio_crossfade=0.0, loudness_target=None)
    W, H, fps = 640, 360, 25
    out = tmp_path / "melody.mp4"
    res = record_show(s, catalogue, out, 7.0, width=W, height=H, fps=fps)
    assert res.status["skipped"] == 0
    frames, got_fps = decode_video(out)
    assert got_fps == fps and len(frames) == 175
    a = decode_audio(out)
    t_onset = np.flatnonzero(np.abs(a) > 0.05)[0] / 44100  # the first note sounds (the image is silent)
    assert 1.4 < t_onset < 1.6, t_onset
    midi = next(m for m in catalogue.get(mel).media if m.role == "midi")
    roll = soundview.read_roll(catalogue.media_path(midi), 8.0)
    L = soundview.roll_layout(roll, W, H)
    errors = []
    start = int(np.ceil((t_onset + s.transition_seconds) * fps)) + 1  # after the transition
    for i in range(start, len(frames)):
        f = frames[i]
        head = centre_x(amber(f))
        assert head is not None, f"frame {i}: no playhead"
        assert abs(head - L.head) < 2, (i, head)  # the playhead stands still; the roll moves
        ests = []
        for s0, _e, p in MELODY:
            lo, hi = L.lane_y(p)
            row = f[H - 1 - (lo + hi) // 2]
            cols = np.flatnonzero(note_pixels(row))
            runs = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1) if len(cols) else []
            for run in runs:
                if run[0] > 1 and run[-1] < W - 2 and len(run) >= 3:
                    # the block's left boundary is one pixel (the gap between notes) after its start
                    ests.append(s0 + (head - (run[0] - 1)) / L.pps)
        assert ests, f"frame {i}: no note block whose start is on screen"
        visual = float(np.median(ests))  # seconds into the melody under the playhead, read off the frame
        audio = i / fps - t_onset + MELODY[0][0]  # seconds into the melody the recording's sound is at
        errors.append(visual - audio)
    errors = np.array(errors)
    print(f"playhead - audio over {len(errors)} frames: mean {1000 * errors.mean():+.1f} ms, "
          f"max |{1000 * np.abs(errors).max():.1f}| ms (one frame: {1000 / fps:.0f} ms)")
    assert len(errors) >= 100
    assert np.abs(errors).max() <= 1 / fps, errors


def _frames(settings, catalogue, gl_ctx, seconds: float, fps: float = 25, W: int = 320, H: int = 180, **kw):
    s = show_settings(settings, label=False, **kw)
    fbo = offscreen_target(gl_ctx, W, H)
    r = Renderer(gl_ctx, W, H, s.fit)
    show = Show(s, r, RecordAudio(s.sample_rate), source=CatalogueSource(catalogue, s), catalogue=catalogue)
    out, drawn = [], []
    try:
        for i in range(int(seconds * fps)):
            drawn.append(show.frame(i / fps, fbo))
            out.append(r.read(fbo).copy())
        status = show.status()
    finally:
        show.close()
        r.release()
        fbo.release()
    return np.stack(out), drawn, status


def test_soundscape_paired_with_a_visual_shows_the_visual(settings, catalogue, gl_ctx):
    d = image_draft(4)
    d.media[0].data = solid_png((150, 30, 60), 64, 64)  # a picture with no playhead colour in it
    vid = catalogue.add(d)
    catalogue.add(soundscape_draft(3.0, pair_with=vid))
    frames, drawn, status = _frames(settings, catalogue, gl_ctx, 2.0, durations={"image": 3.0})
    assert status["item"]["artwork_id"] == vid and status["item"]["sound_id"] != vid  # the picture, with the sound
    assert not any(cyan(f).any() or amber(f).any() for f in frames)  # no playhead
    assert not any(drawn[1:])  # a still: nothing redrawn after the first frame
    assert np.array_equal(frames[-1][90, 160], [150, 30, 60]) and np.array_equal(frames[0], frames[-1])


def test_soundscape_alone_shows_its_spectrogram_with_a_moving_playhead(settings, catalogue, gl_ctx):
    catalogue.add(soundscape_draft(6.0))
    W, H, fps = 320, 180, 25
    frames, drawn, status = _frames(settings, catalogue, gl_ctx, 5.0, fps, W, H)
    assert status["item"]["kind"] == "soundscape"
    assert all(drawn)  # every frame is drawn while the sound plays
    x0, _, x1, _ = soundview.page_box(W, H)
    for i in range(0, len(frames), 5):
        head = centre_x(cyan(frames[i]))
        assert head is not None, i
        want = x0 + (x1 - x0) * (i / fps) / 6.0
        assert abs(head - want) <= (x1 - x0) / 6.0 / fps + 1, (i, head, want)  # within a frame (and a pixel)
    f = frames[75].astype(int)  # 3 s in: the spectrogram's warm band, brighter where it has played
    warm = (f[..., 0] > 120) & (f[..., 2] < 80)
    assert warm.sum() > 200
    xs = np.flatnonzero(warm.any(axis=0))
    assert xs.min() < x0 + 20 and xs.max() > x1 - 20  # spans the whole box
    mid = (x0 + x1) // 2
    assert f[:, x0:mid].max(axis=0).mean() > f[:, mid + 3:x1].max(axis=0).mean() * 1.3  # the future is dimmed


def test_melody_with_unreadable_notes_shows_its_picture_with_a_playhead(settings, catalogue, gl_ctx):
    d = melody_draft()
    d.media[0].data = b"MThd not really a midi file"
    catalogue.add(d)
    frames, _, status = _frames(settings, catalogue, gl_ctx, 1.0)
    assert status["skipped"] == 0 and status["item"]["kind"] == "melody"
    assert centre_x(cyan(frames[-1])) is not None and centre_x(amber(frames[-1])) is None


def test_read_roll_notes_beats_and_bad_files(tmp_path):
    from tests.installation.sound_samples import midi_bytes

    p = tmp_path / "m.mid"
    p.write_bytes(midi_bytes())
    roll = soundview.read_roll(p, 8.0)
    assert len(roll.notes) == len(MELODY)
    assert np.allclose(roll.notes[:, 0], [n[0] for n in MELODY], atol=1e-3)
    assert np.allclose(np.diff(roll.downbeats[:4]), 2.0) and roll.window == 8.0  # 4 bars of 4/4 at 120 bpm
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="not a readable MIDI file"):
        soundview.read_roll(bad, 1.0)


def test_sound_views_alternating_keep_gl_objects_flat(settings, catalogue, gl_ctx):
    catalogue.add(melody_draft(seconds=8.0))
    catalogue.add(soundscape_draft(3.0))
    catalogue.add(image_draft(2))
    s = show_settings(settings, label=False, durations={"image": 1.5, "melody": 2.0, "soundscape": 2.0},
                      max_item_seconds=2.0, no_repeat=0)
    fbo = offscreen_target(gl_ctx, 64, 36)
    r = Renderer(gl_ctx, 64, 36, s.fit)
    show = Show(s, r, RecordAudio(s.sample_rate), source=CatalogueSource(catalogue, s), catalogue=catalogue)
    counts = []
    try:
        for i in range(int(40 * 10)):
            show.frame(i / 10, fbo)
            if i % 50 == 49:
                counts.append(show.status()["gl_textures"])
        kinds = {catalogue.get(a).kind for a in show.shown}
    finally:
        show.close()
        r.release()
        fbo.release()
    assert kinds == {"melody", "soundscape", "image"}
    assert max(counts) <= 5 and counts[-1] == counts[2], counts
    assert r.live_textures == 0


def test_a_view_drawn_through_its_slot_matches_one_drawn_into_the_frame(gl_ctx, tmp_path):
    """In a transition a sound view goes through its picture slot; alone, straight into the frame: the same
    pixels either way, up to rounding (so nothing jumps when a transition ends)."""
    from tests.installation.sound_samples import midi_bytes, spectrogram_png

    p = tmp_path / "m.mid"
    p.write_bytes(midi_bytes())
    import cv2

    spect = cv2.imdecode(np.frombuffer(spectrogram_png(), np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    W, H = 320, 180
    fbo = offscreen_target(gl_ctx, W, H)
    r = Renderer(gl_ctx, W, H, "contain")
    views = soundview.SoundViews(r)
    try:
        for view in (soundview.read_roll(p, 8.0), soundview.Page(np.ascontiguousarray(spect), 6.0)):
            views.load(0, view)
            for pos in (0.3, 2.71, 5.0):
                assert views.draw(0, pos)
                r.draw(fbo, a=0, b=None)
                through_slot = r.read(fbo).copy()
                assert not views.draw(0, pos)  # already in the slot
                views.draw(0, pos, fbo=fbo)
                r.draw(fbo, a=None, b=None, keep=True)
                direct = r.read(fbo).copy()
                diff = np.abs(through_slot.astype(int) - direct)  # a glow's soft edge may round apart by 1
                assert diff.max() <= 2 and (diff > 0).sum() < 20, (type(view).__name__, pos, diff.max())
                assert centre_x(amber(direct) | cyan(direct)) is not None
    finally:
        views.release()
        r.release()
        fbo.release()
