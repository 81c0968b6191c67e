"""Guards (free disk, catalogue size): why generation must stop now."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

if TYPE_CHECKING:
    from catalogue import Catalogue
    from gallery.config import Settings


def _existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def guard_reason(settings: Settings, cat: Catalogue) -> str | None:
    """Why generation must stop now (free disk, catalogue size), or None."""
    sched = settings.schedule
    where = _existing(settings.media_root)
    free_mb = shutil.disk_usage(where).free / 2**20
    if free_mb < sched.min_free_disk_mb:
        return (f"free disk {free_mb:.0f} MB on {where} is below schedule.min_free_disk_mb = "
                f"{sched.min_free_disk_mb} MB")
    if sched.max_artworks is not None:
        n = cat.count()
        if n >= sched.max_artworks:
            return f"the catalogue holds {n} artworks, at or above schedule.max_artworks = {sched.max_artworks}"
    if sched.max_catalogue_mb is not None:
        from catalogue.models import Media

        with cat.read() as s:
            blobs = select(Media.sha256, func.max(Media.size).label("size")).group_by(Media.sha256).subquery()
            total = int(s.scalar(select(func.coalesce(func.sum(blobs.c.size), 0))) or 0)
        if total / 2**20 >= sched.max_catalogue_mb:
            return (f"the catalogue's media take {total / 2**20:.1f} MB, at or above schedule.max_catalogue_mb = "
                    f"{sched.max_catalogue_mb} MB")
    return None
