"""A few rows of black and white blocks in a recorded frame's top-left corner carrying numbers, so that a
recording says itself which shared-clock frame each picture was drawn for (tests and benches of the
synchronised show read them back from the decoded video; H.264 keeps 4x4 blocks of 0 / 255 intact).

Rows: the frame number on the shared clock (N: drawn for shared time N / fps), the recording machine's
own clock in ms when the frame was done (never skewed: the observer's clock), a small tag (low 4 bits: the index of
the screen leading at the time, +1, 0 when no leader answers; high 4 bits: the last hex digit of the
playlist's version) and a check over the three.
"""

from __future__ import annotations

import numpy as np

BLOCK = 4  # pixels a bit (square)
FIELDS = (("frame", 42), ("true_ms", 44), ("tag", 8), ("check", 16))
WIDTH = BLOCK * max(b for _, b in FIELDS)
HEIGHT = BLOCK * len(FIELDS)


def _check(frame: int, true_ms: int, tag: int) -> int:
    return (frame * 2654435761 ^ true_ms * 40503 ^ tag * 977) & 0xFFFF


def stamp(rgb: np.ndarray, frame: int, true_ms: int, tag: int = 0) -> np.ndarray:
    """Write the marks into ``rgb`` (H, W, 3 uint8, top row first; a copy when read-only)."""
    if rgb.shape[1] < WIDTH or rgb.shape[0] < HEIGHT:
        raise ValueError(f"a watermark needs a frame of at least {WIDTH}x{HEIGHT} pixels")
    if not rgb.flags.writeable:
        rgb = rgb.copy()
    values = {"frame": frame, "true_ms": true_ms, "tag": tag, "check": _check(frame, true_ms, tag)}
    for r, (name, bits) in enumerate(FIELDS):
        v = values[name]
        row = rgb[r * BLOCK:(r + 1) * BLOCK]
        for b in range(bits):
            row[:, b * BLOCK:(b + 1) * BLOCK] = 255 if (v >> b) & 1 else 0
    return rgb


def read(rgb: np.ndarray) -> dict[str, int] | None:
    """The marks of a decoded frame, or None when they do not check out (a damaged frame)."""
    out: dict[str, int] = {}
    for r, (name, bits) in enumerate(FIELDS):
        # the middle 2x2 pixels of each block: the edges blur a little in H.264
        row = rgb[r * BLOCK + 1:r * BLOCK + BLOCK - 1].astype(np.int32)
        v = 0
        for b in range(bits):
            if row[:, b * BLOCK + 1:b * BLOCK + BLOCK - 1].mean() > 127:
                v |= 1 << b
        out[name] = v
    if out["check"] != _check(out["frame"], out["true_ms"], out["tag"]):
        return None
    return out
