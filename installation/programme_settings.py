"""Settings of programmes and the weekly timetable (keys `programmes:`, `timetable:`, `programme:` of `show:`).

Torch-free like installation.settings, which imports this module. Checks that need the whole `show:`
section (opening hours, transition length, programme names) are in ``check_programmes``, called by
ShowSettings' validator; checks that need the catalogue are in installation.programmes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, field_validator, model_validator

from gallery.settings_base import Strict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TRANSITIONS = ("crossfade", "wipe", "dissolve")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def check_transitions(v: list[str], where: str) -> list[str]:
    """A non-empty list of known transitions, or ValueError naming ``where`` (e.g. "show.transitions")."""
    if not v:
        raise ValueError(f"{where}: list at least one of " + ", ".join(TRANSITIONS))
    for t in v:
        if t not in TRANSITIONS:
            raise ValueError(f"{where}: unknown transition {t!r} (known: {', '.join(TRANSITIONS)})")
    return v


def parse_span(text: str) -> tuple[int, int]:
    """'10:00-18:30' -> (600, 1110) minutes since midnight; '24:00' allowed as an end."""
    m = _SPAN.match(text.strip())
    if not m:
        raise ValueError(f"opening span {text!r} is not HH:MM-HH:MM (e.g. 10:00-18:00)")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    a, b = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or a > 24 * 60 or b > 24 * 60:
        raise ValueError(f"opening span {text!r}: hours go 00:00 to 24:00")
    if b <= a:
        raise ValueError(f"opening span {text!r} ends before it starts (overnight: split it over two days)")
    return a, b


ALL = "all"  # the built-in programme: every work, today's weighted draw (a programme of that name replaces it)
ORDERS = ("curated", "shuffle", "balanced", "weighted")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DAY_GROUPS = {"daily": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
               "weekdays": ("mon", "tue", "wed", "thu", "fri"), "weekend": ("sat", "sun")}


def parse_since(text: str, now: datetime, tz: str = "UTC") -> datetime:
    """'24h', '7d', '30m', '2w' (before ``now``) or an ISO date / date-time (local to ``tz`` unless it
    says its zone) -> the cutoff as naive UTC, as the catalogue stores creation times."""
    m = _DURATION.match(text)
    if m:
        cut = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
        return (cut - timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])).replace(tzinfo=None)
    try:
        d = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"since {text!r} is neither a duration (24h, 7d, 30m, 2w) nor an ISO date "
                         f"(2026-11-01 or 2026-11-01T18:00)") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=ZoneInfo(tz))
    return d.astimezone(UTC).replace(tzinfo=None)


class ProgrammeSpec(Strict):
    """One programme: where its works come from, in which order, how long stills and sounds hold."""

    # The source: at most one of set / query / since; none of them = every work.
    set: int | str | None = None  # a set (collection) by id or exact title, in its curated order
    query: str | None = None  # a saved query by name (resolved afresh at every catalogue read)
    since: str | None = None  # works made since an ISO date or within a duration (24h, 7d)
    # curated: the set's / query's order (newest first for since and all works); shuffle: seeded, a new
    # shuffle each pass; balanced: kinds in turn; weighted: show.weights, last night's works first.
    order: Literal["curated", "shuffle", "balanced", "weighted"] | None = None  # None: weighted for all, else curated
    seed: int | None = None  # shuffle seed (None: show.seed, else random)
    still_seconds: float | None = Field(None, gt=0)  # cap on how long a still holds the screen
    sound_seconds: float | None = Field(None, gt=0)  # cap for a sound-only work (its sound fades out at the cap)
    transitions: list[str] | None = None  # a subset of crossfade, wipe, dissolve (None: show.transitions)

    @field_validator("since")
    @classmethod
    def _since(cls, v: str | None) -> str | None:
        if v is not None:
            parse_since(v, datetime.now(UTC))
        return v

    @field_validator("transitions")
    @classmethod
    def _transitions(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else check_transitions(v, "transitions")

    @model_validator(mode="after")
    def _one_source(self) -> ProgrammeSpec:
        given = [k for k in ("set", "query", "since") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"a programme plays one source: give one of set, query, since (not {' and '.join(given)})")
        return self

    @property
    def source(self) -> tuple[str, Any]:
        for k in ("set", "query", "since"):
            if getattr(self, k) is not None:
                return k, getattr(self, k)
        return ALL, None

    @property
    def policy(self) -> str:
        return self.order or ("weighted" if self.source[0] == ALL else "curated")


class TimetableEntry(Strict):
    """`{days: [sun], from: "10:00", to: "18:00", programme: sunday}`; days also daily, weekdays, weekend."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_by_name=True,
                              validate_by_alias=True, serialize_by_alias=True)
    days: list[str]
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    programme: str

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, v: Any) -> Any:
        v = [v] if isinstance(v, str) else v
        if not isinstance(v, list) or not v:
            raise ValueError("days: a list of weekdays (mon..sun) or daily / weekdays / weekend")
        out: list[str] = []
        for d in v:
            d = str(d).lower()
            if d not in WEEKDAYS and d not in _DAY_GROUPS:
                raise ValueError(f"days: {d!r} is not a weekday ({', '.join(WEEKDAYS)}) nor daily / weekdays / weekend")
            out += [x for x in _DAY_GROUPS.get(d, (d,)) if x not in out]
        return out

    @model_validator(mode="after")
    def _span(self) -> TimetableEntry:
        self.span  # noqa: B018 - raises on a bad span
        return self

    @property
    def span(self) -> tuple[int, int]:
        return parse_span(f"{self.start}-{self.end}")

    def describe(self, i: int) -> str:
        return f"timetable entry {i + 1} ({','.join(self.days)} {self.start}-{self.end} {self.programme})"


def check_programmes(programmes: dict[str, ProgrammeSpec], timetable: list[TimetableEntry], default: str,
                     opening_hours: dict[str, list[str]], transition_seconds: float) -> None:
    """Names, overlaps, opening hours and caps; raises ValueError naming the entries concerned."""
    known = sorted(set(programmes) | {ALL})
    if default not in known:
        raise ValueError(f"show.programme: unknown programme {default!r} (known: {', '.join(known)})")
    shortest = 2 * transition_seconds
    for name, p in programmes.items():
        for key in ("still_seconds", "sound_seconds"):
            v = getattr(p, key)
            if v is not None and v <= shortest:
                raise ValueError(f"show.programmes.{name}.{key} = {v}: must be more than twice "
                                 f"show.transition_seconds ({shortest} s)")
    for i, e in enumerate(timetable):
        if e.programme not in known:
            raise ValueError(f"show.timetable: {e.describe(i)} names an unknown programme {e.programme!r} "
                             f"(known: {', '.join(known)})")
        a, b = e.span
        for day in e.days:
            if day not in opening_hours:
                continue  # open all day
            spans = opening_hours[day]
            if not any(x <= a and b <= y for x, y in (parse_span(s) for s in spans)):
                raise ValueError(f"show.timetable: {e.describe(i)} is outside the opening hours "
                                 f"show.opening_hours.{day} = {spans or '[] (closed)'}")
        for j in range(i):
            o = timetable[j]
            c, d = o.span
            common = [x for x in e.days if x in o.days]
            if common and a < d and c < b:
                raise ValueError(f"show.timetable: {e.describe(i)} overlaps {o.describe(j)} on {common[0]}")
