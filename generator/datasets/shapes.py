"""Captioned procedural images: shapes, colours, sizes, counts, positions, textures and backgrounds.

Every image is drawn from a small set of parameters (a :class:`Scene`), and its caption is written
from the same parameters, so the pair always agrees: "a large red circle above two small blue
squares on a yellow background". Deterministic by seed, at any size (drawn at twice the size and
area-downsampled, so edges are anti-aliased the same way at every size).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np

# Colour words -> RGB. Hues are spread round the wheel so "the dominant hue" of an image names a word.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 170, 50),
    "cyan": (40, 200, 210),
    "blue": (35, 60, 215),
    "purple": (140, 45, 190),
    "pink": (245, 120, 190),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "grey": (128, 128, 128),
}
CHROMATIC = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink"]
SHAPES = ["circle", "square", "triangle", "star", "cross", "ring"]
SIZES = {"small": 0.11, "large": 0.2}  # radius as a fraction of the image side (one object)
COUNT_WORDS = {1: "a", 2: "two", 3: "three"}
TEXTURES = ["solid", "striped", "dotted"]
POSITIONS = ["left", "right", "top", "bottom", "centre"]
BACKGROUND_STYLES = ["plain", "speckled"]


@dataclass(frozen=True)
class Group:
    """Some identical shapes: ``count`` of them, all the same colour, size and texture."""

    shape: str
    colour: str
    size: str
    count: int
    texture: str = "solid"

    def phrase(self) -> str:
        noun = self.shape + ("es" if self.shape == "cross" and self.count > 1 else "s" if self.count > 1 else "")
        words = [COUNT_WORDS[self.count], self.size]
        if self.texture != "solid":
            words.append(self.texture)
        words += [self.colour, noun]
        return " ".join(words)


@dataclass(frozen=True)
class Scene:
    """What one image shows. ``position`` places a single group; two groups are stacked (first above)."""

    groups: tuple[Group, ...]
    background: str
    background_style: str = "plain"
    position: str = "centre"
    layout_seed: int = 0

    def caption(self) -> str:
        words = (["speckled"] if self.background_style == "speckled" else []) + [self.background]
        bg = f"on {'an' if words[0][0] in 'aeiou' else 'a'} {' '.join(words)} background"
        if len(self.groups) == 1:
            g = self.groups[0]
            where = "in the centre" if self.position == "centre" else f"on the {self.position}"
            if self.position in ("top", "bottom"):
                where = f"at the {self.position}"
            return f"{g.phrase()} {where} {bg}"
        a, b = self.groups
        return f"{a.phrase()} above {b.phrase()} {bg}"


def random_scene(rng: np.random.Generator) -> Scene:
    """Draw scene parameters; shape colours always differ from the background."""
    n_groups = 2 if rng.random() < 0.3 else 1
    bg = str(rng.choice(list(COLOURS)))
    groups = []
    for _ in range(n_groups):
        colour = str(rng.choice([c for c in COLOURS if c != bg]))
        groups.append(Group(
            shape=str(rng.choice(SHAPES)),
            colour=colour,
            size=str(rng.choice(list(SIZES))),
            count=int(rng.choice([1, 1, 2, 3])),
            texture=str(rng.choice(TEXTURES, p=[0.6, 0.2, 0.2])),
        ))
    return Scene(groups=tuple(groups), background=bg,
                 background_style=str(rng.choice(BACKGROUND_STYLES, p=[0.75, 0.25])),
                 position=str(rng.choice(POSITIONS)), layout_seed=int(rng.integers(0, 2**31)))


def _shape_mask(shape: str, side: int, cx: float, cy: float, r: float) -> np.ndarray:
    """A uint8 mask (255 inside) of one shape centred at (cx, cy) with radius r, on a side x side canvas."""
    m = np.zeros((side, side), np.uint8)
    sh = 4  # sub-pixel bits for cv2
    f = 1 << sh

    def pts(p: np.ndarray) -> np.ndarray:
        return np.round(p * f).astype(np.int32)

    if shape == "circle":
        cv2.circle(m, (round(cx * f), round(cy * f)), round(r * f), 255, -1, cv2.LINE_8, sh)
    elif shape == "ring":
        cv2.circle(m, (round(cx * f), round(cy * f)), round(r * 0.8 * f), 255, max(1, round(r * 0.4)),
                   cv2.LINE_8, sh)
    elif shape == "square":
        s = r * 0.85
        cv2.fillPoly(m, [pts(np.array([[cx - s, cy - s], [cx + s, cy - s], [cx + s, cy + s], [cx - s, cy + s]]))],
                     255, cv2.LINE_8, sh)
    elif shape == "triangle":
        a = np.deg2rad(np.array([-90, 30, 150]))
        cv2.fillPoly(m, [pts(np.stack([cx + r * np.cos(a), cy + r * 0.95 * np.sin(a) + r * 0.15], 1))],
                     255, cv2.LINE_8, sh)
    elif shape == "star":
        a = np.deg2rad(np.arange(10) * 36 - 90)
        rad = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        cv2.fillPoly(m, [pts(np.stack([cx + rad * np.cos(a), cy + rad * np.sin(a)], 1))], 255, cv2.LINE_8, sh)
    elif shape == "cross":
        w = r * 0.33
        cv2.fillPoly(m, [pts(np.array([[cx - w, cy - r], [cx + w, cy - r], [cx + w, cy + r], [cx - w, cy + r]]))],
                     255, cv2.LINE_8, sh)
        cv2.fillPoly(m, [pts(np.array([[cx - r, cy - w], [cx + r, cy - w], [cx + r, cy + w], [cx - r, cy + w]]))],
                     255, cv2.LINE_8, sh)
    else:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    return m


def _texture(texture: str, side: int, rng: np.random.Generator) -> np.ndarray:
    """Where the shape's own colour shows (1) versus a contrasting colour (0)."""
    if texture == "solid":
        return np.ones((side, side), np.float32)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    period = side / 10
    if texture == "striped":
        ang = rng.uniform(0, np.pi)
        u = xx * np.cos(ang) + yy * np.sin(ang)
        return ((u % period) < period * 0.55).astype(np.float32)
    if texture == "dotted":
        dx = (xx % period) - period / 2
        dy = (yy % period) - period / 2
        return ((dx * dx + dy * dy) > (period * 0.28) ** 2).astype(np.float32)
    raise ValueError(f"unknown texture {texture!r}; known: {', '.join(TEXTURES)}")


def _layout(scene: Scene, rng: np.random.Generator) -> list[tuple[Group, float, float, float]]:
    """Centres and radii (fractions of the side) of every object."""
    out = []
    regions = ([{"left": (0.27, 0.5), "right": (0.73, 0.5), "top": (0.5, 0.27), "bottom": (0.5, 0.73),
                 "centre": (0.5, 0.5)}[scene.position]] if len(scene.groups) == 1 else [(0.5, 0.27), (0.5, 0.73)])
    for g, (rx, ry) in zip(scene.groups, regions, strict=True):
        r = SIZES[g.size] * (1.0 if g.count == 1 else 0.8 if g.count == 2 else 0.65)
        if len(scene.groups) == 2:
            r *= 0.85
        horizontal = len(scene.groups) == 2 or scene.position in ("top", "bottom", "centre")
        spacing = 2.25 * r
        offsets = (np.arange(g.count) - (g.count - 1) / 2) * spacing
        for o in offsets:
            jx, jy = rng.uniform(-0.02, 0.02, 2)
            cx, cy = (rx + o, ry) if horizontal else (rx, ry + o)
            out.append((g, float(np.clip(cx + jx, r, 1 - r)), float(np.clip(cy + jy, r, 1 - r)), r))
    return out


def render(scene: Scene, size: int = 64) -> np.ndarray:
    """Draw a scene as an RGB uint8 image of size x size."""
    if size < 8:
        raise ValueError(f"image size must be at least 8 pixels, got {size}")
    rng = np.random.default_rng(scene.layout_seed)
    side = size * 2
    img = np.empty((side, side, 3), np.float32)
    img[:] = np.array(COLOURS[scene.background], np.float32)
    if scene.background_style == "speckled":
        speck = rng.random((side, side)) < 0.08
        shade = np.array(COLOURS[scene.background], np.float32)
        img[speck] = np.clip(shade * 0.55 + (255 - shade) * 0.25, 0, 255)
    for g, cx, cy, r in _layout(scene, rng):
        m = _shape_mask(g.shape, side, cx * side, cy * side, r * side).astype(np.float32)[..., None] / 255.0
        colour = np.array(COLOURS[g.colour], np.float32)
        if g.texture != "solid":
            # the gaps of a stripe or dot pattern: pale, or dark for a pale shape
            alt = (np.full(3, 40, np.float32) if g.colour in ("white", "yellow", "pink")
                   else np.full(3, 235, np.float32))
            t = _texture(g.texture, side, rng)[..., None]
            fill = t * colour + (1 - t) * alt
        else:
            fill = colour
        img = img * (1 - m) + fill * m
    small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(np.round(small), 0, 255).astype(np.uint8)


def sample(seed: int, size: int = 64) -> tuple[np.ndarray, str]:
    """One (image, caption) pair, deterministic by seed."""
    scene = random_scene(np.random.default_rng([seed, 0x5A4E]))
    return render(scene, size), scene.caption()


def batch(seeds: range | list[int], size: int = 64) -> tuple[np.ndarray, list[str]]:
    """Images (N, size, size, 3) uint8 and their captions for the given seeds."""
    imgs, caps = [], []
    for s in seeds:
        im, c = sample(int(s), size)
        imgs.append(im)
        caps.append(c)
    return np.stack(imgs), caps


def hue_name(rgb: tuple[float, float, float] | np.ndarray) -> str:
    """The nearest colour word to an RGB colour (hue for saturated colours, else white/grey/black)."""
    r, g, b = (float(v) / 255.0 for v in rgb)
    h, lum, s = colorsys.rgb_to_hls(r, g, b)
    if s < 0.25 or lum < 0.12 or lum > 0.9:
        return "black" if lum < 0.25 else "white" if lum > 0.75 else "grey"
    best, dist = "red", 9.0
    for name in CHROMATIC:
        hh, ll, _ = colorsys.rgb_to_hls(*(c / 255.0 for c in COLOURS[name]))
        d = min(abs(h - hh), 1 - abs(h - hh))
        if name == "pink":
            d += 0.0 if ll > 0.6 and lum > 0.55 else 0.1
        if name == "red" and lum > 0.65:
            d += 0.1
        if d < dist:
            best, dist = name, d
    return best
