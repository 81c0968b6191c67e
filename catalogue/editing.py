"""A curator edits works: wall text (title, artist, year, medium, a paragraph), tags, hide / unhide, delete.

`gallery catalogue edit|hide|unhide|delete` and the curation web app both call these. Every call is one
write transaction; bad input raises :class:`~gallery.errors.BadInput` naming the field (or the work and
why) before anything is written, so a refused edit changes nothing.

- A title a curator set is recorded (``artwork.extra["title_by"] = "curator"``): automatic default-title
  repair must leave such a title alone; ask :func:`curator_titled`.
- A minted work (it has rows in ``mint``) keeps the wall text and tags its token metadata was made from:
  changing them is refused (naming the token), as is deleting it.
- Delete removes the work from the sets that are not frozen (their positions stay 0..n-1), its lineage,
  pairings, features, tags and media rows go with it (foreign keys cascade), and its blobs stay in the
  media store until `gallery catalogue gc` removes those no other artwork refers to.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalogue.models import (
    Artwork,
    Collection,
    CollectionItem,
    Feature,
    Lineage,
    Media,
    Mint,
    Pairing,
    Tag,
)
from gallery.errors import BadInput

MAX_TITLE = 300  # the artwork.title column
MAX_ARTIST = 200
MAX_MEDIUM = 300
MAX_WALL_TEXT = 4000  # one paragraph (a museum label, a token's description)
YEAR_MIN, YEAR_MAX = 1000, 2200
MAX_TAG = 100
MAX_TAGS_PER_ARTWORK = 256
TITLE_BY = "title_by"  # key in artwork.extra: who set the title ("curator" once a curator has)
WALL_FIELDS = ("title", "artist", "year", "medium", "wall_text")
# Invisible characters that reorder or hide text (bidirectional overrides and isolates): refused like controls.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # "leave this field as it is" (None or "" clears a field; the title cannot be cleared)


def curator_titled(artwork: Any) -> bool:
    """True when a curator set this work's title (automatic title repair must not overwrite it)."""
    return (getattr(artwork, "extra", None) or {}).get(TITLE_BY) == "curator"


def wall_text_of(artwork: Any) -> dict[str, Any]:
    """The wall text of a work as a dict: title, artist, year, medium, wall_text, title_by."""
    return {"title": artwork.title or "", "artist": getattr(artwork, "artist", "") or "",
            "year": getattr(artwork, "year", None), "medium": getattr(artwork, "medium", "") or "",
            "wall_text": getattr(artwork, "wall_text", "") or "",
            "title_by": (getattr(artwork, "extra", None) or {}).get(TITLE_BY)}


def has_wall_text(artwork: Any) -> bool:
    """True when a curator wrote any of it (a title, artist, year, medium or the paragraph)."""
    w = wall_text_of(artwork)
    return curator_titled(artwork) or bool(w["artist"] or w["year"] or w["medium"] or w["wall_text"])


def credit_line(artwork: Any) -> str:
    """``artist · year · medium`` with what is written ("" when none is)."""
    w = wall_text_of(artwork)
    return " · ".join(str(x) for x in (w["artist"], w["year"], w["medium"]) if x)


# ---- validation --------------------------------------------------------------------------------------
def clean_text(name: str, value: Any, max_len: int, *, required: bool = False, multiline: bool = False) -> str:
    """A text field: NFC, trimmed, at most ``max_len`` characters, no control characters (a newline is
    allowed where ``multiline``); BadInput naming ``name`` otherwise."""
    if not isinstance(value, str):
        raise BadInput(f"{name}: must be text, got {type(value).__name__}")
    v = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    for i, c in enumerate(v):
        if (c == "\n" and multiline) or not (unicodedata.category(c) == "Cc" or c in _BIDI):
            continue
        what = "a line break" if c == "\n" else f"a control character (U+{ord(c):04X})"
        raise BadInput(f"{name}: {what} at position {i + 1}; write plain text"
                       + ("" if multiline else " on one line"))
    if required and not v:
        raise BadInput(f"{name}: must not be empty")
    if len(v) > max_len:
        raise BadInput(f"{name}: too long ({len(v)} characters; at most {max_len})")
    return v


def clean_year(value: Any) -> int | None:
    """A year YEAR_MIN..YEAR_MAX (int or digits), or None for "" / None (clears it)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise BadInput("year: must be a whole number")
    if isinstance(value, str):
        s = value.strip()
        if not (s.isascii() and s.isdigit()) or len(s) > 6:
            raise BadInput(f"year: {s[:20]!r} is not a year (a whole number {YEAR_MIN}..{YEAR_MAX})")
        value = int(s)
    if not isinstance(value, int):
        raise BadInput(f"year: must be a whole number, got {type(value).__name__}")
    if not YEAR_MIN <= value <= YEAR_MAX:
        raise BadInput(f"year: {value} is outside {YEAR_MIN}..{YEAR_MAX}")
    return value


def clean_tag(raw: Any) -> str:
    """A tag: trimmed, lower case, NFC, 1..MAX_TAG printable characters."""
    t = clean_text("tag", raw if isinstance(raw, str) else str(raw), MAX_TAG).lower()
    if not t or any(unicodedata.category(c).startswith("C") for c in t):
        raise BadInput(f"tag {str(raw)[:40]!r}: 1..{MAX_TAG} printable characters")
    return t


# ---- edits -------------------------------------------------------------------------------------------
def _get(s: Session, artwork_id: int) -> Artwork:
    a = s.get(Artwork, artwork_id)
    if a is None:
        raise BadInput(f"no artwork with id {artwork_id}")
    return a


def _mints(s: Session, artwork_ids: Iterable[int]) -> dict[int, list[Mint]]:
    out: dict[int, list[Mint]] = {}
    for m in s.scalars(select(Mint).where(Mint.artwork_id.in_(list(artwork_ids))).order_by(Mint.id)):
        out.setdefault(m.artwork_id, []).append(m)
    return out


def _mint_names(mints: Sequence[Mint]) -> str:
    return "; ".join(f"token {m.token_id if m.token_id is not None else '(unassigned)'} on chain {m.chain_id} "
                     f"contract {m.contract} ({m.state})" for m in mints)


def minted(cat: Any, artwork_id: int) -> str | None:
    """The tokens a work was minted as ("token 5 on chain 31337 contract 0x… (confirmed)"), or None."""
    with cat.read() as s:
        found = _mints(s, [artwork_id]).get(artwork_id)
    return _mint_names(found) if found else None


def edit(cat: Any, artwork_id: int, *, title: Any = UNSET, artist: Any = UNSET, year: Any = UNSET,
         medium: Any = UNSET, wall_text: Any = UNSET, add_tags: Sequence[str] = (),
         remove_tags: Sequence[str] = (), claim_title: bool = False) -> list[str]:
    """Change a work's wall text and tags in one transaction; returns the names of the fields changed
    (``tags`` for tags). A field left UNSET stays; "" (or None) clears artist, year, medium or
    wall_text; the title cannot be cleared.

    A changed title is recorded as the curator's (:func:`curator_titled`); with ``claim_title`` a given
    title is recorded so even when it equals the current one (the CLI's explicit ``--title``)."""
    want: dict[str, Any] = {}
    if title is not UNSET:
        want["title"] = clean_text("title", title, MAX_TITLE, required=True)
    if artist is not UNSET:
        want["artist"] = clean_text("artist", artist or "", MAX_ARTIST)
    if year is not UNSET:
        want["year"] = clean_year(year)
    if medium is not UNSET:
        want["medium"] = clean_text("medium", medium or "", MAX_MEDIUM)
    if wall_text is not UNSET:
        want["wall_text"] = clean_text("wall text", wall_text or "", MAX_WALL_TEXT, multiline=True)
    add = list(dict.fromkeys(clean_tag(t) for t in add_tags))
    remove = {clean_tag(t) for t in remove_tags}
    both = remove & set(add)
    if both:
        raise BadInput(f"tags: {', '.join(sorted(both))} both added and removed")
    with cat.write() as s:
        a = _get(s, artwork_id)
        changed = [k for k, v in want.items() if (getattr(a, k) or ("" if k != "year" else None)) != v]
        have = {t.name for t in a.tags}
        tags_change = bool(set(add) - have) or bool(remove & have)
        if tags_change and len(have | set(add)) - len(remove & have) > MAX_TAGS_PER_ARTWORK:
            raise BadInput(f"tags: artwork {artwork_id} would have more than {MAX_TAGS_PER_ARTWORK} tags")
        if changed or tags_change:
            tokens = _mints(s, [artwork_id]).get(artwork_id)
            if tokens:
                what = ", ".join([*changed, *(["tags"] if tags_change else [])])
                raise BadInput(f"artwork {artwork_id} is minted ({_mint_names(tokens)}): its token metadata was "
                               f"made from its wall text and tags, so {what} cannot change")
        for k in changed:
            setattr(a, k, want[k])
        if ("title" in changed or (claim_title and "title" in want)) and not curator_titled(a):
            a.extra = {**(a.extra or {}), TITLE_BY: "curator"}  # a new dict: the JSON column sees the change
        for t in add:
            if t not in have:
                a.tags.append(Tag(name=t))
        for t in [t for t in a.tags if t.name in remove]:
            a.tags.remove(t)
    return changed + (["tags"] if tags_change else [])


def _set_status(cat: Any, artwork_ids: Sequence[int], hidden: bool, reason: str | None) -> list[int]:
    ids = list(dict.fromkeys(int(i) for i in artwork_ids))
    if not ids:
        raise BadInput("give at least one artwork id")
    if hidden:
        reason = clean_text("reason", reason or "", 500) or "hidden by a curator"
    with cat.write() as s:
        arts = {a.id: a for a in s.scalars(select(Artwork).where(Artwork.id.in_(ids)))}
        missing = [i for i in ids if i not in arts]
        if missing:
            raise BadInput(f"no artwork with id {', '.join(map(str, missing))}")
        bad = [arts[i] for i in ids if arts[i].status not in ("ok", "hidden")]
        if bad:
            why = ("it is kept out of the show until `gallery catalogue verify --repair` finds its media "
                   "sound again (or it is re-generated)")
            raise BadInput("; ".join(f"artwork {a.id} is {a.status} ({a.status_reason or 'no reason recorded'})"
                                     for a in bad) + f": {'hide' if hidden else 'unhide'} does not change "
                           f"a quarantined work; {why}")
        changed = []
        for i in ids:
            a = arts[i]
            if hidden and a.status == "ok":
                a.status, a.status_reason = "hidden", reason
                changed.append(i)
            elif not hidden and a.status == "hidden":
                a.status, a.status_reason = "ok", None
                changed.append(i)
    return changed


def hide(cat: Any, artwork_ids: Sequence[int], reason: str | None = None) -> list[int]:
    """Hide works (status ok -> hidden): the show, search and new sets leave them out. Returns the ids
    that changed (already hidden ones are left as they are). All or nothing."""
    return _set_status(cat, artwork_ids, True, reason)


def unhide(cat: Any, artwork_ids: Sequence[int]) -> list[int]:
    """Show hidden works again (hidden -> ok); a quarantined work is refused (its media are broken)."""
    return _set_status(cat, artwork_ids, False, None)


# ---- delete ------------------------------------------------------------------------------------------
@dataclass
class DeletePlan:
    """What deleting one work does (or why it is refused)."""

    artwork_id: int
    kind: str
    title: str
    sets: list[tuple[int, str]] = field(default_factory=list)  # unfrozen sets it leaves (id, title)
    refusals: list[str] = field(default_factory=list)  # minted, in a frozen set
    blobs_freed: list[str] = field(default_factory=list)  # sha256 no other artwork refers to (gc removes them)
    blobs_shared: int = 0  # blobs other artworks still use (kept)
    lineage: int = 0
    pairings: int = 0
    features: int = 0
    tags: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"artwork": self.artwork_id, "kind": self.kind, "title": self.title,
                "sets": [{"id": c, "title": t} for c, t in self.sets], "refused": self.refusals,
                "blobs_freed_at_gc": len(self.blobs_freed), "blobs_shared": self.blobs_shared,
                "lineage": self.lineage, "pairings": self.pairings, "features": self.features, "tags": self.tags}

    def describe(self) -> str:
        parts = [f"artwork {self.artwork_id} ({self.kind}) {self.title!r}"]
        if self.refusals:
            return parts[0] + ": refused: " + "; ".join(self.refusals)
        if self.sets:
            parts.append("leaves set(s) " + ", ".join(f"{c} ({t!r})" for c, t in self.sets))
        parts.append(f"{len(self.blobs_freed)} blob(s) freed at the next `gallery catalogue gc`"
                     + (f", {self.blobs_shared} kept (used by other works)" if self.blobs_shared else ""))
        extra = [f"{n} {w}" for n, w in ((self.lineage, "lineage link(s)"), (self.pairings, "pairing(s)"),
                                         (self.features, "feature(s)"), (self.tags, "tag(s)")) if n]
        if extra:
            parts.append("with " + ", ".join(extra))
        return "; ".join(parts)


def _plans(s: Session, ids: list[int]) -> list[DeletePlan]:
    arts = {a.id: a for a in s.scalars(select(Artwork).where(Artwork.id.in_(ids)))}
    missing = [i for i in ids if i not in arts]
    if missing:
        raise BadInput(f"no artwork with id {', '.join(map(str, missing))}")
    mints = _mints(s, ids)
    sets: dict[int, list[Collection]] = {}
    for aid, c in s.execute(select(CollectionItem.artwork_id, Collection)
                            .join(Collection, Collection.id == CollectionItem.collection_id)
                            .where(CollectionItem.artwork_id.in_(ids)).order_by(Collection.id)).all():
        sets.setdefault(aid, []).append(c)
    shas = {i: {m.sha256 for m in arts[i].media} for i in ids}
    every = set().union(*shas.values()) if shas else set()
    elsewhere = set(s.scalars(select(Media.sha256).where(Media.sha256.in_(every), Media.artwork_id.notin_(ids))
                              .distinct())) if every else set()

    def count(model: Any, cond: Any) -> int:
        return int(s.scalar(select(func.count()).select_from(model).where(cond)) or 0)

    out = []
    for i in ids:
        a = arts[i]
        p = DeletePlan(i, a.kind, a.title or "")
        if i in mints:
            p.refusals.append(f"minted: {_mint_names(mints[i])}; a minted work cannot be deleted")
        for c in sets.get(i, []):
            if c.frozen_at is not None:
                p.refusals.append(f"in frozen set {c.id} ({c.title!r}, frozen {c.frozen_at:%Y-%m-%d %H:%M}); "
                                  "a frozen set cannot change")
            else:
                p.sets.append((c.id, c.title))
        p.blobs_freed = sorted(shas[i] - elsewhere)
        p.blobs_shared = len(shas[i] & elsewhere)
        p.lineage = count(Lineage, (Lineage.child_id == i) | (Lineage.parent_id == i))
        p.pairings = count(Pairing, (Pairing.visual_id == i) | (Pairing.sound_id == i))
        p.features = count(Feature, Feature.artwork_id == i)
        p.tags = len(a.tags)
        out.append(p)
    return out


def _ids(artwork_ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(int(i) for i in artwork_ids))
    if not ids:
        raise BadInput("give at least one artwork id")
    return ids


def plan_delete(cat: Any, artwork_ids: Sequence[int]) -> list[DeletePlan]:
    """What :func:`delete` would do, changing nothing (refusals are in each plan's ``refusals``)."""
    with cat.read() as s:
        return _plans(s, _ids(artwork_ids))


def delete(cat: Any, artwork_ids: Sequence[int]) -> list[DeletePlan]:
    """Delete works in one transaction, all or nothing: refused (BadInput naming every reason) when one
    is minted or in a frozen set. Returns the plans carried out."""
    ids = _ids(artwork_ids)
    with cat.write() as s:
        plans = _plans(s, ids)
        refused = [p.describe() for p in plans if p.refusals]
        if refused:
            raise BadInput("nothing deleted: " + " | ".join(refused))
        touched = {c for p in plans for c, _ in p.sets}
        for it in list(s.scalars(select(CollectionItem).where(CollectionItem.artwork_id.in_(ids)))):
            s.delete(it)
        s.flush()
        for cid in sorted(touched):  # the sets it left keep positions 0..n-1 in their order
            items = s.scalars(select(CollectionItem).where(CollectionItem.collection_id == cid)
                              .order_by(CollectionItem.position, CollectionItem.id))
            for n, it in enumerate(items):
                it.position = n
        for a in s.scalars(select(Artwork).where(Artwork.id.in_(ids))):
            s.delete(a)  # media and tags by the ORM; features, lineage, pairings by ON DELETE CASCADE
    return plans
