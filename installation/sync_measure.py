"""Reading a synchronised show's recordings back: which shared frame each screen showed when.

Each recorded frame carries (``installation.watermark``) the shared-clock frame number N it was drawn
for and the recording machine's own clock when it was done. For two screens recorded on one machine
(one observer clock), the offset of frame N between them is the difference of those times, in frames;
a picture compared at equal N says they showed the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from installation import watermark


@dataclass
class Track:
    """A recording's frames: N -> (observer ms, leader tag, frame's mean picture below the marks)."""

    frames: dict[int, tuple[int, int, float]]
    unreadable: int
    pictures: dict[int, np.ndarray]

    def times(self) -> np.ndarray:
        return np.array(sorted(ms for ms, _, _ in self.frames.values()), float)


def read_track(path: Path, keep_pictures: bool = False) -> Track:
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    frames: dict[int, tuple[int, int, float]] = {}
    pictures: dict[int, np.ndarray] = {}
    bad = 0
    try:
        for raw in gen:
            rgb = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
            m = watermark.read(rgb)
            if m is None:
                bad += 1
                continue
            body = rgb[watermark.HEIGHT + 2:]
            frames[m["frame"]] = (m["true_ms"], m["tag"], float(body.mean()))
            if keep_pictures:
                pictures[m["frame"]] = body[::4, ::4].copy()
    except RuntimeError:  # a recording cut short (its process killed): what was written is read
        pass
    finally:
        gen.close()
    return Track(frames, bad, pictures)


def late(t: Track, fps: float, half: int = 15) -> set[int]:
    """Frames drawn more than a frame later than the screen's usual (the median of the frames around
    them): the process was held up (a busy machine), which says nothing of its clock. A clock off by
    some amount shifts every frame alike and is not "late" here; ``offsets`` still counts it."""
    ns = sorted(t.frames)
    lag = np.array([t.frames[n][0] - n * 1000.0 / fps for n in ns])
    out = set()
    for i, n in enumerate(ns):
        if lag[i] - np.median(lag[max(0, i - half):i + half + 1]) > 1000.0 / fps:
            out.add(n)
    return out


def offsets(a: Track, b: Track, fps: float, since_ms: int = 0, skip_late: bool = False) -> np.ndarray:
    """For every frame N both showed (a's after ``since_ms``): (b's time - a's time) in frames.
    ``skip_late``: leave out frames either screen drew late (``late``): the clocks' agreement alone."""
    skip = (late(a, fps) | late(b, fps)) if skip_late else set()
    common = sorted(n for n in a.frames.keys() & b.frames.keys() if a.frames[n][0] >= since_ms and n not in skip)
    return np.array([(b.frames[n][0] - a.frames[n][0]) * fps / 1000.0 for n in common], float)


def same_pictures(a: Track, b: Track) -> tuple[int, float]:
    """(frames compared, the largest mean absolute difference of their pictures, 0..255)."""
    common = sorted(a.pictures.keys() & b.pictures.keys())
    worst = 0.0
    for n in common:
        worst = max(worst, float(np.abs(a.pictures[n].astype(np.int16) - b.pictures[n].astype(np.int16)).mean()))
    return len(common), worst


def percentiles(x: np.ndarray) -> dict[str, float]:
    if len(x) == 0:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    ax = np.abs(x)
    return {"n": int(len(x)), "p50": round(float(np.percentile(ax, 50)), 3), "p99": round(float(np.percentile(ax, 99)), 3),
            "max": round(float(ax.max()), 3), "mean": round(float(x.mean()), 3)}


def first_in_sync(ref: Track, other: Track, fps: float, within: float = 1.0, run: int = 15) -> int | None:
    """The observer ms of ``other``'s first frame from which ``run`` frames in a row are within ``within``
    frames of ``ref`` (a rejoin), or None."""
    common = sorted(other.frames.keys() & ref.frames.keys())
    ok = 0
    for i, n in enumerate(common):
        d = abs(other.frames[n][0] - ref.frames[n][0]) * fps / 1000.0
        ok = ok + 1 if d <= within else 0
        if ok >= run:
            return other.frames[common[i - run + 1]][0]
    return None
