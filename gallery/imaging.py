"""Writing the images the families store: PNG encoding and thumbnails. The writing side of
:mod:`gallery.media` (which reads within limits); torch-free, OpenCV and Pillow imported when a helper runs.

One thumbnail rule: the image scaled to fit ``side`` on its long side, aspect kept, area-averaged when it
shrinks. Only the interpolation used when it grows differs between families and is a parameter, so that
every stored thumbnail keeps its pixels: StyleGAN ``cubic`` (the default), VQGAN+CLIP ``nearest`` (crisp
pixels of a tiny canvas), the procedural images ``area``. Music-VAE's piano roll arrives as PNG bytes and
goes through Pillow (:func:`thumbnail_png`).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

THUMB_SIDE = 128
Upscale = Literal["cubic", "nearest", "area"]


def png_bytes(rgb: np.ndarray) -> bytes:
    """RGB uint8 (H, W, 3) -> PNG bytes."""
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def thumbnail(rgb: np.ndarray, side: int = THUMB_SIDE, upscale: Upscale = "cubic") -> np.ndarray:
    """``rgb`` scaled so its long side is ``side`` (aspect kept; INTER_AREA when shrinking, ``upscale``'s
    interpolation when growing)."""
    import cv2

    h, w = rgb.shape[:2]
    s = side / max(h, w)
    grow = {"cubic": cv2.INTER_CUBIC, "nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA}[upscale]
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA if s < 1 else grow)


def thumbnail_png(png: bytes, size: int = THUMB_SIDE) -> tuple[bytes, int, int]:
    """A PNG shrunk (never grown) to fit ``size`` x ``size`` with Pillow; returns (PNG, width, height)."""
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue(), img.width, img.height


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) of PNG bytes."""
    from PIL import Image

    return Image.open(io.BytesIO(png)).size
