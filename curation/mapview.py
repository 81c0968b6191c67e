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
        x = _unit(np.asarray([brightness[a] for a in ids]))  # darkest at 0, brightest at 1 (Fig. 2)
        y = _unit(p[:, 0])
    else:
        x, y = _unit(p[:, 0]), _unit(p[:, 1])
    return [{"id": int(a), "x": float(xx), "y": float(1.0 - yy)} for a, xx, yy in zip(ids, x, y, strict=True)]


def render_png(points: list[dict[str, Any]], thumbs: dict[int, np.ndarray], width: int = 1600, height: int = 900,
               cell: int = 48, axis_label: str | None = None) -> np.ndarray:
    """A still of the map (RGB uint8): each artwork's thumbnail at its point; later points on top."""
    import cv2

    pad = cell // 2 + 4
    foot = 30 if axis_label else 0
    img = np.full((height + 2 * pad + foot, width + 2 * pad, 3), 255, np.uint8)
    for p in points:
        th = thumbs.get(p["id"])
        if th is None:
            continue
        h, w = th.shape[:2]
        s = cell / max(h, w)
        th = cv2.resize(th, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        x = pad + int(round(p["x"] * width)) - th.shape[1] // 2
        y = pad + int(round(p["y"] * height)) - th.shape[0] // 2
        img[y:y + th.shape[0], x:x + th.shape[1]] = th
    if axis_label:
        y = height + 2 * pad + foot - 10
        cv2.arrowedLine(img, (pad, y - 8), (width + pad, y - 8), (60, 60, 60), 1, cv2.LINE_AA, tipLength=0.01)
        cv2.putText(img, axis_label, (pad, y + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (40, 40, 40), 1, cv2.LINE_AA)
    return img
