"""Artworks as a curator edits and browses them: rating, tags, lineage, media rows, ids and kinds.

Every change a curator makes to an artwork goes through here (the web app's routes stay thin: they
parse the request and call these). Sets have their own module (:mod:`curation.sets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select

from catalogue import editing
from catalogue.models import Artwork, Lineage, Media
from gallery.errors import BadInput

MAX_TAGS_PER_ARTWORK = editing.MAX_TAGS_PER_ARTWORK


def rate(cat: Any, artwork_id: int, rating: int | None) -> None:
    """Set (or clear, with None) an artwork's rating."""
    with cat.write() as s:
        a = s.get(Artwork, artwork_id)
        if a is None:
            raise BadInput(f"no artwork {artwork_id}")
        a.rating = rating


def retag(cat: Any, artwork_id: int, add: Sequence[str], remove: Sequence[str]) -> None:
    """Add and remove (clean) tags; at most :data:`MAX_TAGS_PER_ARTWORK` on one artwork. Through
    :func:`catalogue.editing.edit`, as every edit of a work: a minted work's tags are refused."""
    editing.edit(cat, artwork_id, add_tags=add, remove_tags=remove)


def by_id(cat: Any, ids: Sequence[int]) -> dict[int, Artwork]:
    """The artworks with these ids (missing ones left out), by id."""
    with cat.read() as s:
        return {a.id: a for a in s.scalars(select(Artwork).where(Artwork.id.in_(ids)))} if ids else {}


def lineage(cat: Any, artwork_id: int) -> tuple[list[Row[Any]], list[Row[Any]]]:
    """(parents, children) of an artwork, each as rows of (id, relation)."""
    with cat.read() as s:
        parents = s.execute(select(Lineage.parent_id, Lineage.relation).where(Lineage.child_id == artwork_id)).all()
        children = s.execute(select(Lineage.child_id, Lineage.relation).where(Lineage.parent_id == artwork_id)).all()
    return list(parents), list(children)


def media(cat: Any, media_id: int) -> Media | None:
    """A media row by id (None when there is none)."""
    with cat.read() as s:
        return s.get(Media, media_id)


def ok_ids(cat: Any) -> list[int]:
    """The ids of every artwork whose status is ok, in id order."""
    with cat.read() as s:
        return list(s.scalars(select(Artwork.id).where(Artwork.status == "ok").order_by(Artwork.id)))


def kinds(cat: Any) -> list[str]:
    """The artwork kinds present in the catalogue, sorted."""
    with cat.read() as s:
        return sorted(set(s.scalars(select(Artwork.kind).distinct())))
