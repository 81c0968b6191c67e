"""Procedurally drawn images (OpenCV anti-aliased primitives): the demo's first artworks, no model needed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from catalogue import ArtworkDraft, MediaDraft
from gallery.imaging import png_bytes, thumbnail
from generator.registry import CannotVary

if TYPE_CHECKING:
    from generator.job_params import ProceduralImages
    from generator.jobs import JobContext

if TYPE_CHECKING:
    from generator.job_params import ProceduralImages
    from generator.jobs import JobContext


def draw(seed: int, size: int = 256) -> np.ndarray:
    """A deterministic composition of circles, lines and bands on a gradient (RGB uint8)."""
    rng = np.random.default_rng(seed)
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    img = ((1 - t) * top + t * bottom).astype(np.uint8)
    img = np.ascontiguousarray(np.broadcast_to(img, (size, size, 3)))
    for _ in range(int(rng.integers(3, 9))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = rng.integers(0, 3)
        if shape == 0:
            centre = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.circle(img, centre, int(rng.integers(size // 16, size // 3)), colour, -1, cv2.LINE_AA)
        elif shape == 1:
            p1 = tuple(int(v) for v in rng.integers(0, size, 2))
            p2 = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.line(img, p1, p2, colour, int(rng.integers(1, max(2, size // 24))), cv2.LINE_AA)
        else:
            pts = rng.integers(0, size, (int(rng.integers(3, 6)), 2)).astype(np.int32)
            cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
    return img




def run(params: ProceduralImages, ctx: JobContext) -> list[ArtworkDraft]:
    """Job ``procedural.images``: params ``count`` (default 4) and ``size`` (256); images ``ctx.seed`` + i."""
    count = params.count
    size = params.size
    seed = ctx.seed
    drafts = []
    for i in range(count):
        s = seed + i
        img = draw(s, size)
        drafts.append(ArtworkDraft(
            kind="image", title=f"Composition {s}",
            recipe={"generator": "procedural.images", "version": 1, "seed": s, "size": size},
            media=[MediaDraft(role="image", mime="image/png", data=png_bytes(img), width=size, height=size),
                   MediaDraft(role="thumbnail", mime="image/png", data=png_bytes(thumbnail(img, upscale="area")), width=128,
                              height=128)],
            tags=["procedural"],
        ))
    return drafts


def variation_plan(recipe: dict[str, Any]) -> None:
    """Procedural images have no latent position (generator.registry asks before "variations around this")."""
    raise CannotVary("procedural images are drawn from a seed, not decoded from a latent position")
