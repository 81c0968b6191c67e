"""An image dataset on disk, as ``gallery dataset images`` writes it and training reads it.

A dataset is a folder (``<data_dir>/datasets/<name>/``):

- ``images.u8``: the kept images, raw uint8 RGB, shape (count, resolution, resolution, 3), C order, no header;
- ``index.json``: format version, shape, the sha256 of ``images.u8``, and per image its source file;
- ``contact_sheet.png``: thumbnails of (up to 256 of) the images, for a person to look at.

:class:`ImageDataset` maps ``images.u8`` read-only (numpy memmap), so a batch reads only its own images'
pages and a dataset far larger than memory streams. Torch-free.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from gallery.errors import BadInput

FORMAT_VERSION = 1
DATA_FILE = "images.u8"
INDEX_FILE = "index.json"
SHEET_FILE = "contact_sheet.png"


class ImageDataset:
    """Read-only view of a dataset folder: ``len(ds)``, ``ds[i]`` (H, W, 3) uint8, ``ds.batch(indices)``,
    ``ds.batches(batch_size, shuffle=True, seed=0)``."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        idx = self.folder / INDEX_FILE
        data = self.folder / DATA_FILE
        if not idx.is_file() or not data.is_file():
            raise BadInput(f"{self.folder} is not an image dataset (no {INDEX_FILE} or {DATA_FILE}): "
                           "was it deleted or moved? (`gallery dataset ls` lists the registered ones)")
        try:
            self.index: dict[str, Any] = json.loads(idx.read_text())
            n, h, w, c = (int(x) for x in self.index["shape"])
        except (ValueError, KeyError, TypeError) as e:
            raise BadInput(f"{idx}: unreadable dataset index ({e})") from e
        if self.index.get("version") != FORMAT_VERSION:
            raise BadInput(f"{idx}: dataset format {self.index.get('version')!r}, this version reads {FORMAT_VERSION}")
        size = data.stat().st_size
        if size != n * h * w * c:
            raise BadInput(f"{data}: {size} bytes, the index says {n}x{h}x{w}x{c} = {n * h * w * c}: "
                           "a damaged dataset (rebuild it with `gallery dataset images ... --replace`)")
        self.shape = (n, h, w, c)
        self._mm = np.memmap(data, dtype=np.uint8, mode="r", shape=self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def resolution(self) -> int:
        return self.shape[1]

    @property
    def sources(self) -> list[str]:
        return [f["file"] for f in self.index.get("files", [])]

    def __getitem__(self, i: int) -> np.ndarray:
        return np.array(self._mm[i])  # a copy: nothing keeps the map alive

    def batch(self, indices: np.ndarray | list[int]) -> np.ndarray:
        """(B, H, W, 3) uint8 of these images (read in file order, returned in the order asked)."""
        idx = np.asarray(indices, dtype=np.int64)
        order = np.argsort(idx, kind="stable")
        out = np.empty((len(idx), *self.shape[1:]), np.uint8)
        out[order] = self._mm[idx[order]]
        return out

    def batches(self, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                drop_last: bool = False) -> Iterator[np.ndarray]:
        """One epoch of batches; with ``shuffle`` a permutation drawn from ``seed`` (the same every time)."""
        n = len(self)
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        stop = n - n % batch_size if drop_last else n
        for s in range(0, stop, batch_size):
            yield self.batch(order[s:s + batch_size])

    def verify(self) -> bool:
        """Re-hash ``images.u8`` in chunks; True when it matches the index's sha256."""
        return file_sha256(self.folder / DATA_FILE) == self.index.get("data_sha256")


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def contact_sheet(images: np.ndarray, *, cell: int = 64, cols: int = 16, gap: int = 2,
                  colour: tuple[int, int, int] = (40, 40, 40)) -> np.ndarray:
    """(N, H, W, 3) uint8 -> one RGB grid image, each image scaled to ``cell`` pixels (area average)."""
    from PIL import Image

    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    sheet = np.empty((rows * (cell + gap) + gap, cols * (cell + gap) + gap, 3), np.uint8)
    sheet[:] = colour
    for k, im in enumerate(images):
        if im.shape[0] != cell:
            im = np.asarray(Image.fromarray(im).resize((cell, cell), Image.Resampling.BOX
                                                       if im.shape[0] > cell else Image.Resampling.NEAREST))
        r, c = divmod(k, cols)
        y, x = gap + r * (cell + gap), gap + c * (cell + gap)
        sheet[y:y + cell, x:x + cell] = im
    return sheet


def sheet_picks(n: int, most: int = 256) -> np.ndarray:
    """Indices of up to ``most`` images spread evenly over a dataset of n."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))
