"""The seam between curation and the CLIP model: one small interface, two implementations.

``clip``: the VQGAN+CLIP family's encoder (``generator.vqgan_clip.clip.load_clip``): text and images
in one space. ``hist``: a colour-histogram embedding computed from the pixels (images only), so
that "more like this", near-duplicates and the map work on a machine without a CLIP model.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from typing import Any, Protocol

import numpy as np

from curation.features import HIST_BINS, hist_embedding
from gallery.errors import BadInput, GalleryError

log = logging.getLogger(__name__)


class Encoder(Protocol):
    name: str
    dim: int
    model_sha256: str

    def encode_images(self, images: list[np.ndarray]) -> np.ndarray: ...

    def encode_texts(self, texts: list[str]) -> np.ndarray: ...


class HistEncoder:
    """Colour histograms as embeddings: no model, no text."""

    name = "hist"
    dim = int(np.prod(HIST_BINS))
    model_sha256 = hashlib.sha256(f"hist-hsv-{HIST_BINS}-v1".encode()).hexdigest()

    def encode_images(self, images: list[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([hist_embedding(im) for im in images]).astype(np.float32)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        raise BadInput("text search needs the CLIP model (curation.embedding: clip); the colour-histogram "
                       "embedding only compares images")


def clip_available() -> bool:
    try:
        importlib.import_module("generator.vqgan_clip.clip")
    except ImportError:
        return False
    return True


def load_encoder(settings: Any, which: str | None = None) -> Encoder:
    """The encoder named by ``curation.embedding`` (auto: clip when it loads, else hist)."""
    which = which or settings.curation.embedding
    if which == "hist":
        return HistEncoder()
    try:
        mod = importlib.import_module("generator.vqgan_clip.clip")
        enc = mod.load_clip(settings, device=None)
    except ImportError as e:
        if which == "clip":
            raise GalleryError(f"the CLIP model is not available ({e}); set curation.embedding: hist") from e
        log.info("CLIP not available (%s): using colour-histogram embeddings", e)
        return HistEncoder()
    except (OSError, BadInput) as e:
        if which == "clip":
            raise GalleryError(f"could not load the CLIP model: {e}") from e
        log.warning("could not load the CLIP model (%s): using colour-histogram embeddings", e)
        return HistEncoder()
    return enc


def feature_name(enc: Encoder) -> str:
    """Name of the feature row holding this encoder's embeddings."""
    return "emb_hist" if enc.name == "hist" else "emb_clip"


def normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)
