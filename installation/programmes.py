"""Programmes: which works a screen plays now, in which order, how long stills and sounds hold.

A programme (``show.programmes``) has a source (a set, a saved query, works made since a date, or all
works), an order policy and hold caps. ``Programmes`` picks the programme that applies (a remote
switch, else the weekly timetable, else ``show.programme``), keeps the members of the set / query
programmes as read from the catalogue, and chooses the next entry from what the show may play (hidden,
quarantined and broken works are never in that pool). Pure logic but for ``resolve`` (catalogue reads,
on the show's catalogue thread) and ``check_catalogue`` (`gallery config check`).

Policies only *peek* at the next entry; they advance when the show starts it (``started``), so an item
decoded ahead and dropped at a programme change leaves its programme where it was.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from catalogue.models import SOUND_KINDS, STILL_KINDS
from gallery.errors import BadInput
from installation.programme import Entry
from installation.programme_settings import ALL, ProgrammeSpec, parse_since
from installation.settings import WEEKDAYS, ShowSettings

log = logging.getLogger(__name__)


def newest_first(entries: Iterable[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.created, e.artwork_id), reverse=True)


def in_order(pool: Iterable[Entry], ids: list[int]) -> list[Entry]:
    """The pool's entries in the order of ``ids`` (a sound paired to a picture plays as that picture)."""
    by_id: dict[int, Entry] = {}
    by_sound: dict[int, Entry] = {}
    for e in pool:
        by_id[e.artwork_id] = e
        if e.sound_id is not None and e.sound_id != e.artwork_id:
            by_sound.setdefault(e.sound_id, e)
    out: list[Entry] = []
    seen: set[int] = set()
    for i in ids:
        e = by_id.get(i) or by_sound.get(i)
        if e is not None and e.artwork_id not in seen:
            seen.add(e.artwork_id)
            out.append(e)
    return out


# ---- order policies: peek at the next of an ordered list, advance when it starts -------------------
class Curated:
    """The list's order, round and round; after a change of the list, on after the last one shown."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.pos = -1

    def peek(self, items: list[Entry]) -> Entry:
        ids = [e.artwork_id for e in items]
        i = ids.index(self.last) + 1 if self.last in ids else self.pos
        return items[i % len(items)] if i >= 0 else items[0]

    def started(self, e: Entry, items: list[Entry]) -> None:
        ids = [x.artwork_id for x in items]
        if e.artwork_id in ids:
            self.last, self.pos = e.artwork_id, ids.index(e.artwork_id)


class Shuffle:
    """Seeded: each pass plays every member once in an order drawn from the seed; the same seed and
    members give the same order. A new pass is shuffled again (never opening with the last one)."""

    def __init__(self, seed: int | None) -> None:
        self.rng = random.Random(seed)
        self.order: list[int] = []
        self.played: set[int] = set()
        self.last: int | None = None

    def peek(self, items: list[Entry]) -> Entry:
        by_id = {e.artwork_id: e for e in items}
        for _ in range(2):
            for i in self.order:
                if i in by_id and i not in self.played:
                    return by_id[i]
            self._new_pass(sorted(by_id))
        return items[0]

    def _new_pass(self, ids: list[int]) -> None:
        self.rng.shuffle(ids)
        if len(ids) > 1 and ids[0] == self.last:
            ids.append(ids.pop(0))
        self.order, self.played = ids, set()

    def started(self, e: Entry, items: list[Entry]) -> None:
        self.played.add(e.artwork_id)
        self.last = e.artwork_id


class Balanced:
    """Kinds in turn (round-robin over the kinds present, in a fixed order), each kind's works in the
    source's order. With k kinds, any N items in a row hold each kind floor(N/k) or ceil(N/k) times:
    no kind exceeds its fair share N/k by more than one. A kind with few works comes back more often."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.per_kind: dict[str, Curated] = {}

    def peek(self, items: list[Entry]) -> Entry:
        kinds = sorted({e.kind for e in items})
        nxt = next((k for k in kinds if self.kind is None or k > self.kind), kinds[0])
        of_kind = [e for e in items if e.kind == nxt]
        return self.per_kind.setdefault(nxt, Curated()).peek(of_kind)

    def started(self, e: Entry, items: list[Entry]) -> None:
        self.kind = e.kind
        self.per_kind.setdefault(e.kind, Curated()).started(e, [x for x in items if x.kind == e.kind])


# ---- the programmes of a show ------------------------------------------------------------------------
@dataclass
class Programmes:
    settings: ShowSettings
    weighted: Callable[[list[Entry], datetime], Entry]  # today's draw (Programme.weighted)
    seed: int | None = None
    forced: str | None = None  # a remote / staff switch, until switched back with None
    members: dict[str, list[int]] = field(default_factory=dict)  # set / query programmes: ids in order
    errors: dict[str, str] = field(default_factory=dict)  # set / query programmes that cannot be read
    policies: dict[str, Any] = field(default_factory=dict)
    fallback: str | None = None  # the programme played instead when the active one has nothing to play

    def __post_init__(self) -> None:
        self.specs: dict[str, ProgrammeSpec] = {ALL: ProgrammeSpec(), **self.settings.programmes}
        self.tz = ZoneInfo(self.settings.timezone)

    def names(self) -> list[str]:
        return sorted(self.specs)

    def switch(self, name: str | None) -> None:
        if name is not None and name not in self.specs:
            raise BadInput(f"unknown programme {name!r} (known: {', '.join(self.names())})")
        self.forced = name

    def active(self, now: datetime) -> str:
        """The programme that applies at ``now``: the switched one, else the timetable's, else the default."""
        if self.forced is not None:
            return self.forced
        local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(self.tz)
        day, minute = WEEKDAYS[local.weekday()], local.hour * 60 + local.minute
        for e in self.settings.timetable:
            a, b = e.span
            if day in e.days and a <= minute < b:
                return e.programme
        return self.settings.programme

    def wanted(self, now: datetime) -> set[str]:
        """Programmes whose members a catalogue read should fetch: those the timetable, the default
        and a switch can make active (set and query programmes only)."""
        names = {self.settings.programme, self.active(now), *(e.programme for e in self.settings.timetable)}
        return {n for n in names if self.specs[n].source[0] in ("set", "query")}

    def needs_read(self, name: str) -> bool:
        return self.specs[name].source[0] in ("set", "query") and name not in self.members \
            and name not in self.errors

    # ---- reading (the show's catalogue thread) -------------------------------------------------------
    def resolve(self, catalogue: Any, names: Iterable[str]) -> tuple[dict[str, list[int]], dict[str, str]]:
        members: dict[str, list[int]] = {}
        errors: dict[str, str] = {}
        for n in sorted(names):
            kind, ref = self.specs[n].source
            if catalogue is None:
                errors[n] = f"programme {n!r}: no catalogue to read its {kind} from"
                continue
            try:
                members[n] = set_ids(catalogue, ref) if kind == "set" else query_ids(catalogue, ref)
            except Exception as e:  # noqa: BLE001 - a missing set or query: the programme falls back
                errors[n] = f"programme {n!r}: {e}"
        return members, errors

    def update(self, members: dict[str, list[int]], errors: dict[str, str]) -> list[str]:
        """Take a read's members and errors; returns the errors that are new."""
        for n, ids in members.items():
            self.members[n] = ids
            self.errors.pop(n, None)
        new = [msg for n, msg in errors.items() if self.errors.get(n) != msg]
        for n, msg in errors.items():
            self.errors[n] = msg
            self.members.pop(n, None)
        return new

    # ---- choosing ------------------------------------------------------------------------------------
    def items(self, name: str, pool: list[Entry], now: datetime) -> list[Entry] | None:
        """The playable entries of a programme in its source order; None while its members are unread."""
        kind, ref = self.specs[name].source
        if kind == ALL:
            return newest_first(pool)
        if kind == "since":
            cut = parse_since(ref, now, self.settings.timezone)
            return newest_first(e for e in pool if e.created >= cut)
        if name not in self.members:
            return [] if name in self.errors else None
        return in_order(pool, self.members[name])

    def choose(self, pool: list[Entry], now: datetime) -> tuple[str, Entry | None]:
        """(programme it came from, the next entry); the active programme, else (nothing playable in
        it) the default, else all works. (name, None) while the active programme's members are unread."""
        active = self.active(now)
        for name in dict.fromkeys((active, self.settings.programme, ALL)):
            items = self.items(name, pool, now)
            if items is None:
                return name, None
            if items:
                if name != active and self.fallback != active:
                    log.warning("programme %r has nothing to play: playing %r", active, name)
                self.fallback = active if name != active else None
                return name, self._peek(name, items, now)
        return active, None

    def _peek(self, name: str, items: list[Entry], now: datetime) -> Entry:
        spec = self.specs[name]
        if spec.policy == "weighted":
            return self.weighted(items, now)
        if name not in self.policies:
            seed = spec.seed if spec.seed is not None else self.seed
            self.policies[name] = {"curated": Curated, "balanced": Balanced}.get(spec.policy, lambda: Shuffle(seed))()
        return self.policies[name].peek(items)

    def started(self, name: str, e: Entry, pool: list[Entry], now: datetime) -> None:
        """An entry of programme ``name`` went on screen: its policy moves on."""
        pol = self.policies.get(name)
        if pol is not None:
            pol.started(e, self.items(name, pool, now) or [e])

    def fit(self, name: str, e: Entry) -> Entry:
        """The entry with the programme's hold caps applied (a still, a sound-only work)."""
        spec = self.specs.get(name, self.specs[ALL])
        sound_only = e.kind in SOUND_KINDS and e.sound_id == e.artwork_id
        cap = spec.still_seconds if e.kind in STILL_KINDS else spec.sound_seconds if sound_only else None
        if cap is None or e.duration <= cap:
            return e
        return replace(e, duration=max(cap, 2 * self.settings.transition_seconds + 0.5))

    def transitions(self, name: str) -> list[str]:
        spec = self.specs.get(name)
        return (spec.transitions if spec is not None else None) or self.settings.transitions


def only_programme(settings: ShowSettings, name: str) -> ShowSettings:
    """The settings of a run that plays programme ``name`` whatever the timetable says (`--programme`)."""
    known = sorted({ALL, *settings.programmes})
    if name not in known:
        raise BadInput(f"--programme {name!r}: unknown programme (known: {', '.join(known)})")
    return settings.model_copy(update={"programme": name, "timetable": []})


# ---- reading sets and saved queries --------------------------------------------------------------------
def find_set(s: Any, ref: int | str) -> Any:
    """The collection ``ref`` names (an id, or an exact title) in session ``s``; BadInput if none or several."""
    from sqlalchemy import select

    from catalogue.models import Collection

    if isinstance(ref, int):
        c = s.get(Collection, ref)
        if c is None:
            raise BadInput(f"no set with id {ref}")
        return c
    found = list(s.scalars(select(Collection).where(Collection.title == ref)))
    if not found:
        raise BadInput(f"no set titled {ref!r}")
    if len(found) > 1:
        raise BadInput(f"{len(found)} sets are titled {ref!r} (name it by id: {', '.join(str(c.id) for c in found)})")
    return found[0]


def set_ids(catalogue: Any, ref: int | str) -> list[int]:
    """The artwork ids of a set in its curated order (CollectionItem.position)."""
    with catalogue.read() as s:
        c = find_set(s, ref)
        return [it.artwork_id for it in sorted(c.items, key=lambda it: (it.position, it.id))]


def query_ids(catalogue: Any, name: str) -> list[int]:
    from installation.hooks import resolve_query

    return list(resolve_query(catalogue, name))


def check_catalogue(settings: ShowSettings, catalogue: Any) -> list[str]:
    """What `gallery config check` says about the programmes against the catalogue: each programme
    naming a set or saved query that does not exist (one line each; [] when all is well)."""
    from sqlalchemy import select

    from catalogue.models import SavedQuery

    problems: list[str] = []
    with catalogue.read() as s:
        for name, spec in sorted(settings.programmes.items()):
            kind, ref = spec.source
            if kind == "set":
                try:
                    find_set(s, ref)
                except BadInput as e:
                    problems.append(f"show.programmes.{name}: {e}")
            elif kind == "query" and s.scalar(select(SavedQuery.id).where(SavedQuery.name == ref)) is None:
                problems.append(f"show.programmes.{name}: saved query {ref!r} does not exist")
    return problems
