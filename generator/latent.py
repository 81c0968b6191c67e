"""Walks over latent spaces: interpolation primitives shared by every model family.

- ``slerp`` / ``lerp``: between two vectors.
- ``keyframe_chain``: a slerp (or lerp) chain through keyframes, optionally closed into a loop.
- ``great_circle_loop``: a seamless loop along a great circle of the sphere of radius sqrt(dim).
- ``EndlessWalk``: an endless walk cut into segments; segment ``i`` depends only on (seed, i), each
  starts exactly where the previous one ended with the same velocity (a cubic Hermite spline through
  keyframes drawn from the seed, with Catmull-Rom tangents), so an installation can play segment after
  segment forever with no jump in position or speed.
- ``reparametrise``: constant speed along a path given distances between its samples (e.g. image-space
  distances between rendered frames).
"""

from __future__ import annotations

import numpy as np


def slerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Spherical interpolation between vectors a and b (last axis); t may lie outside 0..1.

    Magnitudes are interpolated linearly, directions along the great circle; falls back to
    linear interpolation when a and b are (anti)parallel.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None] if np.ndim(t) else np.float64(t)
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    ua = a / np.maximum(na, eps)
    ub = b / np.maximum(nb, eps)
    dot = np.clip(np.sum(ua * ub, axis=-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(dot)
    so = np.sin(omega)
    small = so < 1e-6
    safe_so = np.where(small, 1.0, so)
    w_a = np.where(small, 1.0 - t, np.sin((1.0 - t) * omega) / safe_so)
    w_b = np.where(small, t, np.sin(t * omega) / safe_so)
    direction = w_a * ua + w_b * ub
    mag = (1.0 - t) * na + t * nb
    return direction * mag


def lerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None] if np.ndim(t) else np.float64(t)
    return (1.0 - t) * a + t * b


def keyframe_chain(keys: np.ndarray, frames_per_segment: int, loop: bool = False,
                   mode: str = "slerp") -> np.ndarray:
    """Frames through keyframes ``keys`` [K, ...]: ``frames_per_segment`` per segment, endpoints shared.

    Open chains end exactly on the last keyframe; loops stop one frame before returning to the first,
    so that playing the frames over and over has no repeated frame.
    """
    keys = np.asarray(keys, dtype=np.float64)
    if keys.ndim < 2 or len(keys) < 2:
        raise ValueError(f"need at least 2 keyframes as an array [K, ...], got shape {keys.shape}")
    if frames_per_segment < 1:
        raise ValueError(f"frames_per_segment must be >= 1, got {frames_per_segment}")
    if mode not in ("slerp", "lerp"):
        raise ValueError(f"mode must be slerp or lerp, got {mode!r}")
    interp = slerp if mode == "slerp" else lerp
    shape = keys.shape[1:]
    flat = keys.reshape(len(keys), -1)  # W+ keyframes [K, layers, dim] interpolate as one vector
    pairs = list(zip(flat[:-1], flat[1:], strict=True))
    if loop:
        pairs.append((flat[-1], flat[0]))
    t = np.arange(frames_per_segment, dtype=np.float64) / frames_per_segment
    frames = np.concatenate([interp(a, b, t) for a, b in pairs], axis=0)
    if not loop:
        frames = np.concatenate([frames, flat[-1:]], axis=0)
    return frames.reshape(len(frames), *shape)


def keyframe_times(n_keys: int, frames_per_segment: int, fps: float, loop: bool = False) -> list[float]:
    """Seconds at which each keyframe is reached in a ``keyframe_chain`` played at ``fps``."""
    return [i * frames_per_segment / fps for i in range(n_keys + (1 if loop else 0))]


def random_orthonormal(rng: np.random.Generator, dim: int, k: int = 2) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((dim, k)))
    return q.T


def great_circle_loop(dim: int, n_frames: int, seed: int = 0, radius: float | None = None,
                      centre: np.ndarray | None = None) -> np.ndarray:
    """``n_frames`` points around a great circle (radius sqrt(dim) by default): frame n would be frame 0."""
    if n_frames < 2:
        raise ValueError(f"a loop needs at least 2 frames, got {n_frames}")
    rng = np.random.default_rng(seed)
    u, v = random_orthonormal(rng, dim)
    r = float(np.sqrt(dim)) if radius is None else float(radius)
    theta = 2 * np.pi * np.arange(n_frames) / n_frames
    pts = r * (np.cos(theta)[:, None] * u + np.sin(theta)[:, None] * v)
    return pts + (0 if centre is None else np.asarray(centre, np.float64))


class EndlessWalk:
    """An endless, C1-continuous walk through keyframes drawn from a seed.

    ``keyframe(i)`` is the i-th keyframe (standard normal, from ``(seed, i)``); ``segment(i, n)`` gives
    ``n`` frames from keyframe i (inclusive) towards keyframe i+1 (exclusive). ``sphere=True`` projects
    every point onto the sphere of radius sqrt(dim) (the shell where Gaussian latents live), which keeps
    position and velocity continuous. ``transform`` maps keyframes first (e.g. z -> w with the mapping
    network), to walk in another space; it must be deterministic.
    """

    def __init__(self, dim: int, seed: int = 0, sphere: bool = True, transform=None) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim, self.seed, self.sphere, self.transform = dim, seed, sphere, transform
        self._cache: dict[int, np.ndarray] = {}

    def seeded_keyframe(self, i: int) -> np.ndarray:
        """Keyframe i as drawn from the seed, before ``transform`` (subclasses may move it)."""
        k = np.random.default_rng([self.seed, i + (1 << 40)]).standard_normal(self.dim)
        return k / np.linalg.norm(k) * np.sqrt(self.dim) if self.sphere else k

    def keyframe(self, i: int) -> np.ndarray:
        if i not in self._cache:
            k = self.seeded_keyframe(i)
            if self.transform is not None:
                k = np.asarray(self.transform(k), np.float64)
            self._cache[i] = k
            if len(self._cache) > 64:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[i]

    def position(self, i: int, t: np.ndarray | float) -> np.ndarray:
        """Point(s) at parameter t in [0, 1] of segment i (t=1 of segment i is t=0 of segment i+1)."""
        p0, p1, p2, p3 = (self.keyframe(j) for j in (i - 1, i, i + 1, i + 2))
        m1, m2 = (p2 - p0) / 2, (p3 - p1) / 2
        t = np.asarray(t, np.float64)[..., None]
        t2, t3 = t * t, t * t * t
        x = (2 * t3 - 3 * t2 + 1) * p1 + (t3 - 2 * t2 + t) * m1 + (-2 * t3 + 3 * t2) * p2 + (t3 - t2) * m2
        if self.sphere and self.transform is None:
            x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12) * np.sqrt(self.dim)
        return x

    def segment(self, i: int, n_frames: int, ts: np.ndarray | None = None) -> np.ndarray:
        """``n_frames`` frames of segment i at t = k/n (k < n), or at the given parameters ``ts`` in [0, 1)."""
        if ts is None:
            if n_frames < 1:
                raise ValueError(f"n_frames must be >= 1, got {n_frames}")
            ts = np.arange(n_frames) / n_frames
        return self.position(i, ts)


def reparametrise(ts: np.ndarray, distances: np.ndarray, n: int, closed_end: bool = False) -> np.ndarray:
    """New parameters, ``n`` of them, equally spaced in path length.

    ``ts`` are increasing parameters of samples along a path and ``distances[k]`` the distance between
    sample k and k+1 (len(ts) - 1 of them). The first new parameter is ts[0]; the last is ts[-1] when
    ``closed_end`` is true, otherwise one step short of it (for segments that chain).
    """
    ts = np.asarray(ts, np.float64)
    d = np.asarray(distances, np.float64)
    if len(d) != len(ts) - 1:
        raise ValueError(f"need len(ts) - 1 distances, got {len(d)} for {len(ts)} samples")
    if np.any(d < 0) or np.any(np.diff(ts) <= 0):
        raise ValueError("distances must be >= 0 and ts strictly increasing")
    s = np.concatenate([[0.0], np.cumsum(d)])
    if s[-1] <= 0:
        return np.linspace(ts[0], ts[-1], n, endpoint=closed_end)
    targets = np.linspace(0, s[-1], n, endpoint=closed_end)
    return np.interp(targets, s, ts)
