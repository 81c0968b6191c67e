"""The sha256 of a file, read in 1 MiB blocks (checkpoints, weights, prompt images): one definition for every
family. Torch-free and dependency-free."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of the file's bytes; memory stays at one block whatever the file's size."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(BLOCK), b""):
            h.update(chunk)
    return h.hexdigest()
