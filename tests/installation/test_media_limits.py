"""The show's decode thread on hostile media (issue 21): over-budget and corrupt images, videos and sounds are
skipped and quarantined with the reason, and the show goes on."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from catalogue import ArtworkDraft, MediaDraft
from gallery.hostile_images import bomb_png, encode
from gallery.media import MediaSettings
from generator.samples import image_draft, sound_draft, video_draft
from installation.media import MediaError, VideoStream, load_image, prepare
from installation.programme import Entry, MediaRef
from installation.record import record_show
from installation.recording import decode_video
from tests.installation.helpers import show_settings

LIMITS = MediaSettings(max_image_pixels=100 * 100, max_video_pixels=2000, max_video_frames=30,
                       max_audio_seconds=2.0)


def _still(data: bytes, title: str) -> ArtworkDraft:
    return ArtworkDraft(kind="image", title=title, recipe={"generator": "test.hostile", "title": title},
                        media=[MediaDraft(role="image", mime="image/png", data=data, width=64, height=64)])


@pytest.mark.gl
def test_recorded_show_skips_and_quarantines_hostile_media_and_goes_on(settings, catalogue, tmp_path, caplog):
    good = [catalogue.add(image_draft(i)) for i in range(3)]
    gradient = np.linspace(0, 255, 200 * 200 * 3).reshape(200, 200, 3).astype(np.uint8)
    whole = encode(gradient, "PNG")
    bad = {
        "bomb": catalogue.add(_still(bomb_png(40000, 40000), "bomb")),
        "over budget": catalogue.add(_still(whole, "big")),
        "truncated": catalogue.add(_still(encode(gradient[:90, :90], "PNG")[:400], "cut")),
        "video pixels": catalogue.add(video_draft(tmp_path, seconds=1.0, size=48, seed=1)),
        "video frames": catalogue.add(video_draft(tmp_path, seconds=4.0, fps=10, size=32, seed=2)),
        "long sound": catalogue.add(sound_draft(3.0, seed=3)),
    }
    s = show_settings(settings, fresh_hours=48)
    caplog.set_level("WARNING", logger="installation.show")
    out = tmp_path / "hostile.mp4"
    res = record_show(s, catalogue, out, 6.0, width=80, height=48, fps=10, media=LIMITS)
    st = res.status
    errors = " | ".join(r.getMessage() for r in caplog.records if r.name == "installation.show")
    assert st["skipped"] == len(bad) and st["items_started"] >= 3, errors
    for reason in ("header claims 1600.0 MP, over the limit of 10000 pixels (media.max_image_pixels)",
                   "header claims 200x200 pixels (40000 pixels), over the limit of 10000 pixels",
                   "corrupt or truncated image data", "(media.max_video_pixels)", "(media.max_video_frames)",
                   "lasts 3 s, over the limit of 2 s (media.max_audio_seconds)"):
        assert reason in errors, (reason, errors)
    for what, aid in bad.items():
        assert catalogue.get(aid).status == "quarantined", what
    assert {catalogue.get(a).status for a in good} == {"ok"}
    frames, _ = decode_video(out)
    assert len(frames) == 60
    assert frames.reshape(60, -1).max(axis=1).min() > 40  # a picture in every frame: the show went on


def _entry(path, kind: str = "image") -> Entry:
    ref = MediaRef(kind=kind, path=path, sha256="0" * 64)
    return Entry(artwork_id=1, kind="image", title="t", created=datetime(2026, 1, 1), duration=2.0, visual=ref)  # noqa: DTZ001 - naive UTC, as the catalogue stores


def test_decode_thread_turns_any_decoder_error_into_a_skip(tmp_path, monkeypatch):
    p = tmp_path / "x.png"
    p.write_bytes(bomb_png(40000, 40000))
    with pytest.raises(MediaError, match=r"media\.max_image_pixels"):
        prepare(_entry(p), 44100, (64, 36), "contain")
    p.write_bytes(encode(np.zeros((8, 8, 3), np.uint8), "PNG"))

    def boom(*a, **k):
        raise RuntimeError("a decoder's own error")

    monkeypatch.setattr("installation.media.read_image", boom)
    with pytest.raises(MediaError, match=r"could not decode .RuntimeError: a decoder's own error"):
        prepare(_entry(p), 44100, (64, 36), "contain")


def test_stills_are_decoded_reduced_to_the_screen(tmp_path):
    p = tmp_path / "big.jpg"
    y, x = np.mgrid[0:1200, 0:1600]
    p.write_bytes(encode(np.stack([x % 256, y % 256, (x ^ y) % 256], -1).astype(np.uint8), "JPEG"))
    img = load_image(p, (160, 90), "contain")
    assert img.shape[1] >= 120 and img.shape[0] >= 90 and img.shape[0] * img.shape[1] < 1600 * 1200 // 16
    assert load_image(p).shape == (1200, 1600, 3)


def test_video_over_the_frame_budget_is_refused_by_ffmpeg_before_a_frame_is_read(tmp_path):
    d = video_draft(tmp_path, seconds=0.5, size=48)
    p = tmp_path / "v.mp4"
    p.write_bytes(d.media[0].data)
    with pytest.raises(ValueError, match=r"frames of 48x48 pixels .* over the limit of 2000 pixels"):
        VideoStream(p, limits=LIMITS)
    v = VideoStream(p)  # the default limits allow it
    assert v.size == (48, 48)
    v.close()
