"""Procedural faces drawn with OpenCV's anti-aliased primitives, each with its attribute labels.

Deterministic by seed: face ``i`` of a dataset with seed ``s`` depends only on ``(s, i)``, so any
slice can be redrawn on its own. Drawn at 2x the asked size and reduced with area averaging.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Categorical attributes: name -> the names of their values (labels are indices into these lists).
ATTRIBUTES: dict[str, list[str]] = {
    "face_shape": ["round", "oval", "long"],
    "skin": ["pale", "light", "tan", "brown", "dark"],
    "hair_length": ["bald", "short", "long"],
    "hair_colour": ["black", "brown", "blond", "red", "grey"],
    "eyewear": ["none", "glasses", "sunglasses"],
    "mouth": ["neutral", "smile", "open"],
    "background": ["blue", "green", "grey", "warm"],
}
SKIN_RGB = [(244, 220, 200), (230, 190, 160), (205, 160, 120), (160, 110, 75), (105, 70, 50)]
HAIR_RGB = [(30, 25, 25), (100, 60, 35), (225, 195, 120), (180, 80, 35), (165, 165, 165)]
BACKGROUND_RGB = [(90, 130, 200), (110, 170, 120), (150, 150, 155), (215, 170, 120)]
EYE_RGB = [(60, 90, 150), (80, 55, 35), (70, 120, 80)]


@dataclass
class FaceSet:
    images: np.ndarray  # (N, H, W, 3) uint8 RGB
    labels: dict[str, np.ndarray]  # attribute -> (N,) int64 for categorical; yaw/tilt -> float32 degrees

    def __len__(self) -> int:
        return len(self.images)


def _jitter(rng: np.random.Generator, rgb: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in rgb)


def draw_face(seed: int, index: int = 0, size: int = 64) -> tuple[np.ndarray, dict[str, float]]:
    """One face (RGB uint8, size x size) and its labels, determined by ``(seed, index)``."""
    if size < 16:
        raise ValueError(f"face size must be at least 16 pixels, got {size}")
    rng = np.random.default_rng([seed, index])
    lab = {name: int(rng.integers(len(vals))) for name, vals in ATTRIBUTES.items()}
    yaw = float(rng.uniform(-25, 25))
    tilt = float(rng.uniform(-15, 15))
    S = size * 2
    sh = 4  # fractional bits for sub-pixel coordinates
    F = 1 << sh

    def P(x: float, y: float) -> tuple[int, int]:
        return int(round(x * S * F)), int(round(y * S * F))

    def R(r: float) -> int:
        return max(1, int(round(r * S * F)))

    def T(r: float) -> int:  # line thickness is not shifted
        return max(1, int(round(r * S)))

    img = np.empty((S, S, 3), np.uint8)
    top = np.array(_jitter(rng, BACKGROUND_RGB[lab["background"]], 12), np.float32)
    grad = np.linspace(1.08, 0.85, S, dtype=np.float32)[:, None, None]
    img[:] = np.clip(top * grad, 0, 255).astype(np.uint8)

    aa = cv2.LINE_AA
    skin = _jitter(rng, SKIN_RGB[lab["skin"]], 6)
    hair = _jitter(rng, HAIR_RGB[lab["hair_colour"]], 10)
    shade = tuple(int(c * 0.8) for c in skin)
    half_w = {0: 0.25, 1: 0.22, 2: 0.19}[lab["face_shape"]] * rng.uniform(0.95, 1.05)
    half_h = {0: 0.26, 1: 0.29, 2: 0.33}[lab["face_shape"]] * rng.uniform(0.95, 1.05)
    cx, cy = 0.5, 0.53
    turn = yaw / 25.0  # -1 .. 1: features move towards the side the head turns to
    w_eff = half_w * (1 - 0.12 * abs(turn))

    # Long hair falls behind the head and shoulders.
    if lab["hair_length"] == 2:
        cv2.ellipse(img, P(cx, cy + 0.08), (R(w_eff + 0.08), R(half_h + 0.12)), 0, 180, 360, hair, -1, aa, sh)
        cv2.rectangle(img, P(cx - w_eff - 0.08, cy + 0.08), P(cx + w_eff + 0.08, 1.0), hair, -1, aa, sh)
    # Neck and shoulders.
    cv2.rectangle(img, P(cx - 0.08, cy + half_h * 0.7), P(cx + 0.08, 0.95), shade, -1, aa, sh)
    cv2.ellipse(img, P(cx, 1.02), (R(0.34), R(0.12)), 0, 0, 360, _jitter(rng, (70, 70, 90), 30), -1, aa, sh)
    # Ears, face.
    for side in (-1, 1):
        ex = cx + side * w_eff * (1 - 0.25 * side * turn) + 0.005 * side
        cv2.ellipse(img, P(ex, cy), (R(0.035), R(0.06)), 0, 0, 360, shade, -1, aa, sh)
    cv2.ellipse(img, P(cx, cy), (R(w_eff), R(half_h)), 0, 0, 360, skin, -1, aa, sh)
    # Hair on top.
    if lab["hair_length"] >= 1:
        cv2.ellipse(img, P(cx, cy - half_h * 0.35), (R(w_eff * 1.06), R(half_h * 0.78)), 0, 180, 360, hair, -1,
                    aa, sh)
        fringe = cy - half_h * 0.42
        cv2.ellipse(img, P(cx + 0.04 * turn, fringe), (R(w_eff * 0.95), R(0.06)), 0, 180, 360, hair, -1, aa, sh)
    fx = cx + 0.09 * turn  # the centre line of the features
    eye_y = cy - half_h * 0.12
    eye_dx = w_eff * 0.45
    eye_r = 0.032 * rng.uniform(0.9, 1.1)
    iris = EYE_RGB[int(rng.integers(len(EYE_RGB)))]
    for side in (-1, 1):
        ex = fx + side * eye_dx * (1 - 0.2 * side * turn)
        cv2.ellipse(img, P(ex, eye_y), (R(eye_r * 1.3), R(eye_r * 0.8)), 0, 0, 360, (250, 250, 250), -1, aa, sh)
        cv2.circle(img, P(ex + 0.008 * turn, eye_y), R(eye_r * 0.6), iris, -1, aa, sh)
        cv2.circle(img, P(ex + 0.008 * turn, eye_y), R(eye_r * 0.28), (15, 15, 15), -1, aa, sh)
        brow_y = eye_y - eye_r * 1.7
        cv2.line(img, P(ex - eye_r * 1.3, brow_y + 0.005), P(ex + eye_r * 1.3, brow_y - 0.003 * side), hair, T(0.012),
                 aa, sh)
        if lab["eyewear"] == 1:
            cv2.circle(img, P(ex, eye_y), R(eye_r * 1.9), (35, 35, 40), T(0.010), aa, sh)
        elif lab["eyewear"] == 2:
            cv2.ellipse(img, P(ex, eye_y + 0.005), (R(eye_r * 2.0), R(eye_r * 1.5)), 0, 0, 360, (20, 20, 25), -1, aa,
                        sh)
    if lab["eyewear"] >= 1:
        cv2.line(img, P(fx - eye_dx + eye_r * 1.9, eye_y), P(fx + eye_dx - eye_r * 1.9, eye_y), (30, 30, 35),
                 T(0.010), aa, sh)
    # Nose.
    nose = np.array([P(fx, eye_y + 0.02), P(fx + 0.025 + 0.02 * turn, cy + half_h * 0.28),
                     P(fx - 0.01, cy + half_h * 0.3)], np.int32)
    cv2.polylines(img, [nose], False, shade, T(0.012), aa, sh)
    # Mouth.
    my = cy + half_h * 0.55
    mw = w_eff * 0.45
    lip = (170, 60, 65)
    if lab["mouth"] == 0:
        cv2.line(img, P(fx - mw, my), P(fx + mw, my), lip, T(0.016), aa, sh)
    elif lab["mouth"] == 1:
        cv2.ellipse(img, P(fx, my - 0.03), (R(mw), R(0.05)), 0, 20, 160, lip, T(0.018), aa, sh)
    else:
        cv2.ellipse(img, P(fx, my), (R(mw * 0.75), R(0.04)), 0, 0, 360, (90, 25, 30), -1, aa, sh)
        cv2.ellipse(img, P(fx, my), (R(mw * 0.75), R(0.04)), 0, 0, 360, lip, T(0.012), aa, sh)

    # Head tilt: rotate the whole picture about the neck, filling with the background's edge.
    m = cv2.getRotationMatrix2D((S * 0.5, S * 0.8), tilt, 1.0)
    img = cv2.warpAffine(img, m, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    labels: dict[str, float] = dict(lab)
    labels["yaw"] = yaw
    labels["tilt"] = tilt
    return img, labels


def make_faces(n: int, seed: int = 0, size: int = 64, start: int = 0) -> FaceSet:
    """Faces ``start .. start+n-1`` of the dataset with this seed."""
    if n < 0:
        raise ValueError(f"number of faces must be >= 0, got {n}")
    images = np.empty((n, size, size, 3), np.uint8)
    cols: dict[str, list[float]] = {k: [] for k in [*ATTRIBUTES, "yaw", "tilt"]}
    for i in range(n):
        images[i], lab = draw_face(seed, start + i, size)
        for k, v in lab.items():
            cols[k].append(v)
    labels = {k: np.asarray(v, np.int64 if k in ATTRIBUTES else np.float32) for k, v in cols.items()}
    return FaceSet(images, labels)
