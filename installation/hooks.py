"""What the show may ask of packages above or beside it, wired in by the front door (gallery.wiring).

The show sits beside curation in the layers and must not import it. A programme that plays a saved
query needs curation's search to resolve it; the front door registers curation's resolver here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gallery.errors import BadInput

# (catalogue, query name) -> artwork ids in the query's order; BadInput for an unknown name.
QueryResolver = Callable[[Any, str], list[int]]
_resolver: QueryResolver | None = None


def register_query_resolver(fn: QueryResolver | None) -> None:
    """Set (or with None, clear) the function that turns a saved query's name into artwork ids."""
    global _resolver
    _resolver = fn


def resolve_query(catalogue: Any, name: str) -> list[int]:
    """The artwork ids of saved query ``name`` (BadInput when it is unknown or nothing can resolve it)."""
    if _resolver is None:
        raise BadInput(f"programme query {name!r}: no query resolver is installed (run through `gallery`)")
    return _resolver(catalogue, name)
