"""Settings of curation (search, sets, web UI): the `curation` section of config.yaml.

Torch-free on purpose: gallery.config imports every section at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from gallery.settings_base import Strict


class CurationSettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""

    # Where the vector index files live (relative to data_dir).
    index_dir: Path = Path("curation/index")
    # Vector index backend: faiss (exact below ivf_threshold, IVF above) | numpy (brute force).
    index_backend: Literal["faiss", "numpy"] = "faiss"
    # Above this many vectors the faiss index switches from exact (flat) to IVF (approximate).
    ivf_threshold: int = Field(50_000, ge=1_000)
    # IVF lists probed per query (recall versus speed).
    ivf_nprobe: int = Field(24, ge=1, le=4096)
    # Which embedding search uses: clip (text + image, needs the CLIP model) | hist (colour histogram,
    # image only) | auto (clip when the CLIP model can be loaded, else hist).
    embedding: Literal["auto", "clip", "hist"] = "auto"
    # Near-duplicates: at most this many differing bits of the 64-bit perceptual hash...
    dup_hash_bits: int = Field(6, ge=0, le=64)
    # ...or at least this cosine similarity of embeddings.
    dup_cosine: float = Field(0.97, ge=0.0, le=1.0)
    # Default knob between relevance (0) and variety (1) for suggested sets.
    variety: float = Field(0.5, ge=0.0, le=1.0)
    # Web UI address; anything but loopback requires the token named by token_env.
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    # Name of the environment variable holding the access token (never the token itself).
    token_env: str = "GALLERY_CURATE_TOKEN"
    # Artworks per page of the grid (infinite scroll loads the next page).
    page_size: int = Field(48, ge=1, le=500)
    # Features on insert: a generation job computes the OpenCV/sound features and the colour-histogram
    # embedding of what it adds (10-40 ms per work); CLIP embeddings stay with the lazy index.
    index_on_insert: bool = True

    # ---- staff page (issue 23, docs/show.md "Remote control") ----
    # The running show's control API, as the web app's server reaches it (the staff page at /staff
    # drives it); null = http://127.0.0.1:<show.http_port>. Sends the token named by show.token_env.
    show_url: str | None = None

    @field_validator("show_url")
    @classmethod
    def _show_url(cls, v: str | None) -> str | None:
        from urllib.parse import urlsplit

        if v is None:
            return v
        u = urlsplit(v.strip())
        if u.scheme not in ("http", "https") or not u.hostname or u.query or u.fragment:
            raise ValueError(f"curation.show_url {v!r}: an http(s)://host:port address of the show (no query)")
        return v.strip().rstrip("/")

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not v or not v.replace("_", "").isalnum():
            raise ValueError("must be an environment variable name (letters, digits, underscores)")
        return v
