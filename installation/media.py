"""Decoding what the show plays: still images, video streams (decoded ahead on a thread), sounds.

Every failure to read a file is a ``MediaError`` naming the artwork, the file and the reason; the show
skips (and quarantines) the work and goes on.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gallery.media import (
    DEFAULTS,
    BadMedia,
    MediaSettings,
    check_video,
    ffmpeg_input_limits,
    probe_audio,
    read_image,
)
from installation.loudness import declick
from installation.programme import Entry, MediaRef

log = logging.getLogger(__name__)
_OVER_PIXELS = re.compile(r"Picture size (\d+)x(\d+) exceeds specified max pixel count")


class MediaError(Exception):
    def __init__(self, entry: Entry, ref: MediaRef, reason: str) -> None:
        super().__init__(f"artwork {entry.artwork_id} ({entry.kind} {entry.title!r}): {ref.kind} file "
                         f"{ref.path} ({ref.sha256[:12]}): {reason}")
        self.entry = entry
        self.ref = ref
        self.reason = reason


def load_image(path: Path, screen: tuple[int, int] | None = None, fit: str = "contain",
               limits: MediaSettings = DEFAULTS) -> np.ndarray:
    """RGB uint8 (H, W, 3); ValueError when the file is missing, not a readable image, or its header claims
    more than ``media.max_image_pixels``. With ``screen``, decoded reduced to no less than it will be drawn."""
    if not Path(path).is_file():
        raise ValueError("file is missing")
    try:
        return read_image(path, what="image", max_pixels=limits.max_image_pixels, fit=screen, cover=fit == "cover")
    except BadMedia as e:
        raise ValueError(e.reason) from e


def load_audio(path: Path, sample_rate: int, limits: MediaSettings = DEFAULTS) -> np.ndarray:
    """int16 stereo (N, 2) at ``sample_rate`` (linear resampling); ValueError when unreadable or longer than
    ``media.max_audio_seconds`` (told by the header, before decoding)."""
    import soundfile as sf

    if not Path(path).is_file():
        raise ValueError("file is missing")
    try:
        probe_audio(path, what="sound", limits=limits)
    except BadMedia as e:
        raise ValueError(e.reason) from e
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises its own LibsndfileError / RuntimeError
        raise ValueError(f"not a readable sound file ({e})") from e
    if data.shape[0] == 0:
        raise ValueError("sound file holds no samples")
    if not np.all(np.isfinite(data)):
        raise ValueError("sound file holds NaN or infinite samples")
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    elif data.shape[1] > 2:
        data = data[:, :2]
    if sr != sample_rate:
        n = max(1, int(round(data.shape[0] * sample_rate / sr)))
        src = np.arange(data.shape[0], dtype=np.float64) / sr
        dst = np.arange(n, dtype=np.float64) / sample_rate
        data = np.stack([np.interp(dst, src, data[:, c]) for c in range(2)], axis=1).astype(np.float32)
    return (np.clip(data, -1.0, 1.0) * 32767).astype(np.int16)


def fit_picture(rgb: np.ndarray, width: int, height: int, fit: str) -> np.ndarray:
    """A still fitted to the screen on the decode thread: RGBA (height, width, 4), drawn 1:1.

    Area-averaged when shrinking (a big picture does not alias), bicubic when enlarging; contain
    leaves black bars, cover crops the overflow. The renderer then samples it texel for texel.
    """
    import cv2

    h, w = rgb.shape[:2]
    s = min(width / w, height / h) if fit == "contain" else max(width / w, height / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(rgb, (nw, nh), interpolation=interp) if (nw, nh) != (w, h) else rgb
    out = np.zeros((height, width, 4), np.uint8)
    out[:, :, 3] = 255
    # place (contain) or crop (cover) around the centre
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    cw, ch = min(nw - sx0, width - dx0), min(nh - sy0, height - dy0)
    out[dy0:dy0 + ch, dx0:dx0 + cw, :3] = scaled[sy0:sy0 + ch, sx0:sx0 + cw]
    return out


def shrink_to_screen(rgb: np.ndarray, width: int, height: int, fit: str) -> np.ndarray:
    """A still larger than the screen, area-averaged down to its fitted size on the decode thread (no
    aliasing, a smaller texture); when that is the screen's size the renderer draws it texel for texel.
    A smaller one is left as it is for the GPU to enlarge (a small texture is the cheapest to sample)."""
    import cv2

    h, w = rgb.shape[:2]
    s = min(width / w, height / h) if fit == "contain" else max(width / w, height / h)
    if s >= 1.0:
        return rgb
    if (fit == "contain" and (round(w * s), round(h * s)) == (width, height)) or fit == "cover":
        return fit_picture(rgb, width, height, fit)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


class VideoStream:
    """Frames of one video (RGBA) decoded ahead by a worker thread into a small bounded queue.

    ``frame_at(t)`` gives the frame for t seconds into the video (holding the last one after the end).
    """

    def __init__(self, path: Path, depth: int = 4, block_timeout: float = 15.0,
                 limits: MediaSettings = DEFAULTS) -> None:
        import imageio_ffmpeg

        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError("file is missing")
        # RGBA: a 4-byte texel uploads without conversion (llvmpipe: ~0.2 ms for 1080p against ~2 ms for RGB);
        # ffmpeg's decoder refuses frames over media.max_video_pixels itself (it decodes a few to probe)
        self._gen = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgba", bits_per_pixel=32,
                                               input_params=ffmpeg_input_limits(limits))
        try:
            meta = next(self._gen)
        except Exception as e:
            self._gen.close()
            over = _OVER_PIXELS.search(str(e))
            if over:
                try:
                    check_video(int(over.group(1)), int(over.group(2)), None, None, what="video", limits=limits)
                except BadMedia as be:
                    raise ValueError(be.reason) from e
            raise ValueError(f"not a readable video ({_short(e)})") from e
        self.size: tuple[int, int] = tuple(meta["size"])  # type: ignore[assignment]
        self.fps = float(meta.get("fps") or 25.0)
        self.duration = float(meta.get("duration") or 0.0)
        try:
            check_video(self.size[0], self.size[1], self.fps, self.duration, what="video", limits=limits)
        except BadMedia as e:
            self._gen.close()
            raise ValueError(e.reason) from e
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self.error: str | None = None
        self.block_timeout = block_timeout
        self.index = -1  # index of the frame last returned
        self.frame: np.ndarray | None = None
        self.ended = False
        self._t = threading.Thread(target=self._work, name=f"video-{self.path.name[:12]}", daemon=True)
        self._t.start()
        first = self._take(block=True)
        if first is None:
            self.close()
            raise ValueError(f"video has no decodable frame ({self.error or 'empty stream'})")

    def _work(self) -> None:
        try:
            for raw in self._gen:
                while not self._stop.is_set():
                    try:
                        self._q.put(raw, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    break
        except Exception as e:  # noqa: BLE001 - a file corrupt half-way: the video ends there
            self.error = _short(e)
        finally:
            with contextlib.suppress(Exception):  # the error that matters is recorded above
                self._gen.close()
            while not self._stop.is_set():
                try:
                    self._q.put(None, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def _take(self, block: bool) -> np.ndarray | None:
        if self.ended:
            return None
        try:
            raw = self._q.get(block=block, timeout=self.block_timeout if block else None)
        except queue.Empty:
            return None
        if raw is None:
            self.ended = True
            return None
        w, h = self.size
        if len(raw) != w * h * 4:
            self.ended = True
            return None
        self.index += 1
        self.frame = np.frombuffer(raw, np.uint8).reshape(h, w, 4)
        return self.frame

    def frame_at(self, t: float, block: bool = True) -> tuple[np.ndarray, bool]:
        """(frame for time t, whether it is a new frame since the last call). Non-blocking may lag (drop)."""
        target = int(t * self.fps + 1e-6)
        new = False
        while self.index < target and not self.ended:
            if self._take(block=block) is None:
                break
            new = True
        assert self.frame is not None
        return self.frame, new

    def close(self) -> None:
        self._stop.set()
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._t.join(timeout=5)


def _short(e: BaseException) -> str:
    s = f"{type(e).__name__}: {e}"
    return s.splitlines()[0][:200] if s else type(e).__name__


@dataclass
class Prepared:
    """An entry with its media decoded and ready to start (done on the prefetch thread)."""

    entry: Entry
    image: np.ndarray | None = None
    video: VideoStream | None = None
    audio: np.ndarray | None = None  # int16 stereo at the mixer rate

    def first_frame(self) -> np.ndarray:
        if self.video is not None:
            assert self.video.frame is not None
            return self.video.frame
        assert self.image is not None
        return self.image

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
            self.video = None


def prepare(entry: Entry, sample_rate: int, screen: tuple[int, int] | None = None, fit: str = "contain",
            limits: MediaSettings = DEFAULTS, leveller: Callable[[np.ndarray, int, str], np.ndarray] | None = None
            ) -> Prepared:
    """Decode an entry's media (image, or open the video and its first frame; the sound).

    With ``screen`` (width, height), a still is fitted to it here, off the render thread. With ``leveller``
    (``installation.loudness.Leveller``), the sound is brought to the show's loudness target here too, and
    every sound's edges are ramped over a few ms (no click where it starts or is cut). Whatever goes
    wrong with a file (over a media limit, corrupt, a decoder's own error) is a MediaError: the show skips
    the work and goes on.
    """
    p = Prepared(entry)
    ref = entry.visual
    try:
        if ref.kind == "video":
            p.video = VideoStream(ref.path, limits=limits)
        else:
            p.image = load_image(ref.path, screen, fit, limits)
            if screen is not None:
                p.image = shrink_to_screen(p.image, screen[0], screen[1], fit)
    except ValueError as e:
        raise MediaError(entry, ref, str(e)) from e
    except Exception as e:  # a decoder's own error (cv2.error, MemoryError...) must not stop the show
        raise MediaError(entry, ref, f"could not decode ({_short(e)})") from e
    if entry.audio is not None:
        try:
            p.audio = load_audio(entry.audio.path, sample_rate, limits)
            if leveller is not None:  # the whole sound is measured (and cached by sha256), then cut to the timeline
                p.audio = leveller(p.audio, sample_rate, entry.audio.sha256)
            k = int(round(entry.audio_offset * sample_rate))
            if k > 0:  # the sound starts later than the picture: lead in with silence
                p.audio = np.concatenate([np.zeros((k, 2), np.int16), p.audio])
            elif k < 0:  # the sound started before: join it part-way
                p.audio = p.audio[-k:]
            declick(p.audio, sample_rate)
        except ValueError as e:
            p.close()
            raise MediaError(entry, entry.audio, str(e)) from e
        except Exception as e:
            p.close()
            raise MediaError(entry, entry.audio, f"could not decode ({_short(e)})") from e
    return p
