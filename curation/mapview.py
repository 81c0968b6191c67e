"""The map: a 2D layout of the catalogue's embeddings (PCA), or the chapter's brightness axis
(Fig. 2: darkest to brightest along x) against the first principal component."""

from __future__ import annotations

from typing import Any

import numpy as np

from gallery.errors import BadInput

AXES = ("pca", "brightness")


def pca2(vecs: np.ndarray) -> np.ndarray:
    """The first two principal components (N, 2), signs fixed so the layout is deterministic."""
    x = np.asarray(vecs, np.float64)
    if len(x) == 0:
        return np.zeros((0, 2))
    x = x - x.mean(axis=0)
    if len(x) == 1:
        return np.zeros((1, 2))
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    comps = vt[:2]
    for i in range(len(comps)):
        j = int(np.argmax(np.abs(comps[i])))
        if comps[i, j] < 0:
            comps[i] = -comps[i]
    out = x @ comps.T
    if out.shape[1] < 2:
        out = np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(v)), float(np.max(v))
    return np.full_like(v, 0.5) if hi - lo < 1e-12 else (v - lo) / (hi - lo)


def layout(ids: list[int], vecs: np.ndarray, axis: str = "pca",
           brightness: dict[int, float] | None = None) -> list[dict[str, Any]]:
    """Points {id, x, y} in 0..1 (y grows downwards on screen: flipped here so up is positive)."""
    if axis not in AXES:
        raise BadInput(f"map axis must be one of {', '.join(AXES)}, got {axis!r}")
    if not ids:
        return []
    p = pca2(vecs)
    if axis == "brightness":
        brightness = brightness or {}
        keep = [i for i, a in enumerate(ids) if a in brightness]
        ids = [ids[i] for i in keep]
        p = p[keep]
        if not ids:
            return []
        x = np.asarray([brightness[a] for a in ids])  # absolute 0..1, as in the chapter's figure
        y = _unit(p[:, 0])
    else:
        x, y = _unit(p[:, 0]), _unit(p[:, 1])
    return [{"id": int(a), "x": float(xx), "y": float(1.0 - yy)} for a, xx, yy in zip(ids, x, y, strict=True)]
