"""The follow prompts and their readers: the prompt text, the prompt drawn by the dataset's renderer, and
an image's dominant colour and the shape of its largest blob (OpenCV contour analysis)."""

from __future__ import annotations

import numpy as np

COLOURS = ["red", "green", "blue", "yellow", "purple"]
SHAPES4 = ["circle", "square", "triangle", "star"]


def follow_prompt(colour: str, shape: str) -> str:
    return f"a large {colour} {shape} in the centre on a white background"


def classify_shape(mask: np.ndarray) -> str:
    """circle | square | triangle | star | cross | ring | none, from the largest blob of a uint8 mask."""
    import cv2

    cnts, hier = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not cnts:
        return "none"
    i = int(np.argmax([cv2.contourArea(c) for c in cnts]))
    c = cnts[i]
    area = cv2.contourArea(c)
    if area < 12:
        return "none"
    holes = [j for j in range(len(cnts)) if hier[0][j][3] == i and cv2.contourArea(cnts[j]) > 0.15 * area]
    if holes:
        return "ring"
    hull = cv2.convexHull(c)
    solidity = area / max(cv2.contourArea(hull), 1e-6)
    peri = cv2.arcLength(c, True)
    circularity = 4 * np.pi * area / max(peri * peri, 1e-6)
    if solidity < 0.78:
        (_, _), (_w, _h), _ = cv2.minAreaRect(c)
        return "star" if solidity < 0.62 or circularity < 0.35 else "cross"
    verts = len(cv2.approxPolyDP(hull, 0.06 * cv2.arcLength(hull, True), True))
    if verts == 3:
        return "triangle"
    if circularity > 0.82:
        return "circle"
    if verts == 4:
        return "square"
    return "circle" if circularity > 0.75 else "square"


def dominant(img: np.ndarray) -> tuple[str, str]:
    """(dominant chromatic colour word, shape of its largest blob) of an RGB image."""
    from generator.datasets.shapes import CHROMATIC, hue_name

    big = img.reshape(-1, 3)
    names = np.array([hue_name(p) for p in big])
    counts = {c: int((names == c).sum()) for c in CHROMATIC}
    colour = max(counts, key=counts.get)
    mask = (names == colour).reshape(img.shape[:2]).astype(np.uint8) * 255
    return colour, classify_shape(mask)

def drawn_prompt(colour: str, shape: str, size: str = "large", count: int = 1, position: str = "centre",
                 layout_seed: int = 0) -> np.ndarray:
    """The follow prompt drawn by the dataset's renderer (64x64 RGB uint8) on white: with the defaults, what a
    perfect loop would reach; the other arguments draw scenes that differ from it in one respect."""
    from generator.datasets import shapes

    scene = shapes.Scene((shapes.Group(shape, colour, size, count),), "white", position=position,
                         layout_seed=layout_seed)
    return shapes.render(scene, 64)


def image01(im: np.ndarray):
    """RGB uint8 HxWx3 -> a (1, 3, H, W) float tensor in [0, 1], the loop's image space."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)[None].float().div(255)
