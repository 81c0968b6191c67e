"""What to show next: pure logic over what the catalogue holds (no GL, no sound, no real clock).

``Programme`` is fed ``Entry`` lists (by ``CatalogueSource`` in the show, by hand in tests) and asked
``next(now)``. Rules: opening hours per weekday; works created within ``fresh_hours`` first (newest
first, once each); then kinds drawn by weight; no artwork repeats within ``no_repeat`` items (relaxed
when there are fewer works); hidden / quarantined / broken works never shown.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from catalogue.models import SOUND_KINDS, STILL_KINDS, VIDEO_KINDS
from installation.settings import WEEKDAYS, ShowSettings, parse_span

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class MediaRef:
    path: Path
    sha256: str
    kind: str  # "image" | "video" | "audio"


@dataclass(frozen=True)
class Entry:
    """One playable item: a visual (image or video), maybe a sound, and its label text."""

    artwork_id: int
    kind: str
    title: str
    created: datetime  # naive UTC, as the catalogue stores it
    duration: float  # seconds on screen
    visual: MediaRef
    audio: MediaRef | None = None
    sound_id: int | None = None
    audio_offset: float = 0.0  # seconds after the picture appears that the sound starts (pairing timeline)
    label: tuple[str, ...] = ()
    status: str = "ok"
    score: MediaRef | None = None  # a melody's notes (its MIDI), drawn as a scrolling piano roll


@dataclass
class Programme:
    settings: ShowSettings
    seed: int = 0
    entries: dict[int, Entry] = field(default_factory=dict)
    excluded: set[int] = field(default_factory=set)  # broken while showing: never again this run
    history: list[int] = field(default_factory=list)
    _recent: deque[int] = field(default_factory=deque)
    _fresh_done: set[int] = field(default_factory=set)
    _back: list[int] = field(default_factory=list)  # items stepped back over with previous()

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.tz = ZoneInfo(self.settings.timezone)
        self.hours = {d: [parse_span(s) for s in spans] for d, spans in self.settings.opening_hours.items()}

    # ---- what is known ---------------------------------------------------------------------
    def update(self, entries: Sequence[Entry]) -> None:
        """Replace what the programme knows (new works join, hidden ones leave at once)."""
        self.entries = {e.artwork_id: e for e in entries if e.status == "ok"}

    def exclude(self, artwork_id: int) -> None:
        self.excluded.add(artwork_id)

    def playable(self) -> list[Entry]:
        return [e for i, e in self.entries.items() if i not in self.excluded
                and self.settings.weights.get(e.kind, 1.0) > 0]

    # ---- opening hours ---------------------------------------------------------------------
    def is_open(self, now: datetime) -> bool:
        local = _aware(now).astimezone(self.tz)
        day = WEEKDAYS[local.weekday()]
        if day not in self.hours:
            return True
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.hours[day])

    def next_opening(self, now: datetime) -> datetime | None:
        """When the show next opens (local time), or None when no day has opening hours."""
        local = _aware(now).astimezone(self.tz).replace(second=0, microsecond=0)
        for step in range(0, 8 * 24 * 60, 15):
            t = local + timedelta(minutes=step)
            if self.is_open(t):
                return t
        return None

    # ---- choosing --------------------------------------------------------------------------
    def next(self, now: datetime,
             choose: Callable[[list[Entry], datetime], Entry | None] | None = None) -> Entry | None:
        """The next item to show, or None when nothing is playable.

        ``choose(pool, now)`` picks from the playable pool (a programme's policy); default: ``weighted``.
        """
        while self._back:
            e = self._pick_id(self._back.pop())
            if e is not None:
                return e
        pool = self.playable()
        if not pool:
            return None
        choice = (choose or self.weighted)(pool, now)
        if choice is None:
            return None
        self._shown(choice)
        return choice

    def weighted(self, pool: list[Entry], now: datetime) -> Entry:
        """Last night's works first (newest first, once each), then kinds drawn by weight."""
        fresh = self._fresh(pool, now)
        if fresh:
            self._fresh_done.add(fresh[0].artwork_id)
            return fresh[0]
        return self._weighted(pool)

    def previous(self, prefetched: int | None = None) -> Entry | None:
        """Step back: the item before the current one (the current one is queued to come back next).

        ``prefetched``: an item already chosen (decoded ahead) but not yet shown; it comes after.
        """
        if prefetched is not None and self.history and self.history[-1] == prefetched:
            self._back.append(self.history.pop())
        if len(self.history) < 2:
            return None
        cur = self.history.pop()
        prev = self.history.pop()
        self._back.append(cur)
        e = self._pick_id(prev)
        return e

    def _pick_id(self, aid: int) -> Entry | None:
        e = self.entries.get(aid)
        if e is None or aid in self.excluded:
            return None
        self._shown(e)
        return e

    def _shown(self, e: Entry) -> None:
        self.history.append(e.artwork_id)
        del self.history[:-1000]
        self._recent.append(e.artwork_id)
        while len(self._recent) > self.settings.no_repeat:
            self._recent.popleft()

    def _fresh(self, pool: list[Entry], now: datetime) -> list[Entry]:
        if self.settings.fresh_hours <= 0:
            return []
        cutoff = _aware(now).astimezone(UTC).replace(tzinfo=None) - timedelta(hours=self.settings.fresh_hours)
        fresh = [e for e in pool if e.created >= cutoff and e.artwork_id not in self._fresh_done]
        return sorted(fresh, key=lambda e: (e.created, e.artwork_id), reverse=True)

    def _weighted(self, pool: list[Entry]) -> Entry:
        # The no-repeat window shrinks to what the pool allows (a catalogue of 3 works cycles through 3).
        window = min(self.settings.no_repeat, len(pool) - 1)
        recent = set(list(self._recent)[-window:]) if window > 0 else set()
        eligible = [e for e in pool if e.artwork_id not in recent] or pool
        by_kind: dict[str, list[Entry]] = {}
        for e in eligible:
            by_kind.setdefault(e.kind, []).append(e)
        kinds = sorted(by_kind)
        weights = [self.settings.weights.get(k, 1.0) for k in kinds]
        kind = self.rng.choices(kinds, weights=weights)[0]
        items = by_kind[kind]
        # Within a kind: the least recently shown first (never shown = oldest), ties at random.
        last = {aid: i for i, aid in enumerate(self.history)}
        oldest = min(last.get(e.artwork_id, -1) for e in items)
        return self.rng.choice([e for e in items if last.get(e.artwork_id, -1) == oldest])


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


# ---- reading the catalogue ------------------------------------------------------------------
def _offset(timeline: Any) -> float:
    try:
        v = float((timeline or {}).get("offset", 0.0))
    except (TypeError, ValueError, AttributeError):
        return 0.0
    return v if abs(v) < 3600 else 0.0


def duration_for(settings: ShowSettings, kind: str, own: float | None) -> float:
    if kind in VIDEO_KINDS or (own and kind not in STILL_KINDS):
        d = own or settings.durations.get(kind, settings.default_duration)
    else:
        d = settings.durations.get(kind, settings.default_duration)
    return float(min(max(d, 2 * settings.transition_seconds + 0.5), settings.max_item_seconds))


def label_lines(art: Any) -> tuple[str, ...]:
    """Museum label: the title, then ``artist · year · medium`` where a curator wrote them; else kind and
    date, and a short recipe summary."""
    title = art.title or f"Untitled {art.kind}"  # never "#6" on a wall
    credit = " · ".join(str(v) for v in (getattr(art, k, None) for k in ("artist", "year", "medium")) if v)
    if credit:
        return (title, credit)
    r = art.recipe or {}
    bits = []
    for key in ("generator", "prompt", "prompts", "seed", "seeds", "steps", "iterations", "truncation"):
        if key in r:
            v = r[key]
            if isinstance(v, list):
                v = ", ".join(str(x) for x in v[:3]) + (" …" if len(v) > 3 else "")
            bits.append(f"{key} {v}")
    return (title, f"{art.kind} · {art.created:%d %B %Y}", " · ".join(bits)[:120])


class CatalogueSource:
    """Turns catalogue rows into entries; on a failed read keeps the last good list and retries later.

    Reads are incremental: each refresh asks for the ids, kinds and titles of the works that may play
    and the current pairings (cheap), and builds entries only for works that are new, retitled or
    re-paired. Works hidden or quarantined since the last read drop out.
    """

    def __init__(self, catalogue: Any, settings: ShowSettings, chunk: int = 500) -> None:
        self.catalogue = catalogue
        self.settings = settings
        self.chunk = chunk
        self.known: list[Entry] = []
        self.last_error: str | None = None
        self.next_read = 0.0  # monotonic time of the next attempt
        self.built = 0  # entries built from full rows so far (the rest came from the cache)
        self._cache: dict[int, tuple[tuple, Entry | None]] = {}

    def due(self, mono: float) -> bool:
        return mono >= self.next_read

    def refresh(self, mono: float) -> list[Entry]:
        try:
            self.known = self.read()
            self.last_error = None
            self.next_read = mono + self.settings.refresh_seconds
        except Exception as e:  # noqa: BLE001 - locked, moved, disk gone: keep showing what we know
            self.last_error = f"catalogue unavailable: {type(e).__name__}: {e}"
            log.warning("%s (showing %d known works, retry in %.0f s)", self.last_error, len(self.known),
                        self.settings.retry_seconds)
            self.next_read = mono + self.settings.retry_seconds
        return self.known

    def read(self) -> list[Entry]:
        from sqlalchemy import select

        from catalogue.models import Artwork, Pairing

        with self.catalogue.read() as s:
            # (kind, what the entry is built from: its label's fields and created, which tells a reused id apart)
            ok = {i: (kind, tuple(label)) for i, kind, *label in s.execute(
                select(Artwork.id, Artwork.kind, Artwork.title, Artwork.artist, Artwork.year, Artwork.medium,
                       Artwork.created).where(Artwork.status == "ok")).all()}
            pairs = s.execute(select(Pairing.visual_id, Pairing.sound_id, Pairing.timeline)
                              .order_by(Pairing.created.desc(), Pairing.id.desc())).all()
            sound_for: dict[int, int] = {}  # visual -> its newest playable sound
            offsets: dict[int, float] = {}
            for vid, sid, timeline in pairs:
                if vid in ok and sid in ok and vid not in sound_for:
                    sound_for[vid] = sid
                    offsets[vid] = _offset(timeline)
            paired = set(sound_for.values())
            wanted = {i for i, (kind, _) in ok.items() if not (kind in SOUND_KINDS and i in paired)}
            stale = sorted(i for i in wanted
                           if i not in self._cache or self._cache[i][0] != (ok[i][1], sound_for.get(i)))
            need = sorted(set(stale) | {sound_for[i] for i in stale if i in sound_for})
            rows: dict[int, Any] = {}
            for k in range(0, len(need), self.chunk):
                rows.update({a.id: a for a in s.scalars(select(Artwork).where(
                    Artwork.id.in_(need[k:k + self.chunk])))})
        for i in stale:
            a = rows.get(i)
            if a is None:  # removed between the two queries: next time
                continue
            sound = rows.get(sound_for[i]) if i in sound_for else None
            e = self._entry(a, sound)
            if e is not None and e.audio is not None and i in offsets:
                e = replace(e, audio_offset=offsets[i])
            self._cache[i] = ((ok[i][1], sound_for.get(i)), e)
            self.built += 1
        self._cache = {i: v for i, v in self._cache.items() if i in wanted}
        return [e for _, e in self._cache.values() if e is not None]

    def _ref(self, m: Any, kind: str) -> MediaRef:
        return MediaRef(path=self.catalogue.media_path(m), sha256=m.sha256, kind=kind)

    def _entry(self, a: Any, sound: Any) -> Entry | None:
        live = [m for m in a.media if not m.broken]
        first: Callable[..., Any] = lambda *roles: next((m for r in roles for m in live if m.role == r), None)  # noqa: E731
        audio = None
        sound_id = None
        score = None
        if a.kind in SOUND_KINDS:
            v = first("spectrogram", "pianoroll", "thumbnail")
            am = first("audio")
            if v is None or am is None:
                return None
            visual = self._ref(v, "image")
            audio = self._ref(am, "audio")
            sound_id = a.id
            own = a.duration or am.duration
            score = first("midi") if a.kind == "melody" else None
        else:
            vm = first("video")
            if vm is not None:
                visual = self._ref(vm, "video")
            else:
                im = first("image", "poster")
                if im is None:
                    return None
                visual = self._ref(im, "image")
            own = a.duration or (vm.duration if vm is not None else None)
            if sound is not None:
                sm = next((m for m in sound.media if m.role == "audio" and not m.broken), None)
                if sm is not None:
                    audio = self._ref(sm, "audio")
                    sound_id = sound.id
        return Entry(artwork_id=a.id, kind=a.kind, title=a.title or f"Untitled {a.kind}", created=a.created,
                     duration=duration_for(self.settings, a.kind, own), visual=visual, audio=audio,
                     sound_id=sound_id, label=label_lines(a), status=a.status,
                     score=None if score is None else self._ref(score, "midi"))
