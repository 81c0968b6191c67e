"""Every sound at one loudness: EBU R128 integrated loudness (pyloudnorm), a gain to the target, a
look-ahead peak limiter under a ceiling, short de-click ramps, and a cache of what was measured.

``Leveller`` runs on the show's prefetch thread when a sound is decoded (``installation.media.prepare``),
so the live mixer and the recording mixer play the same levelled samples. How it works:

- **Measure** the sound as it will play (stereo, at the mixer's rate, the first ``MAX_MEASURE_SECONDS``)
  with ``pyloudnorm.Meter`` (ITU-R BS.1770-4: K-weighting, 400 ms blocks, absolute and relative gates).
  A clip shorter than one 400 ms block is measured looped to 0.4 s (the same K-weighted mean square);
  a silent one (below the -70 LUFS absolute gate) gets no gain.
- **Gain** to the target, at most ``MAX_BOOST_DB`` up (a near-silent tail is not raised into noise).
- **Limit**: if a sample would then pass ``ceiling`` (dBFS, default -1), a look-ahead limiter lowers the
  gain around each such peak (minimum over +-5 ms, then a +-5 ms moving average: never above what the peak
  needs, ramps of 10 ms, no clipping, no click). Limiting takes a little loudness away, so the sound is
  measured again and the gain raised by what is missing (up to 3 times) until it is within 0.1 LU.
- **Cache** per media sha256: in memory, and in a small JSON file under data_dir
  (``show.loudness_cache``), so a sound is measured once, not every time it comes round. The show is a
  reader of the catalogue: it does not write Media rows on its hot path; the file is derived data that
  may be deleted at any time (it is rebuilt as sounds play).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DECLICK_SECONDS = 0.005  # every sound's first and last 5 ms are ramped (no click at a hard edge)
BLOCK_SECONDS = 0.4  # BS.1770 gating block: the shortest signal pyloudnorm measures
MAX_MEASURE_SECONDS = 300.0  # a longer sound is measured on its first five minutes (memory stays bounded)
MAX_BOOST_DB = 24.0
ABSOLUTE_GATE = -70.0  # LUFS; anything quieter counts as silence
LOOKAHEAD_SECONDS = 0.005
CACHE_ENTRIES = 20_000


@dataclass(frozen=True)
class Level:
    """What the leveller did to one sound."""

    lufs: float | None  # integrated loudness as decoded; None: silent
    gain_db: float  # gain applied (before the limiter)
    limited: bool  # the limiter lowered some peaks
    how: str  # "measured" | "short" (looped to one block) | "silent"
    target: float
    ceiling: float


def db(x: float) -> float:
    return 20.0 * math.log10(max(x, 1e-12))


def measure(x: np.ndarray, sr: int) -> tuple[float | None, str]:
    """Integrated loudness (LUFS) of float samples (N, channels) in [-1, 1]; (None, "silent") when silent."""
    import pyloudnorm

    x = np.nan_to_num(np.asarray(x, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if x.ndim == 1:
        x = x[:, None]
    x = x[: int(MAX_MEASURE_SECONDS * sr)]
    if len(x) == 0 or not np.any(x):
        return None, "silent"
    how = "measured"
    need = int(math.ceil(BLOCK_SECONDS * sr)) + 2
    if len(x) < need:  # pyloudnorm needs more than one block: loop the clip to fill one
        x = np.tile(x, (int(math.ceil(need / len(x))), 1))[:need]
        how = "short"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        lufs = float(pyloudnorm.Meter(sr).integrated_loudness(x))
    if not math.isfinite(lufs) or lufs < ABSOLUTE_GATE:
        return None, "silent"
    return lufs, how


def limit(y: np.ndarray, ceiling: float, sr: int) -> tuple[np.ndarray, bool]:
    """Look-ahead peak limiter: (samples with every |sample| <= ceiling (linear), whether it engaged).

    The gain each frame needs (linked across channels) is spread as a minimum over +-w samples, then
    averaged over +-w: each average is of minima over windows holding the frame itself, so the gain never
    exceeds what the frame needs, and it moves in ramps of 2w + 1 samples instead of jumping."""
    from scipy.ndimage import minimum_filter1d

    peak = np.abs(y).max(axis=1)
    if len(y) == 0 or float(peak.max()) <= ceiling:
        return y, False
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    w = max(1, int(LOOKAHEAD_SECONDS * sr))
    spread = minimum_filter1d(need, size=2 * w + 1, mode="nearest").astype(np.float64)
    c = np.concatenate([[0.0], np.cumsum(np.pad(spread, w, mode="edge"))])
    env = (c[2 * w + 1:] - c[: -2 * w - 1]) / (2 * w + 1)
    env = np.minimum(env, need).astype(np.float32)  # rounding only: the average is already <= need
    return y * env[:, None], True


def declick(samples: np.ndarray, sr: int) -> np.ndarray:
    """Ramp the first and last ``DECLICK_SECONDS`` of a sound in place (no click at a hard edge); returns it."""
    n = min(len(samples) // 2, max(1, int(DECLICK_SECONDS * sr)))
    if n <= 1:
        return samples
    ramp = ((np.arange(n, dtype=np.float32) + 0.5) / n)[:, None]
    for sl, r in ((slice(0, n), ramp), (slice(len(samples) - n, len(samples)), ramp[::-1])):
        edge = samples[sl].astype(np.float32) * r
        samples[sl] = np.round(edge).astype(samples.dtype) if samples.dtype.kind == "i" else edge
    return samples


class LoudnessCache:
    """sha256 -> {lufs, how, gain_db, limited, target, ceiling}: in memory, and in ``path`` (JSON) if given.

    An unreadable or corrupt file is ignored (sounds are measured again); a failed write is logged and
    the memory cache goes on. Writes are atomic (a temporary file renamed over the old one)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._mem: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.loaded = False
        self.writes = 0

    def _load(self) -> None:
        self.loaded = True
        if self.path is None or not self.path.is_file():
            return
        try:
            data = json.loads(self.path.read_text())
            self._mem.update({k: v for k, v in data.get("sounds", {}).items() if isinstance(v, dict)})
        except (OSError, ValueError, AttributeError) as e:
            log.warning("loudness cache %s unreadable (%s): sounds are measured again", self.path, e)

    def get(self, sha256: str) -> dict | None:
        with self._lock:
            if not self.loaded:
                self._load()
            return self._mem.get(sha256)

    def put(self, sha256: str, entry: dict) -> None:
        with self._lock:
            if not self.loaded:
                self._load()
            self._mem[sha256] = entry
            while len(self._mem) > CACHE_ENTRIES:
                self._mem.pop(next(iter(self._mem)))
            if self.path is None:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps({"version": 1, "sounds": self._mem}, separators=(",", ":")))
                os.replace(tmp, self.path)
                self.writes += 1
            except OSError as e:
                log.warning("could not write the loudness cache %s: %s", self.path, e)


class Leveller:
    """Brings each decoded sound (int16 stereo) to ``target`` LUFS under ``ceiling`` dBFS, caching by sha256.

    ``levels`` keeps what was done to each sound this run (for the bench and the log)."""

    def __init__(self, target: float, ceiling: float = -1.0, cache: LoudnessCache | None = None) -> None:
        self.target = float(target)
        self.ceiling = float(ceiling)
        self.cache = cache if cache is not None else LoudnessCache()
        self.levels: dict[str, Level] = {}
        self.measured = 0  # pyloudnorm measurements made (cache misses and limiter passes)

    def __call__(self, samples: np.ndarray, sr: int, sha256: str) -> np.ndarray:
        x = samples.astype(np.float32) / 32767.0
        ceiling = 10 ** (self.ceiling / 20)
        known = self.cache.get(sha256)
        if known is not None and known.get("target") == self.target and known.get("ceiling") == self.ceiling:
            lvl = Level(known.get("lufs"), float(known.get("gain_db", 0.0)), bool(known.get("limited")),
                        str(known.get("how", "measured")), self.target, self.ceiling)
            y = x if lvl.lufs is None else limit(x * np.float32(10 ** (lvl.gain_db / 20)), ceiling, sr)[0]
        else:
            if known is not None and "lufs" in known:  # measured before, for another target or ceiling
                lufs, how = known["lufs"], str(known.get("how", "measured"))
            else:
                lufs, how = measure(x, sr)
                self.measured += 1
            y, lvl = self._level(x, sr, lufs, how, ceiling)
            self.cache.put(sha256, {**asdict(lvl)})
        self.levels[sha256] = lvl
        if lvl.lufs is not None:
            log.info("sound %s: %.1f LUFS, gain %+.1f dB%s", sha256[:12], lvl.lufs, lvl.gain_db,
                     " (limited)" if lvl.limited else "")
        return np.round(np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16)

    def _level(self, x: np.ndarray, sr: int, lufs: float | None, how: str,
               ceiling: float) -> tuple[np.ndarray, Level]:
        if lufs is None or not math.isfinite(lufs):
            return x, Level(None, 0.0, False, "silent", self.target, self.ceiling)
        gain = min(self.target - lufs, MAX_BOOST_DB)
        y, limited = limit(x * np.float32(10 ** (gain / 20)), ceiling, sr)
        for _ in range(3):  # limiting took loudness away: raise the gain by what is missing
            if not limited or gain >= MAX_BOOST_DB:
                break
            got, _ = measure(y, sr)
            self.measured += 1
            if got is None or abs(self.target - got) < 0.1:
                break
            gain = min(gain + self.target - got, MAX_BOOST_DB)
            y, limited = limit(x * np.float32(10 ** (gain / 20)), ceiling, sr)
        return y, Level(float(lufs), float(gain), bool(limited), how, self.target, self.ceiling)
