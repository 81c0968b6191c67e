"""The schedule of a synchronised show as a pure function of (playlist, epoch, shared time).

No screen tells another what it plays: each reads the same catalogue, orders the programme's works the
same way (``playlist``), checks it has the version the leader announced, and works out from the shared
clock which item is on and how far into it (``slot_at``). Nothing is exchanged per frame.

In a group layout slot k holds the items k*n .. k*n+n-1 (n screens in the group); screen i shows the
i-th, and the slot lasts as long as the longest of them (a shorter video holds its last frame).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from installation.programme import Entry


def ordered(items: Sequence[Entry], policy: str, seed: int | None) -> list[Entry]:
    """A programme's items in the one order every screen computes (no draw depends on what played)."""
    items = list(items)
    if policy == "shuffle":
        rng = random.Random(0 if seed is None else seed)
        rng.shuffle(items)
    elif policy == "balanced":  # the kinds in turn, each kind in the source's order
        by_kind: dict[str, list[Entry]] = {}
        for e in items:
            by_kind.setdefault(e.kind, []).append(e)
        queues = [by_kind[k] for k in sorted(by_kind)]
        out: list[Entry] = []
        while any(queues):
            for q in queues:
                if q:
                    out.append(q.pop(0))
        items = out
    return items  # curated (the source's order) and weighted (newest first: a draw would differ per screen)


def version(programme: str, items: Sequence[Entry]) -> str:
    """A change id of a playlist: every screen with the same works in the same order gets the same one."""
    key = json.dumps([programme, [(e.artwork_id, round(e.duration, 3), e.visual.sha256[:16]) for e in items]])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Slot:
    number: int  # slots since the epoch (counting whole passes)
    start: float  # shared time it began
    duration: float
    entry: Entry  # what this screen shows in it
    members: tuple[int, ...]  # the artwork ids of the whole group (one for mirror and span)


class Playlist:
    def __init__(self, programme: str, items: Sequence[Entry], group: tuple[int, int] = (0, 1)) -> None:
        self.programme = programme
        self.items = list(items)
        self.version = version(programme, self.items)
        self.index, self.n = group
        L = len(self.items)
        self.slots = (L * self.n // math.gcd(L, self.n)) // self.n if L else 0  # slots in one whole pass
        self.durations = [max(self.items[(k * self.n + j) % L].duration for j in range(self.n))
                          for k in range(self.slots)]
        self.starts = [0.0]
        for d in self.durations:
            self.starts.append(self.starts[-1] + d)
        self.total = self.starts[-1]

    def __bool__(self) -> bool:
        return bool(self.items)

    def slot(self, number: int, epoch: float) -> Slot:
        cycle, k = divmod(number, self.slots)
        L = len(self.items)
        members = tuple(self.items[(k * self.n + j) % L].artwork_id for j in range(self.n))
        return Slot(number, epoch + cycle * self.total + self.starts[k], self.durations[k],
                    self.items[(k * self.n + self.index) % L], members)

    def slot_at(self, epoch: float, t: float) -> Slot:
        """The slot on at shared time t (t may be before the epoch: passes count backwards)."""
        cycle = math.floor((t - epoch) / self.total)
        r = (t - epoch) - cycle * self.total
        k = min(bisect.bisect_right(self.starts, r) - 1, self.slots - 1)
        return self.slot(cycle * self.slots + k, epoch)


def default_epoch(shared: float, timezone: str) -> float:
    """Local midnight of the day of ``shared`` (every leader started that day picks the same epoch)."""
    from zoneinfo import ZoneInfo

    local = datetime.fromtimestamp(shared, UTC).astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def playlists(programmes: Any, pool: list[Entry], shared: float, group: tuple[int, int]) -> dict[str, Playlist]:
    """Every programme's playlist from one catalogue read (``installation.programmes.Programmes``)."""
    now = datetime.fromtimestamp(shared, UTC)
    out: dict[str, Playlist] = {}
    for name, spec in programmes.specs.items():
        items = programmes.items(name, pool, now)
        if not items:
            continue
        seed = spec.seed if spec.seed is not None else programmes.seed
        out[name] = Playlist(name, [programmes.fit(name, e) for e in ordered(items, spec.policy, seed)], group)
    return out
