"""The retention policy (opt-in, schedule.retention): thin old unrated, uncollected works."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from catalogue.models import Artwork, CollectionItem, Mint, utcnow
from generator.schedule.calendar import naive_utc

if TYPE_CHECKING:
    from catalogue import Catalogue
    from gallery.config import Settings

log = logging.getLogger("gallery.schedule")


def retention_candidates(settings: Settings, cat: Catalogue, now: datetime | None = None) -> list[int]:
    """Artwork ids the retention policy would remove (whether or not it is enabled)."""
    pol = settings.schedule.retention
    now = naive_utc(now) if now is not None else utcnow()
    thin_before = now - timedelta(days=pol.keep_days)
    delete_before = now - timedelta(days=pol.delete_after_days) if pol.delete_after_days else None
    with cat.read() as s:
        q = select(Artwork.id, Artwork.created).where(Artwork.created < thin_before)
        if pol.keep_rated:
            q = q.where(Artwork.rating.is_(None))
        rows = s.execute(q.order_by(Artwork.id)).all()
        # Collected or minted works are always kept (those rows refer to them).
        protected = set(s.scalars(select(CollectionItem.artwork_id))) | set(s.scalars(select(Mint.artwork_id)))
    out = []
    for aid, created in rows:
        if aid in protected:
            continue
        if (delete_before is not None and created < delete_before) or aid % pol.keep_one_in != 0:
            out.append(aid)
    return out


def apply_retention(settings: Settings, cat: Catalogue, now: datetime | None = None, dry_run: bool = False) -> list[int]:
    """Remove what the policy thins (rows, then unreferenced blobs); returns the ids removed."""
    ids = retention_candidates(settings, cat, now)
    if dry_run or not ids:
        return ids
    with cat.write() as s:
        for aid in ids:
            art = s.get(Artwork, aid)
            if art is not None:
                s.delete(art)
    removed = cat.gc()
    log.info("retention: removed %d artworks older than %s days (%d blobs freed)", len(ids),
             settings.schedule.retention.keep_days, len(removed))
    return ids
