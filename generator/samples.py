"""Small sample works for tests and benchmarks: a procedural image, a tiny H.264 walk, a soundscape.

Each is an ``ArtworkDraft`` ready for ``catalogue.add``: an image (``generator.procedural``), a walk-like
video (a moving gradient, or black with one white flash frame), and a soundscape (a soft tone, or silence
with one sharp click, optionally paired with a video). The flash and the click let a recording's A/V offset
be measured (``installation.recording`` reads a recording back). ``tiny_drafts``: many small works
(16 px images with thumbnails, or stand-in walks) for minting and catalogue tests.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from catalogue import ArtworkDraft, MediaDraft
from gallery.imaging import png_bytes
from generator import procedural


def wav_bytes(samples: np.ndarray, sr: int = 44100) -> bytes:
    """Mono or stereo float samples in [-1, 1] as a PCM16 WAV file."""
    a = np.asarray(samples, np.float32)
    if a.ndim == 1:
        a = a[:, None]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(a.shape[1])
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(a, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def mp4_bytes(frames: list[np.ndarray], fps: float, tmp: Path) -> bytes:
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    p = tmp / f"v{len(frames)}_{w}x{h}_{int(fps)}.mp4"
    wr = imageio_ffmpeg.write_frames(str(p), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                     macro_block_size=1, ffmpeg_log_level="error",
                                     output_params=["-preset", "ultrafast", "-crf", "12"])
    wr.send(None)
    for f in frames:
        wr.send(np.ascontiguousarray(f, np.uint8).tobytes())
    wr.close()
    return p.read_bytes()


def image_draft(seed: int, size: int = 64, title: str | None = None) -> ArtworkDraft:
    img = procedural.draw(seed, size)
    return ArtworkDraft(kind="image", title=title or f"Composition {seed}",
                        recipe={"generator": "test.images", "seed": seed},
                        media=[MediaDraft(role="image", mime="image/png", data=png_bytes(img),
                                          width=size, height=size)])


def solid_png(rgb: tuple[int, int, int], w: int = 32, h: int = 32) -> bytes:
    return png_bytes(np.full((h, w, 3), rgb, np.uint8))


def video_draft(tmp: Path, seconds: float = 2.0, fps: float = 10, size: int = 32, seed: int = 0,
                flash_at: float | None = None, kind: str = "walk") -> ArtworkDraft:
    """A walk-like video: a moving gradient, or black with one white flash frame at ``flash_at``."""
    n = int(round(seconds * fps))
    frames = []
    for i in range(n):
        if flash_at is not None:
            f = np.full((size, size, 3), 255 if i == int(round(flash_at * fps)) else 0, np.uint8)
        else:
            x = np.linspace(0, 255, size)[None, :, None]
            f = np.broadcast_to((x + i * 20 + seed * 40) % 256, (size, size, 3)).astype(np.uint8)
        frames.append(f)
    data = mp4_bytes(frames, fps, tmp)
    poster = png_bytes(frames[0])
    return ArtworkDraft(kind=kind, title=f"Walk {seed}", duration=seconds,
                        recipe={"generator": "test.walk", "seed": seed,
                                "timeline": {"duration": seconds, "fps": fps, "keyframe_times": [0, seconds]}},
                        media=[MediaDraft(role="video", mime="video/mp4", data=data, width=size, height=size,
                                          duration=seconds),
                               MediaDraft(role="poster", mime="image/png", data=poster)])


def sound_draft(seconds: float, click_at: float | None = None, freq: float = 330.0, sr: int = 44100,
                pair_with: int | None = None, seed: int = 0) -> ArtworkDraft:
    """A soundscape: a soft tone, or silence with one sharp click at ``click_at``."""
    t = np.arange(int(seconds * sr)) / sr
    if click_at is not None:
        a = np.zeros_like(t)
        k = int(round(click_at * sr))
        a[k:k + 64] = 0.9
    else:
        a = 0.3 * np.sin(2 * np.pi * freq * t)
    timeline = {"duration": seconds}
    return ArtworkDraft(kind="soundscape", title=f"Soundscape {seed}", duration=seconds,
                        recipe={"generator": "test.sound", "seed": seed, "freq": freq, "click_at": click_at},
                        media=[MediaDraft(role="audio", mime="audio/wav", data=wav_bytes(a, sr), duration=seconds),
                               MediaDraft(role="spectrogram", mime="image/png", data=solid_png((20, 40, 90)))],
                        pair_with=(pair_with, timeline) if pair_with is not None else None)


def tiny_png(seed: int, size: int = 16) -> bytes:
    """A size x size PNG of one colour (from the seed) with one white pixel: distinct bytes per seed."""
    from PIL import Image

    img = Image.new("RGB", (size, size), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    img.putpixel((seed % size, (seed // size) % size), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def tiny_drafts(n: int, kind: str = "image", start: int = 0) -> list[ArtworkDraft]:
    """``n`` small works (seeds ``start``...): a 16 px image and an 8 px thumbnail; with ``kind="walk"``, a
    stand-in video of a few bytes (not decodable) and a poster. What the minting tests and bench mint."""
    drafts = []
    for i in range(start, start + n):
        thumb = MediaDraft("thumbnail", "image/png", data=tiny_png(i, 8))
        media = [MediaDraft("image", "image/png", data=tiny_png(i)), thumb]
        if kind == "walk":
            media = [MediaDraft("video", "video/mp4", data=b"\x00\x00\x00\x18ftypmp42" + bytes([i]) * 64),
                     MediaDraft("poster", "image/png", data=tiny_png(i)), thumb]
        drafts.append(ArtworkDraft(kind=kind, recipe={"generator": "test.art", "version": 1, "seed": i,
                                                      "prompt": f"a quiet field {i}"},
                                   media=media, title=f"Field {i}", tags=["test"],
                                   duration=4.0 if kind == "walk" else None))
    return drafts
