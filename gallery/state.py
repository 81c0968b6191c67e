"""Per-invocation state of the CLI: the config path, the settings (loaded once) and the catalogue."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from catalogue import Catalogue
    from gallery.config import Settings


@dataclass
class AppState:
    config_path: Path | None = None
    json_logs: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _catalogue: Catalogue | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from gallery.config import load_settings
            from gallery.logs import setup_logging

            self._settings = load_settings(self.config_path)  # ConfigError -> exit 2 in main()
            setup_logging(self._settings.logging.level,
                          self._settings.path(self._settings.logging.file) if self._settings.logging.file else None)
        return self._settings

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            from catalogue import open_catalogue

            self._catalogue = open_catalogue(self.settings)
            if getattr(self._catalogue, "created", False):
                typer.echo(new_catalogue_notice(self.settings), err=True)
        return self._catalogue


def new_catalogue_notice(settings: Settings) -> str:
    """One line for stderr when a command made a new, empty catalogue: says where, so that a command run
    from the wrong folder (a new ``./gallery-data``) is noticed at once."""
    from sqlalchemy.engine import make_url

    db = make_url(settings.catalogue_url).render_as_string(hide_password=True)
    where = f"{settings.data_dir}" + ("" if not settings.catalogue.url else f" (database {db})")
    hint = ("; no config.yaml here, so the defaults are in use: run from your gallery's folder or give --config"
            if settings.source == "<defaults>" else f" (config {settings.source})")
    return f"created a new catalogue at {where}{hint}"


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    if obj is None:
        obj = AppState()
        ctx.find_root().obj = obj
    return obj
