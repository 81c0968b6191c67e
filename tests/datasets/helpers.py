"""Pictures for the dataset tests: smooth random images (distinct from each other), and the hostile files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from gallery.hostile_images import bomb_png


def smooth(seed: int, w: int = 200, h: int = 160) -> np.ndarray:
    """A picture of soft colour blobs: a random 5x5 colour grid, upsampled (bicubic)."""
    grid = np.random.default_rng(seed).integers(0, 256, (5, 5, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC))


def save(rgb: np.ndarray, path: Path, fmt: str | None = None, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, fmt, **kw)
    return path


def hostile_folder(root: Path) -> dict[str, list[str]]:
    """A folder with 4 good pictures (one in a subfolder, PNG/JPEG/WebP), an exact duplicate (lossless WebP of a
    PNG), a near duplicate (a 80% JPEG copy), a truncated JPEG, a text file named .png, a 40x40 picture, a PNG
    whose header claims 40000x40000, and a notes.txt; returns the file names expected in each outcome."""
    root.mkdir(parents=True, exist_ok=True)
    a, b, c, d = (smooth(s) for s in (1, 2, 3, 4))
    save(a, root / "a.png")
    save(b, root / "b.jpg", quality=92)
    save(c, root / "sub" / "c.webp", quality=90)
    save(d, root / "sub" / "d.png")
    save(a, root / "z_copy_of_a.webp", lossless=True)  # the same pixels, another format
    small = Image.fromarray(b).resize((160, 128), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=85)
    (root / "sub" / "y_b_resized.jpeg").write_bytes(buf.getvalue())  # a resized, re-encoded copy of b
    full = io.BytesIO()
    Image.fromarray(smooth(5)).save(full, "JPEG", quality=90)
    (root / "truncated.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) * 6 // 10])
    (root / "not_an_image.png").write_text("this is a text file, not a picture\n")
    save(smooth(6, 40, 40), root / "tiny.png")
    (root / "bomb.png").write_bytes(bomb_png(40000, 40000))
    (root / "notes.txt").write_text("ignored\n")
    return {"kept": ["a.png", "b.jpg", "sub/c.webp", "sub/d.png"], "duplicate": ["z_copy_of_a.webp"],
            "near_duplicate": ["sub/y_b_resized.jpeg"], "unreadable": ["not_an_image.png", "truncated.jpg"],
            "too_small": ["tiny.png"], "too_large": ["bomb.png"]}
