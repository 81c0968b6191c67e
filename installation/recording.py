"""A show recording read back: its frames and frame rate, its sound track (for checks of A/V sync).

Reads the MP4 that ``installation.record.record_show`` writes, through the ffmpeg that imageio-ffmpeg
ships; used by the installation tests and ``bench/installation.py``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode_video(path: Path) -> tuple[np.ndarray, float]:
    """All frames (N, H, W, 3) and the frame rate of a recording."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen]
    return np.stack(frames), float(meta["fps"])


def decode_audio(path: Path, sr: int = 44100, channels: int = 1) -> np.ndarray:
    """The recording's sound track, float in [-1, 1]: mono (N,), or with ``channels=2`` stereo (N, 2)
    (as played; what a loudness meter measures)."""
    res = subprocess.run([ffmpeg(), "-loglevel", "error", "-i", str(path), "-vn", "-f", "s16le", "-ac", str(channels),
                          "-ar", str(sr), "-"], capture_output=True, check=True)
    a = np.frombuffer(res.stdout, "<i2").astype(np.float32) / 32768
    return a if channels == 1 else a.reshape(-1, channels)
