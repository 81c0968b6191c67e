"""Saved queries: a search kept by name (a text, filters, a limit) and resolved afresh to artwork ids.

A text query ranks by CLIP like `gallery curate search` (:func:`curation.search.open_searcher`); a
filters-only query lists the works passing its filters, newest first. Only works of status ``ok`` are
ever returned. Programmes of the show play a saved query by name: the front door (``gallery.wiring``)
registers :func:`resolve` with ``installation.hooks``.

Filters are stored as JSON (dates as ISO 8601 strings, open range ends as null) and checked both when a
query is saved and when it is loaded, so a row edited by hand with a bad filter is refused with an error
naming the query, never a crash.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from catalogue.models import ARTWORK_KINDS, SavedQuery, utcnow
from curation import features as F
from curation.search import Filters, Searcher, filtered_ids, open_searcher
from gallery.errors import BadInput

MAX_NAME = 100
MAX_TEXT = 500
MAX_LIMIT = 10_000
TEXT_LIMIT = 50  # a text query without a limit plays its best TEXT_LIMIT matches (a ranking has no end)
FILTER_KEYS = ("kinds", "model", "since", "until", "min_rating", "tags", "ranges", "status")

# Where resolve() finds the settings a text query needs (the encoder, the index) when none are given:
# the front door sets it (gallery.wiring.install) to the running command's settings.
_settings_provider: Callable[[], Any] | None = None


def use_settings(provider: Callable[[], Any] | None) -> None:
    """Set (or clear) the function giving the settings :func:`resolve` uses for text queries."""
    global _settings_provider
    _settings_provider = provider


@dataclass
class Query:
    """A saved query as it was checked on loading."""

    id: int
    name: str
    text: str | None
    filters: Filters
    limit: int | None
    created: datetime
    updated: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "text": self.text, "filters": filters_to_json(self.filters),
                "limit": self.limit, "created": self.created.isoformat(), "updated": self.updated.isoformat()}

    def describe(self) -> str:
        """One line a curator reads: the text and every filter."""
        parts = [f"text {self.text!r}"] if self.text else ["filters only"]
        fj = filters_to_json(self.filters)
        for k, v in fj.items():
            if k == "ranges":
                parts += [f"{n} {_end(lo)}..{_end(hi)}" for n, (lo, hi) in v.items()]
            else:
                parts.append(f"{k} {', '.join(v) if isinstance(v, list) else v}")
        parts.append(f"limit {self.limit}" if self.limit else f"its best {TEXT_LIMIT}" if self.text else "no limit")
        return "; ".join(parts)


def _end(v: float | None) -> str:
    return "" if v is None else f"{v:g}"


# ---- checks ------------------------------------------------------------------------------------------
def check_name(name: Any) -> str:
    """1..100 characters: letters, digits, spaces, '-' and '_' (surrounding spaces dropped)."""
    n = unicodedata.normalize("NFC", str(name or "")).strip()
    if not n:
        raise BadInput("a saved query needs a name")
    if len(n) > MAX_NAME:
        raise BadInput(f"saved query name too long ({len(n)} characters; at most {MAX_NAME})")
    bad = sorted({c for c in n if not (c in " -_" or unicodedata.category(c)[0] == "L"
                                        or unicodedata.category(c) == "Nd")})
    if bad:
        raise BadInput(f"saved query name {n[:40]!r}: only letters, digits, spaces, '-' and '_' "
                       f"(not {' '.join(repr(c) for c in bad[:5])})")
    return n


def check_text(text: Any) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise BadInput(f"text must be a string, got {type(text).__name__}")
    t = text.strip()
    if len(t) > MAX_TEXT:
        raise BadInput(f"text query too long ({len(t)} characters; at most {MAX_TEXT})")
    return t or None


def check_limit(limit: Any) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"limit must be a whole number 1..{MAX_LIMIT} (or none), got {limit!r}")
    return limit


def check_filters(f: Filters) -> Filters:
    """The filters a saved query may hold (status 'ok' only; known kinds); returns them validated."""
    if f.status != "ok":
        raise BadInput(f"a saved query plays works of status 'ok' only (got status {f.status!r})")
    return filters_from_json(filters_to_json(f.validate()))


def filters_to_json(f: Filters) -> dict[str, Any]:
    """The filters as JSON: only what is set; dates as ISO strings; open range ends as null."""
    d: dict[str, Any] = {}
    if f.kinds:
        d["kinds"] = list(f.kinds)
    if f.model:
        d["model"] = f.model
    if f.since:
        d["since"] = f.since.isoformat()
    if f.until:
        d["until"] = f.until.isoformat()
    if f.min_rating is not None:
        d["min_rating"] = f.min_rating
    if f.tags:
        d["tags"] = list(f.tags)
    if f.ranges:
        d["ranges"] = {n: [lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None]
                       for n, (lo, hi) in f.ranges.items()}
    return d


def _strings(v: Any, what: str, limit: int = 100) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() and len(x) <= limit for x in v):
        raise BadInput(f"{what} must be a list of non-empty strings (at most {limit} characters each), got {v!r:.80}")
    return list(dict.fromkeys(v))


def _date(v: Any, what: str) -> datetime | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise BadInput(f"{what} must be an ISO 8601 date string, got {v!r:.40}")
    try:
        return datetime.fromisoformat(v)
    except ValueError as e:
        raise BadInput(f"{what}: {v!r:.40} is not a date (YYYY-MM-DD or ISO 8601)") from e


def _number(v: Any, what: str, default: float) -> float:
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise BadInput(f"{what} must be a finite number or null, got {v!r:.40}")
    return float(v)


def filters_from_json(d: Any) -> Filters:
    """Filters from their stored JSON, each field checked (BadInput naming the field)."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise BadInput(f"filters must be a JSON object, got {type(d).__name__}")
    unknown = sorted(set(d) - set(FILTER_KEYS))
    if unknown:
        raise BadInput(f"unknown filter(s) {', '.join(map(repr, unknown))}; known: {', '.join(FILTER_KEYS)}")
    if d.get("status", "ok") != "ok":
        raise BadInput(f"filter status must be 'ok' (a saved query plays shown works only), got {d['status']!r:.40}")
    kinds = _strings(d.get("kinds", []), "filter kinds")
    bad = [k for k in kinds if k not in ARTWORK_KINDS]
    if bad:
        raise BadInput(f"filter kinds: unknown kind(s) {', '.join(map(repr, bad))}; known: {', '.join(ARTWORK_KINDS)}")
    model = d.get("model")
    if model is not None and not (isinstance(model, str) and model.strip() and len(model) <= 200):
        raise BadInput(f"filter model must be a model name or weights sha256 prefix, got {model!r:.40}")
    rating = d.get("min_rating")
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 5):
        raise BadInput(f"filter min_rating must be a whole number 0..5, got {rating!r:.40}")
    raw_ranges = d.get("ranges", {})
    if not isinstance(raw_ranges, dict):
        raise BadInput(f"filter ranges must be an object {{feature: [lo, hi]}}, got {raw_ranges!r:.80}")
    ranges = {}
    for name, rng in raw_ranges.items():
        if name not in F.SCALARS:
            raise BadInput(f"filter ranges: unknown feature {name!r:.40}; known: {', '.join(F.SCALARS)}")
        if not isinstance(rng, list) or len(rng) != 2:
            raise BadInput(f"filter range {name} must be [lo, hi] (null for an open end), got {rng!r:.80}")
        ranges[name] = (_number(rng[0], f"filter range {name} lo", -math.inf),
                        _number(rng[1], f"filter range {name} hi", math.inf))
    return Filters(kinds=kinds, model=model.strip() if model else None,
                   since=_date(d.get("since"), "filter since"), until=_date(d.get("until"), "filter until"),
                   min_rating=rating, tags=_strings(d.get("tags", []), "filter tags"), ranges=ranges).validate()


def _load(row: SavedQuery) -> Query:
    try:
        return Query(row.id, row.name, check_text(row.text), filters_from_json(row.filters), check_limit(row.limit),
                     row.created, row.updated)
    except BadInput as e:
        raise BadInput(f"saved query {row.name!r} is not valid: {e}") from e


# ---- the table ---------------------------------------------------------------------------------------
def check(cat: Any, name: str, text: str | None, filters: Filters | None, limit: int | None,
          replace: bool = False) -> tuple[str, str | None, dict[str, Any], int | None]:
    """Everything :func:`save` checks, without writing: (name, text, filters JSON, limit)."""
    n, t, lim = check_name(name), check_text(text), check_limit(limit)
    fj = filters_to_json(check_filters(filters or Filters()))
    if not replace:
        with cat.read() as s:
            have = s.scalar(select(SavedQuery.name).where(func.lower(SavedQuery.name) == n.lower()))
        if have is not None:
            raise BadInput(f"a saved query named {have!r} exists already (replace it, or choose another name)")
    return n, t, fj, lim


def save(cat: Any, name: str, text: str | None, filters: Filters | None = None, limit: int | None = None,
         replace: bool = False) -> Query:
    """Save a query (a new name, or with ``replace`` a new version of an existing one)."""
    n, t, fj, lim = check(cat, name, text, filters, limit, replace)
    try:
        with cat.write() as s:
            row = s.scalar(select(SavedQuery).where(func.lower(SavedQuery.name) == n.lower()))
            if row is None:
                row = SavedQuery(name=n, text=t, filters=fj, limit=lim, created=utcnow(), updated=utcnow())
                s.add(row)
            elif not replace:
                raise BadInput(f"a saved query named {row.name!r} exists already (replace it, or choose another "
                               "name)")
            else:
                row.name, row.text, row.filters, row.limit, row.updated = n, t, fj, lim, utcnow()
            s.flush()
            return _load(row)
    except IntegrityError as e:  # saved by someone else between the check and the insert
        raise BadInput(f"a saved query named {n!r} exists already (replace it, or choose another name)") from e


def _row(s: Any, name: str) -> SavedQuery:
    n = unicodedata.normalize("NFC", str(name or "")).strip()
    row = s.scalar(select(SavedQuery).where(SavedQuery.name == n))
    if row is None:
        row = s.scalar(select(SavedQuery).where(func.lower(SavedQuery.name) == n.lower()))
    if row is None:
        known = list(s.scalars(select(SavedQuery.name).order_by(SavedQuery.name)))
        raise BadInput(f"no saved query {n[:100]!r} (known: {', '.join(known) if known else 'none yet'})")
    return row


def names(cat: Any) -> list[str]:
    with cat.read() as s:
        return list(s.scalars(select(SavedQuery.name).order_by(SavedQuery.name)))


def ls(cat: Any) -> list[tuple[SavedQuery, Query | None, str | None]]:
    """Every saved query by name: (row, the checked query or None, the reason it is not valid or None)."""
    with cat.read() as s:
        rows = list(s.scalars(select(SavedQuery).order_by(SavedQuery.name)))
    out: list[tuple[SavedQuery, Query | None, str | None]] = []
    for r in rows:
        try:
            out.append((r, _load(r), None))
        except BadInput as e:
            out.append((r, None, str(e)))
    return out


def get(cat: Any, name: str) -> Query:
    """The saved query ``name`` (exact, else ignoring case), checked; BadInput when unknown or not valid."""
    with cat.read() as s:
        return _load(_row(s, name))


def get_id(cat: Any, qid: int) -> Query:
    with cat.read() as s:
        row = s.get(SavedQuery, qid)
        if row is None:
            raise BadInput(f"no saved query {qid}")
        return _load(row)


def name_of(cat: Any, qid: int) -> str:
    """The name of saved query ``qid`` (valid or not); BadInput when there is none."""
    with cat.read() as s:
        row = s.get(SavedQuery, qid)
        if row is None:
            raise BadInput(f"no saved query {qid}")
        return row.name


def delete(cat: Any, name: str) -> str:
    """Delete a saved query (a row not valid any more can be deleted too); returns its name."""
    with cat.write() as s:
        row = _row(s, name)
        n = row.name
        s.delete(row)
    return n


# ---- resolving -----------------------------------------------------------------------------------------
def run(q: Query, cat: Any, searcher: Searcher | None = None, settings: Any = None) -> list[int]:
    """The artwork ids of a loaded query, in search order."""
    try:
        if q.text is None:
            ids = filtered_ids(cat, q.filters)
            return ids[:q.limit] if q.limit else ids
        if searcher is None:
            if settings is None and _settings_provider is not None:
                settings = _settings_provider()
            if settings is None:
                raise BadInput("it searches by text, which needs the gallery's settings (the CLIP model, the "
                               "index); run it through `gallery`")
            searcher = open_searcher(settings, cat)
        return [h.id for h in searcher.search(text=q.text, filters=q.filters, k=q.limit or TEXT_LIMIT)]
    except BadInput as e:
        raise BadInput(f"saved query {q.name!r}: {e}") from e


def resolve(cat: Any, name: str, settings: Any = None, searcher: Searcher | None = None) -> list[int]:
    """The artwork ids saved query ``name`` gives now, in search order (status 'ok' only): the query
    resolver of ``installation.hooks``. BadInput naming the query when it is unknown or not valid."""
    return run(get(cat, name), cat, searcher=searcher, settings=settings)
