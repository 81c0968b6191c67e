"""Collections (sets of artworks): create, add, remove, reorder, title, description, freeze.

A frozen collection (e.g. one being minted) cannot change; every function says which set and why.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalogue.models import Artwork, Collection, CollectionItem, utcnow
from gallery.errors import BadInput

MAX_TITLE = 300


def _get(s: Session, cid: int, for_change: bool = False) -> Collection:
    c = s.get(Collection, cid)
    if c is None:
        raise BadInput(f"no set {cid}")
    if for_change and c.frozen_at is not None:
        raise BadInput(f"set {cid} ({c.title!r}) is frozen since {c.frozen_at:%Y-%m-%d %H:%M}; it cannot change")
    return c


def _title(title: str) -> str:
    t = (title or "").strip()
    if not t:
        raise BadInput("a set needs a title")
    if len(t) > MAX_TITLE:
        raise BadInput(f"set title too long ({len(t)} characters; at most {MAX_TITLE})")
    return t


def create(cat: Any, title: str, description: str = "", artwork_ids: list[int] | None = None,
           extra: dict[str, Any] | None = None) -> int:
    with cat.write() as s:
        c = Collection(title=_title(title), description=description or "", extra=extra or {}, created=utcnow())
        s.add(c)
        s.flush()
        cid = c.id
    if artwork_ids:
        add(cat, cid, artwork_ids)
    return cid


def add(cat: Any, cid: int, artwork_ids: list[int]) -> list[int]:
    """Append artworks (already present ones are left where they are); returns the ids added."""
    added = []
    with cat.write() as s:
        c = _get(s, cid, for_change=True)
        present = {it.artwork_id for it in c.items}
        pos = max((it.position for it in c.items), default=-1) + 1
        for a in artwork_ids:
            if a in present:
                continue
            if s.get(Artwork, a) is None:
                raise BadInput(f"no artwork {a}")
            c.items.append(CollectionItem(artwork_id=a, position=pos))
            present.add(a)
            added.append(a)
            pos += 1
    return added


def remove(cat: Any, cid: int, artwork_ids: list[int]) -> None:
    with cat.write() as s:
        c = _get(s, cid, for_change=True)
        missing = set(artwork_ids) - {it.artwork_id for it in c.items}
        if missing:
            raise BadInput(f"set {cid} does not hold artwork(s) {sorted(missing)}")
        for it in [it for it in c.items if it.artwork_id in set(artwork_ids)]:
            c.items.remove(it)
        for i, it in enumerate(sorted(c.items, key=lambda it: it.position)):
            it.position = i


def reorder(cat: Any, cid: int, artwork_ids: list[int]) -> None:
    """Put the set in this order; the ids must be exactly the set's artworks."""
    with cat.write() as s:
        c = _get(s, cid, for_change=True)
        have = [it.artwork_id for it in c.items]
        if sorted(have) != sorted(artwork_ids) or len(set(artwork_ids)) != len(artwork_ids):
            raise BadInput(f"reorder of set {cid}: give each of its artworks once ({sorted(have)}), "
                           f"got {artwork_ids}")
        by_id = {it.artwork_id: it for it in c.items}
        for i, a in enumerate(artwork_ids):
            by_id[a].position = i


def move(cat: Any, cid: int, artwork_id: int, delta: int) -> None:
    """Move one artwork up (negative) or down (positive) in the set."""
    order = [it.artwork_id for it in show(cat, cid).items]
    if artwork_id not in order:
        raise BadInput(f"set {cid} does not hold artwork {artwork_id}")
    i = order.index(artwork_id)
    j = min(max(i + delta, 0), len(order) - 1)
    order.insert(j, order.pop(i))
    reorder(cat, cid, order)


def edit(cat: Any, cid: int, title: str | None = None, description: str | None = None) -> None:
    with cat.write() as s:
        c = _get(s, cid, for_change=True)
        if title is not None:
            c.title = _title(title)
        if description is not None:
            c.description = description


def freeze(cat: Any, cid: int) -> None:
    with cat.write() as s:
        c = _get(s, cid)
        if c.frozen_at is None:
            c.frozen_at = utcnow()


def show(cat: Any, cid: int) -> Collection:
    with cat.read() as s:
        return _get(s, cid)


def ls(cat: Any) -> list[tuple[Collection, int]]:
    with cat.read() as s:
        counts = dict(s.execute(select(CollectionItem.collection_id, func.count())
                                .group_by(CollectionItem.collection_id)).all())
        cols = list(s.scalars(select(Collection).order_by(Collection.id)))
    return [(c, int(counts.get(c.id, 0))) for c in cols]


def as_dict(c: Collection) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "description": c.description, "created": c.created.isoformat(),
            "frozen_at": c.frozen_at.isoformat() if c.frozen_at else None,
            "items": [it.artwork_id for it in sorted(c.items, key=lambda it: it.position)]}
