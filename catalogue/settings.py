"""Settings of the catalogue (database URL, media store, write lock, gc): the `catalogue` section of
config.yaml.

Torch-free on purpose: gallery.config imports every section at start. The catalogue never imports
gallery.config: :func:`catalogue.open_catalogue` takes anything that has a ``catalogue`` section and a
``data_dir`` (:class:`HasCatalogueSettings`; the gallery's Settings is one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import Field, field_validator

from gallery.settings_base import Strict


class CatalogueSettings(Strict):
    # SQLAlchemy URL; empty means SQLite at <data_dir>/catalogue.sqlite.
    url: str = ""
    # Where content-addressed media blobs live; relative paths are under data_dir.
    media_dir: Path = Path("media")
    # How long a writer waits for the SQLite write lock before failing (milliseconds).
    busy_timeout_ms: int = Field(30_000, ge=0, le=600_000)
    # fsync every blob before its row is committed (crash safety); off only for throwaway data.
    fsync: bool = True
    # Blobs younger than this are never removed by `gallery catalogue gc` (a writer may be mid-add).
    gc_grace_seconds: int = Field(3600, ge=0)
    # Apply Alembic migrations automatically when the catalogue is opened.
    auto_upgrade: bool = True

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, v: str) -> str:
        if v and "://" not in v:
            raise ValueError("must be an SQLAlchemy URL such as sqlite:///path or postgresql+psycopg://…")
        return v

    def database_url(self, data_dir: Path) -> str:
        """The SQLAlchemy URL: ``url``, or SQLite at <data_dir>/catalogue.sqlite when it is empty."""
        return self.url or f"sqlite:///{data_dir / 'catalogue.sqlite'}"

    def media_path(self, data_dir: Path) -> Path:
        """The media store's folder: ``media_dir`` as is when absolute, else under data_dir."""
        p = Path(self.media_dir).expanduser()
        return p if p.is_absolute() else data_dir / p


class HasCatalogueSettings(Protocol):
    """What opening the catalogue needs of the whole configuration."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def catalogue(self) -> CatalogueSettings: ...
