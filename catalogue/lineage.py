"""The family tree of runs queued "around" or "between" artworks: lineage rows for their results.

A run queued from curation (variations, between) records its parents in ``run.extra["parents"]``
(``[[artwork id, relation], ...]``). Once the run is ``done``, :func:`link_run_lineage` adds one
lineage row per (result, parent). Catalogue-level so that the scheduler (which runs those jobs) and
curation (which queues them and also runs them in-process) share it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select

from catalogue.models import Artwork, Lineage, Run

if TYPE_CHECKING:
    from catalogue.api import Catalogue


def link_run_lineage(cat: Catalogue, run_ids: Iterable[int] | None = None) -> int:
    """Lineage rows for the results of done runs that name parents (all such runs, or ``run_ids``).

    Idempotent; parents that no longer exist are left out. Returns the number of rows added."""
    added = 0
    with cat.write() as s:
        q = select(Run).where(Run.state == "done")
        if run_ids is not None:
            q = q.where(Run.id.in_([int(r) for r in run_ids]))
        for r in s.scalars(q.order_by(Run.id)):
            parents = (r.extra or {}).get("parents") or []
            if not parents or not r.artwork_ids:
                continue
            for child in r.artwork_ids:
                if s.get(Artwork, int(child)) is None:
                    continue
                for pid, rel in parents:
                    key = (int(child), int(pid), str(rel))
                    if int(pid) == int(child) or s.get(Artwork, int(pid)) is None or s.get(Lineage, key) is not None:
                        continue
                    s.add(Lineage(child_id=key[0], parent_id=key[1], relation=key[2]))
                    s.flush()  # the next s.get sees this row (a parent listed twice adds one row)
                    added += 1
    return added
