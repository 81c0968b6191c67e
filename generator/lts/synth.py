"""Latent trajectory -> magnitude frames -> audio, and the pictures and files of a soundscape.

A soundscape is a stream of latent vectors, one per CQT frame (344.5 per second at the reference
settings). Two ways to draw it:
- ``between``: frame t interpolates between the latent frames of sound A and sound B at weight
  curve(t), where the curve is a list of (time 0..1, weight) points drawn by the artist; weights
  outside 0..1 extrapolate beyond the two sounds;
- ``timeline``: a visual artwork's timeline (duration, keyframe_times): one anchor sound per keyframe,
  reached exactly at the keyframe's time and eased into the next in between; when the visual loops,
  the last keyframe eases back into the first across the wrap.
Sources (the A and B sounds, the anchors) are audio files or anchor names stored in the checkpoint.
Looping soundscapes are periodic by construction (the CQT frame is circular), so they join without
a click.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gallery.errors import BadInput
from generator.latent import lerp, slerp
from generator.lts.checkpoints import LoadedModel
from generator.lts.cqt import smooth_length
from generator.lts.phase import recover

OUT_SR = 44100


# ---------------------------------------------------------------- curves and trajectories

def parse_curve(points: Any) -> np.ndarray:
    """A drawn curve: [[t, w], ...] with t strictly increasing in 0..1 and finite weights; returns (n, 2)."""
    if isinstance(points, str):
        try:
            pts = [[float(v) for v in p.split(":")] for p in points.replace(" ", "").split(",") if p]
        except ValueError as e:
            raise BadInput(f"curve {points!r}: write it as t:w,t:w,... (e.g. 0:0,0.5:1.2,1:1)") from e
    else:
        pts = points
    try:
        arr = np.asarray(pts, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise BadInput(f"curve {points!r}: expected a list of [t, weight] pairs") from e
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 1:
        raise BadInput(f"curve {points!r}: expected a list of [t, weight] pairs")
    if not np.all(np.isfinite(arr)):
        raise BadInput(f"curve {points!r}: values must be finite")
    t = arr[:, 0]
    if t.min() < 0 or t.max() > 1:
        raise BadInput(f"curve {points!r}: times must lie in 0..1 (fractions of the duration)")
    if np.any(np.diff(t) <= 0):
        raise BadInput(f"curve {points!r}: times must strictly increase")
    if np.abs(arr[:, 1]).max() > 8:
        raise BadInput(f"curve {points!r}: weights beyond +-8 leave the latent space entirely")
    return arr


def curve_values(curve: np.ndarray, n: int) -> np.ndarray:
    t = (np.arange(n) + 0.5) / n
    return np.interp(t, curve[:, 0], curve[:, 1])


def pingpong(z: np.ndarray, n: int) -> np.ndarray:
    """n frames of the sequence z played forwards then backwards (no jump when a short sound repeats)."""
    if len(z) == 1:
        return np.repeat(z, n, axis=0)
    cycle = np.concatenate([z, z[-2:0:-1]]) if len(z) > 2 else z
    return cycle[np.arange(n) % len(cycle)]


def smoothstep(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3 - 2 * s)


def between_trajectory(za: np.ndarray, zb: np.ndarray, weights: np.ndarray, interp: str = "lerp") -> np.ndarray:
    n = len(weights)
    a, b = pingpong(za, n), pingpong(zb, n)
    if interp == "slerp":
        return slerp(a, b, weights)
    if interp == "lerp":
        return lerp(a, b, weights)
    raise BadInput(f"interpolation {interp!r}: choose lerp or slerp")


def timeline_trajectory(anchors: list[np.ndarray], keyframe_times: list[float], duration: float, n: int,
                        loop: bool) -> np.ndarray:
    """n latent frames over duration seconds passing through anchor i at keyframe_times[i]."""
    kt = np.asarray(keyframe_times, dtype=np.float64)
    if len(kt) != len(anchors) or len(kt) == 0:
        raise BadInput("timeline: one anchor per keyframe is needed")
    if np.any(np.diff(kt) <= 0) or kt[0] < 0 or kt[-1] > duration:
        raise BadInput(f"timeline keyframe_times {list(keyframe_times)} must increase within 0..{duration}")
    t = (np.arange(n) + 0.5) * duration / n
    seqs = [pingpong(a, n) for a in anchors]
    # segment boundaries; a loop adds the wrap segment last -> first
    times = list(kt)
    idx = list(range(len(kt)))
    if loop and len(kt) > 1:
        times = [kt[-1] - duration] + times + [kt[0] + duration]
        idx = [len(kt) - 1] + idx + [0]
    times_a = np.asarray(times)
    seg = np.clip(np.searchsorted(times_a, t, side="right") - 1, 0, len(times_a) - 1)
    out = np.empty_like(seqs[0])
    for s in np.unique(seg):
        rows = np.nonzero(seg == s)[0]
        i0 = idx[s]
        if s + 1 >= len(times_a):
            out[rows] = seqs[i0][rows]
            continue
        i1 = idx[s + 1]
        w = smoothstep((t[rows] - times_a[s]) / (times_a[s + 1] - times_a[s]))
        out[rows] = slerp(seqs[i0][rows], seqs[i1][rows], w)
    before = t < times_a[0]
    out[before] = seqs[idx[0]][before]
    return out


# ---------------------------------------------------------------- sources

@dataclass
class Source:
    name: str
    latents: np.ndarray  # (T, latent)
    sha256: str | None = None  # of the audio file, when the source is one


def source_latents(loaded: LoadedModel, source: str, max_seconds: float = 30.0) -> Source:
    """An anchor name stored in the checkpoint, or an audio file (encoded frame by frame)."""
    from gallery.hashing import sha256_file
    from generator.datasets.sounds import read_audio
    from generator.lts.cqt import cqt_magnitude

    names = list(loaded.anchors.get("names", []))
    if source in names:
        return Source(source, loaded.anchors["latents"][names.index(source)].numpy().astype(np.float64))
    p = Path(source)
    if not p.is_file():
        hint = f" (anchors: {', '.join(names[:12])}{'...' if len(names) > 12 else ''})" if names else ""
        raise BadInput(f"sound {source!r} is neither an audio file nor an anchor of the checkpoint{hint}")
    spec = loaded.preset.cqt
    try:
        x = read_audio(p, spec.sr)
    except ValueError as e:
        raise BadInput(str(e)) from e
    x = x[: int(max_seconds * spec.sr)]
    S = cqt_magnitude(x, spec)[:, : int(math.ceil(len(x) / spec.hop))]
    energy = S.sum(axis=0)
    keep = energy > energy.max() * 10 ** (-50 / 20)
    z = loaded.model.encode_frames(torch.from_numpy(S[:, keep].copy())).cpu().numpy().astype(np.float64)
    return Source(p.stem, z, sha256_file(p))


def pick_anchors(loaded: LoadedModel, count: int, seed: int) -> list[str]:
    names = list(loaded.anchors.get("names", []))
    if not names:
        raise BadInput(f"checkpoint {loaded.path} has no anchor sounds: give sound files instead")
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(names)))
    picks = []
    while len(picks) < count:
        picks.extend(names[i] for i in order)
        order = list(rng.permutation(len(names)))
    return picks[:count]


# ---------------------------------------------------------------- rendering

def decode(loaded: LoadedModel, z: np.ndarray) -> np.ndarray:
    """Magnitude frames (n_bins, T) of a latent trajectory (T, latent)."""
    return loaded.model.decode_frames(torch.from_numpy(np.asarray(z, dtype=np.float32))).cpu().numpy()


def render(loaded: LoadedModel, z: np.ndarray, n_samples: int, loop: bool, n_iter: int = 4,
           peak_dbfs: float = -1.0, device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Audio (float32, n_samples at the preset's rate) and its magnitude frames for a latent trajectory.

    A loop is rendered as one period of a periodic signal (then resampled in the frequency domain to
    exactly n_samples, which keeps it periodic); otherwise a second of silence follows the frames so
    that nothing wraps from the end into the start, and the ends get 5 ms fades.
    """
    spec = loaded.preset.cqt
    S = decode(loaded, z)
    T = S.shape[1]
    if loop:
        y = recover(S, spec, n_iter=n_iter, device=device)
        if len(y) != n_samples:
            from scipy.signal import resample

            y = resample(y, n_samples).astype(np.float32)
    else:
        pad = smooth_length(T + int(spec.frame_rate)) - T
        Sp = np.concatenate([S, np.zeros((S.shape[0], pad), dtype=S.dtype)], axis=1)
        y = recover(Sp, spec, n_iter=n_iter, device=device)[:n_samples]
        if len(y) < n_samples:
            y = np.pad(y, (0, n_samples - len(y)))
        f = min(len(y) // 2, int(0.005 * spec.sr))
        if f > 0:
            ramp = np.linspace(0.0, 1.0, f, dtype=np.float32)
            y[:f] *= ramp
            y[-f:] *= ramp[::-1]
    peak = float(np.abs(y).max())
    if peak > 0:
        y = y * (10 ** (peak_dbfs / 20) / peak)
    return y.astype(np.float32), S


def wav_bytes(audio: np.ndarray, sr: int = OUT_SR) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1, 1), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def spectrogram_rgb(S: np.ndarray, width: int = 1024, height: int | None = None, dynamic_db: float = 70.0
                    ) -> np.ndarray:
    """An RGB picture of magnitude frames: time left to right, low bins at the bottom, inferno colours."""
    import cv2

    db = 20 * np.log10(np.maximum(S, 1e-9))
    top = db.max() if db.size else 0.0
    img = np.clip((db - (top - dynamic_db)) / dynamic_db, 0, 1)[::-1]
    h = height or max(img.shape[0], 256)
    w = min(width, max(img.shape[1], 64))
    img = cv2.resize(img.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    col = cv2.applyColorMap((img * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(col, cv2.COLOR_BGR2RGB)


def loop_seam(audio: np.ndarray) -> float:
    """|last sample - first sample| over the median |step| between neighbouring samples (about 1 = no click)."""
    steps = np.abs(np.diff(audio))
    return float(abs(audio[0] - audio[-1]) / max(np.median(steps), 1e-9))
