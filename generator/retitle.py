"""``gallery catalogue retitle --defaults``: re-derive the internal-reference default titles of stored works.

A work is retitled when no curator chose its title (``artwork.extra["title_by"] != "curator"``) and its
title is empty, shows an internal reference (``artwork:6``, ``#6``, ``corpus:...``, a float seed, a
digest) or is one the generators gave before issue 23 (:func:`generator.titles.is_default`). The new title
comes from the work's lineage and recipe (:func:`generator.titles.default_title`); recipes, fingerprints
and media are untouched. Works are visited oldest first, so a variation is named after its parent's new
title. The rows are written in one transaction, each only if its title is still the one read (a curator
who retitles meanwhile wins).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from generator import titles

if TYPE_CHECKING:
    from catalogue import Catalogue


@dataclass
class Retitled:
    artwork_id: int
    kind: str
    old: str
    new: str


@dataclass
class RetitleResult:
    changed: list[Retitled]
    curator: int  # works a curator titled (kept)
    kept: int  # works whose title is not a default, or already the derived one
    written: bool

    def to_dict(self) -> dict:
        return {"changed": [asdict(c) for c in self.changed], "curator_titles_kept": self.curator,
                "kept": self.kept, "written": self.written}


def retitle_defaults(catalogue: Catalogue, *, dry_run: bool = False) -> RetitleResult:
    """Re-derive every default title (see the module's doc); ``dry_run`` only reports what would change."""
    from sqlalchemy import select, update

    from catalogue.models import Artwork

    with catalogue.read() as s:
        rows = s.execute(select(Artwork.id, Artwork.kind, Artwork.title, Artwork.extra).order_by(Artwork.id)).all()
    overrides: dict[int, str] = {}
    changed: list[Retitled] = []
    curator = kept = 0
    for aid, kind, title, extra in rows:
        if (extra or {}).get(titles.CURATOR_MARK[0]) == titles.CURATOR_MARK[1]:
            curator += 1
            continue
        if not titles.is_default(title or ""):
            kept += 1
            continue
        art = catalogue.get(aid)
        new = titles.default_title(catalogue, art, overrides=overrides) if art is not None else ""
        if not new or new == (title or ""):
            kept += 1
            continue
        overrides[aid] = new
        changed.append(Retitled(aid, kind, title or "", new))
    if changed and not dry_run:
        with catalogue.write() as s:
            for c in changed:
                s.execute(update(Artwork).where(Artwork.id == c.artwork_id, Artwork.title == c.old).values(title=c.new))
    return RetitleResult(changed, curator, kept, written=bool(changed) and not dry_run)
