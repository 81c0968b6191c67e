"""Walks over latent spaces: interpolation primitives shared by every model family.

(The StyleGAN work extends this module with keyframe chains, great-circle loops and endless walks.)
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
