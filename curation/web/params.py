"""Request fields (form and query strings) to values, each refused with a BadInput naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from curation.search import Filters
from curation.web.security import MAX_ID, clean_tags
from gallery.errors import BadInput

STATUSES = ("ok", "hidden", "quarantined", "all")  # the grid's "show" filter (default ok)


def as_id(v: Any, what: str) -> int | None:
    """An id from a form or query field: a whole number 1..MAX_ID, or None when empty."""
    return as_int(v, what, 1, MAX_ID)


def as_int(v: Any, what: str, lo: int | None = None, hi: int | None = None) -> int | None:
    if v in (None, ""):
        return None
    sv = str(v).strip()
    if not (sv.isascii() and sv.removeprefix("-").isdigit()) or len(sv) > 40:  # no "1_000", "²", 10**4300
        raise BadInput(f"{what}: {sv[:40]!r} is not a whole number")
    try:
        i = int(sv)
    except (TypeError, ValueError) as e:
        raise BadInput(f"{what}: {sv[:40]!r} is not a whole number") from e
    if (lo is not None and i < lo) or (hi is not None and i > hi):
        raise BadInput(f"{what}: {i} is outside {lo}..{hi}")
    return i


def as_float(v: Any, what: str) -> float | None:
    if v in (None, ""):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError) as e:
        raise BadInput(f"{what}: {str(v)[:40]!r} is not a number") from e
    if f != f:
        raise BadInput(f"{what}: not a number")
    return f


def as_day(v: Any, what: str) -> datetime | None:
    if not v:
        return None
    try:
        return datetime.fromisoformat(str(v))
    except ValueError as e:
        raise BadInput(f"{what}: {str(v)[:40]!r} is not a date (YYYY-MM-DD)") from e


def filters_from(params: Any) -> Filters:
    ranges = {}
    for name in ("brightness", "colourfulness", "contrast", "loudness"):
        lo, hi = as_float(params.get(f"{name}_min"), f"{name} min"), as_float(params.get(f"{name}_max"), f"{name} max")
        if lo is not None or hi is not None:
            ranges[name] = (lo if lo is not None else float("-inf"), hi if hi is not None else float("inf"))
    kinds = [k for k in params.getlist("kind") if k] if hasattr(params, "getlist") else []
    tags = clean_tags((params.get("tag") or "").split(","), "tag filter")
    status = str(params.get("status") or "ok")
    if status not in STATUSES:
        raise BadInput(f"status: {status[:40]!r} is not one of {', '.join(STATUSES)}")
    return Filters(kinds=kinds, tags=tags, status=status, min_rating=as_int(params.get("min_rating"), "min rating", 0, 5),
                   model=(params.get("model") or None), ranges=ranges, since=as_day(params.get("since"), "since"),
                   until=as_day(params.get("until"), "until")).validate()
