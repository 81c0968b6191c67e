"""The show: programme -> prefetch -> renderer + sound, on one timeline.

``Show.frame(t)`` draws the picture for show time ``t`` (seconds) and starts / stops sounds at the same
``t``. Live, ``t`` comes from the monotonic clock (minus paused time); recording and tests step ``t`` by
1/fps, so a recording is exactly what the same programme looks and sounds like.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gallery.media import MediaSettings
from installation.loudness import Leveller, LoudnessCache
from installation.media import MediaError, Prepared
from installation.programme import Entry, Programme
from installation.programmes import Programmes
from installation.render import Renderer
from installation.settings import ShowSettings
from installation.show_programmes import ProgrammeControls
from installation.soundview import SoundPrepared, SoundViews, prepare_item

log = logging.getLogger(__name__)
TIMELINE_ROWS = 10_000  # Show.timeline keeps the last this many items (a day and more of the show)


@dataclass
class Playing:
    prep: Prepared
    start: float  # show time it appeared
    slot: int
    duration: float
    transition: str = "crossfade"
    log: dict = field(default_factory=dict)  # its row of Show.timeline ("end" filled when it leaves)

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def view(self) -> bool:
        """A sound-only work drawn over its playback position (installation.soundview)."""
        return isinstance(self.prep, SoundPrepared) and self.prep.view is not None

    def position(self, t: float) -> float:
        """Seconds into its sound at show time t (the sound started at start + audio_offset)."""
        return t - self.start - self.prep.entry.audio_offset


class Show(ProgrammeControls):
    def __init__(self, settings: ShowSettings, renderer: Renderer, audio: Any, *, source: Any = None,
                 catalogue: Any = None, wall_start: datetime | None = None, live: bool = False,
                 seed: int | None = None, media: MediaSettings | None = None,
                 loudness_cache: Path | None = None) -> None:
        self.s = settings
        self.media = media or MediaSettings()  # limits of what the decode thread reads (media section)
        self.r = renderer
        self.views = SoundViews(renderer)  # sound-only works: piano roll / spectrogram with a playhead
        self.audio = audio
        self.source = source  # CatalogueSource (or anything with due/refresh/last_error)
        self.catalogue = catalogue
        self.live = live
        self.wall_start = wall_start or datetime.now(UTC)
        self.programme = Programme(settings, seed=settings.seed if seed is None else seed)
        self.programmes = Programmes(settings, self.programme.weighted, seed=settings.seed if seed is None else seed)
        self._pending_from: tuple[str, str] = (settings.programme, settings.programme)  # (active, played from)
        self._chosen_from = settings.programme
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self.refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalogue")
        self._refresh: Future | None = None
        self.current: Playing | None = None
        self.incoming: Playing | None = None
        self.pending: Future | None = None
        self.pending_id: int | None = None
        self.show_label = settings.label
        self.errors: list[str] = []
        self.last_error: str | None = None
        self.skipped = 0
        self.items_started = 0
        self.transitions = 0
        self.late = 0  # frames where the next item was not decoded in time
        self.state = "starting"
        self.message: tuple[Any, float] | None = None  # (text or lines, until show time)
        self._skip = False
        self._mode_i = 0
        self._t = 0.0
        self._last_key: tuple | None = None
        self._dirty = True
        self.frames_drawn = 0
        self.idle_frames = 0  # frames that needed no redraw
        self._closed_note: tuple[datetime | None, str] = (None, "")
        self.shown: list[int] = []  # artwork ids started, the last 20
        self._retry: set[int] = set()  # works not found while the media store was unreachable
        self._requeue: set[int] = set()  # pictures waiting for the catalogue to drop their broken sound
        self._bad_blobs: set[str] = set()
        self.paused = False  # set by installation.control.Controller (live pause)
        self.skipped_items: list[dict[str, Any]] = []  # {"artwork_id", "reason"}, the last 20
        # Sound (docs/show.md "Sound"): every sound levelled to show.loudness_target on the prefetch thread
        # (None: off), measured loudness cached per sha256 in memory and in ``loudness_cache`` (a file under
        # data_dir); sounds cross over ``audio_crossfade`` seconds.
        self.leveller = None if settings.loudness_target is None else Leveller(
            settings.loudness_target, settings.loudness_ceiling, LoudnessCache(loudness_cache))
        T = settings.transition_seconds
        self.crossfade = settings.audio_crossfade if settings.audio_crossfade is not None else \
            (T if T > 0 else settings.audio_fade)
        # One row per item started: {"artwork_id", "kind", "start", "end", "sound_id"} in show seconds; "end"
        # is when it has left the screen (its outgoing transition done), None while it is on. Last TIMELINE_ROWS.
        self.timeline: list[dict[str, Any]] = []

    # ---- time -----------------------------------------------------------------------------------
    def wall(self, t: float) -> datetime:
        return self.wall_start + timedelta(seconds=t) if not self.live else datetime.now(UTC)

    # ---- catalogue --------------------------------------------------------------------------------
    def poll_catalogue(self, t: float, block: bool = False) -> None:
        if self.source is None:
            return
        if self._refresh is not None and (block or self._refresh.done()):
            entries, (members, prog_errors) = self._refresh.result()
            self._refresh = None
            self.programme.update(entries)
            for msg in self.programmes.update(members, prog_errors):
                self._error(msg)
            if self.pending is not None and self.pending_id not in self.programme.entries:
                self._drop_pending()  # hidden (or gone) since it was chosen: never shown
            for aid in list(self._retry):
                self.programme.excluded.discard(aid)
                self._retry.discard(aid)
            for aid in list(self._requeue):
                e = self.programme.entries.get(aid)
                if e is not None and (e.audio is None or e.audio.sha256 not in self._bad_blobs):
                    self.programme.excluded.discard(aid)
                    self._requeue.discard(aid)
            if self.source.last_error:
                self._error(self.source.last_error)
        if self._refresh is None and self.source.due(t):
            self._refresh = self.refresher.submit(self._read, t)
            if block:
                self.poll_catalogue(t, block=True)

    # ---- prefetch ----------------------------------------------------------------------------------
    def _queue_next(self, t: float, entry: Entry | None = None) -> None:
        if self.pending is not None:
            self._discard(self.pending)
        now = self.wall(t)
        self._chosen_from = active = self.programmes.active(now)
        if entry is None:
            entry = self.programme.next(now, self._choose)
        self._pending_from = (active, self._chosen_from)
        if entry is not None:
            entry = self.programmes.fit(self._chosen_from, entry)
        self.pending = None if entry is None else self.pool.submit(prepare_item, entry, self.audio_rate,
                                                                    (self.r.width, self.r.height), self.s.fit,
                                                                    self.media, leveller=self.leveller)
        self.pending_id = None if entry is None else entry.artwork_id

    @property
    def audio_rate(self) -> int:
        return getattr(self.audio, "sr", self.s.sample_rate)

    def _discard(self, fut: Future) -> None:
        def closer(f: Future) -> None:
            if not f.cancelled() and f.exception() is None:
                f.result().close()
        fut.add_done_callback(closer)

    def _take_ready(self, t: float, block: bool) -> Prepared | None:
        """A decoded next item, trying further entries past broken ones; None if none ready / none left."""
        for _ in range(max(4, len(self.programme.entries) + 1)):
            if self.pending is None:
                self._queue_next(t)
                if self.pending is None:
                    return None
            if not block and not self.pending.done():
                return None
            fut, self.pending = self.pending, None
            try:
                return fut.result()
            except MediaError as e:
                self._broken(e)
        return None

    def _store_reachable(self) -> bool:
        """Is the media store itself there? (A missing file in a missing store is an outage, not a fault.)"""
        store = getattr(self.catalogue, "store", None)
        if store is None:
            return True
        try:
            return store.blobs.is_dir() and any(store.blobs.iterdir())
        except OSError:
            return False

    def _broken(self, e: MediaError) -> None:
        # A file that vanished while it was being read (the disk went away between the check and the read)
        # fails as "unreadable"; what decides is whether it is there now.
        if (e.reason == "file is missing" or not _exists(e.ref.path)) and not self._store_reachable():
            # The disk or share holding the media is gone (unmounted, moved): hold what is on screen,
            # quarantine nothing, and try the work again after the next catalogue read.
            self.programme.exclude(e.entry.artwork_id)
            self._retry.add(e.entry.artwork_id)
            if self.source is not None:
                self.source.next_read = min(self.source.next_read, self._t + self.s.retry_seconds)
            self._error(f"media store unavailable ({getattr(self.catalogue.store, 'root', '?')}): holding, "
                        f"will retry")
            return
        self.skipped += 1
        self.skipped_items.append({"artwork_id": e.entry.artwork_id, "reason": e.reason})
        del self.skipped_items[:-20]
        self.programme.exclude(e.entry.artwork_id)
        if e.ref.kind == "audio" and e.entry.sound_id != e.entry.artwork_id and self.source is not None:
            # Only its paired sound is broken: once the catalogue is re-read without that sound, the
            # picture comes back (silent, or with another pairing).
            self._requeue.add(e.entry.artwork_id)
            self.source.next_read = 0.0
        self._bad_blobs.add(e.ref.sha256)
        self._error(f"skipped {e}")
        if self.catalogue is not None and self.s.quarantine_broken:
            try:
                self.catalogue.quarantine_media(e.ref.sha256, f"show: {e.reason}")
            except Exception as qe:  # noqa: BLE001 - the show goes on; the error is shown
                self._error(f"could not quarantine {e.ref.sha256[:12]}: {qe}")

    def _error(self, msg: str) -> None:
        log.warning("%s", msg)
        self.last_error = msg
        self.errors.append(msg)
        del self.errors[:-50]

    # ---- starting and ending items ------------------------------------------------------------------
    def _start(self, prep: Prepared, t: float) -> Playing:
        slot = 0 if self.current is None else 1 - self.current.slot
        came_from = self._pending_from[1]
        modes = self.programmes.transitions(came_from)
        mode = modes[self._mode_i % len(modes)]
        self._mode_i += 1
        self.programmes.started(came_from, prep.entry, self.programme.playable(), self.wall(t))
        e = prep.entry
        p = Playing(prep=prep, start=t, slot=slot, duration=e.duration, transition=mode,
                    log={"artwork_id": e.artwork_id, "kind": e.kind, "start": t, "end": None, "sound_id": e.sound_id})
        self.timeline.append(p.log)
        del self.timeline[:-TIMELINE_ROWS]
        if p.view:
            self.views.load(slot, prep.view)  # type: ignore[attr-defined,arg-type]
            self.views.draw(slot, p.position(t))
        else:
            self.r.upload(slot, prep.first_frame(), still=prep.video is None)
        self.invalidate()
        if prep.audio is not None:  # crossing another item: fade in as the other fades out
            self.audio.start(id(p), prep.audio, t, fade=self.crossfade if self.current is not None else 0.0)
        self.items_started += 1
        self.shown.append(prep.entry.artwork_id)
        del self.shown[:-20]
        self._queue_next(t)
        return p

    def _end(self, p: Playing, t: float, fade: float) -> None:
        self.audio.stop(id(p), t, fade)
        p.prep.close()
        if p.log.get("end") is None:
            p.log["end"] = t

    def _stop_all(self, t: float) -> None:
        for p in (self.current, self.incoming):
            if p is not None:
                self._end(p, t, self.s.audio_fade)
        self.current = self.incoming = None

    # ---- staff --------------------------------------------------------------------------------------
    def next_item(self) -> None:
        self._skip = True

    def previous_item(self, t: float) -> None:
        e = self.programme.previous(self.pending_id if self.pending is not None else None)
        if e is not None:
            self._queue_next(t, e)
            self._skip = True

    def toggle_label(self) -> None:
        self.show_label = not self.show_label

    def say(self, text: str | tuple[str, ...], t: float, seconds: float = 3.0) -> None:
        self.message = (text, t + seconds)

    # ---- one frame ----------------------------------------------------------------------------------
    def frame(self, t: float, fbo: Any) -> bool:
        """Advance the show to time t and draw it into fbo; False when the picture has not changed.

        Unchanged frames (a still between transitions, its label steady) are not redrawn: fbo keeps
        the last picture, and a window need not flip. That frees the CPU of a software rasteriser.
        """
        self._t = t
        block = not self.live
        # The first read blocks (so the show opens on works, not on a waiting card); later ones never do live.
        self.poll_catalogue(t, block=block or not self.programme.entries)
        now = self.wall(t)
        if not self.programme.is_open(now):
            return self._closed(t, now, fbo)
        T = self.s.transition_seconds
        if self.current is None:
            prep = self._take_ready(t, block=True)
            if prep is None:
                self.state = "waiting"
                return self._draw_message(fbo, ("Waiting for works", "the catalogue has nothing to show yet"),
                                          0.35, key="waiting")
            self.current = self._start(prep, t)
        cur = self.current
        if self.pending is not None and self._pending_from[0] != self.programmes.active(now):
            self._drop_pending()  # a new programme (timetable, switch): it plays from the next item
        if self.incoming is None and (self._skip or t >= cur.end - T):
            prep = self._take_ready(t, block=block or self._skip)
            if prep is not None:
                self._skip = False
                self.incoming = self._start(prep, t)
                self.audio.stop(id(cur), t, self.crossfade)
            elif t >= cur.end - T:
                self.late += 1  # hold the current item until the next one is decoded
        inc = self.incoming
        if inc is not None and t >= inc.start + T:
            cur.prep.close()
            cur.log["end"] = t
            self.current, self.incoming = inc, None
            self.transitions += 1
            cur, inc = self.current, None
        self.state = "playing"
        for p in (cur, inc):
            if p is not None and p.prep.video is not None:
                frame, new = p.prep.video.frame_at(t - p.start, block=block)
                if new:
                    self.r.upload(p.slot, frame)
                    self.invalidate()
            elif p is not None and p.view and inc is not None and self.views.draw(p.slot, p.position(t)):
                self.invalidate()  # in a transition a sound view is drawn into its slot; its playhead moved
        texts = self._texts(t, cur, inc)
        if inc is not None:
            prog = (t - inc.start) / T if T > 0 else 1.0
            return self._present(fbo, ("play", id(cur), id(inc), round(prog, 4), _alphas(texts)),
                                 a=cur.slot, b=inc.slot, t=prog, mode=inc.transition, texts=texts)
        if cur.view:  # alone on screen: drawn straight into the frame (no copy through its slot)
            pos = self.views.at(cur.slot, cur.position(t))
            return self._present(fbo, ("view", id(cur), pos, _alphas(texts)), view=(cur.slot, pos), a=None,
                                 b=None, texts=texts, keep=True)
        return self._present(fbo, ("play", id(cur), None, 0.0, _alphas(texts)), a=cur.slot, b=None, t=0.0,
                             texts=texts)

    def invalidate(self) -> None:
        """Draw the next frame even if nothing the show tracks has changed (new pixels in a texture)."""
        self._dirty = True

    def _present(self, fbo: Any, key: tuple, view: tuple[int, float] | None = None, **draw: Any) -> bool:
        full = (key, id(fbo), tuple(sorted((n, v[3]) for n, v in self.r.texts.items())))
        if full == self._last_key and not self._dirty:
            self.idle_frames += 1
            return False
        self._last_key, self._dirty = full, False
        if view is not None:  # (slot, playback position): a sound view drawn into fbo itself
            self.views.draw(*view, fbo=fbo)
        self.r.draw(fbo, **draw)
        self.frames_drawn += 1
        return True

    def _texts(self, t: float, cur: Playing, inc: Playing | None) -> dict[str, tuple[float, str]]:
        texts: dict[str, tuple[float, str]] = {}
        if self.show_label and inc is None:
            self.r.set_text("label", cur.prep.entry.label)
            texts["label"] = (self._label_alpha(t - cur.start, cur.duration), "label")
        if self.message is not None:
            text, until = self.message
            if t < until:
                self.r.set_text("message", text if isinstance(text, tuple) else (text,))
                texts["message"] = (1.0, "centre")
            else:
                self.message = None
        return texts

    def _label_alpha(self, age: float, duration: float) -> float:
        T, fade, stay = self.s.transition_seconds, self.s.label_fade, self.s.label_seconds
        start = T + 0.5
        stay = min(stay, max(0.0, duration - start - 2 * fade - T))
        if age < start:
            return 0.0
        if fade <= 0:
            return 1.0 if age < start + stay else 0.0
        return float(max(0.0, min(1.0, (age - start) / fade, (start + fade + stay + fade - age) / fade)))

    def _closed(self, t: float, now: datetime, fbo: Any) -> None:
        if self.state != "closed":
            self._stop_all(t)
            if self.pending is not None:
                self._discard(self.pending)
                self.pending = None
            self.state = "closed"
        if self.s.closed_screen == "blank":
            return self._present(fbo, ("blank",), a=None, b=None)
        minute = now.replace(second=0, microsecond=0)
        if self._closed_note[0] != minute:  # the next opening, worked out once a minute
            nxt = self.programme.next_opening(now)
            self._closed_note = (minute, f"Closed · opens {nxt:%A %H:%M}" if nxt is not None else "Closed")
        return self._draw_message(fbo, (self._closed_note[1],), 0.5, key="closed")

    def _draw_message(self, fbo: Any, lines: tuple[str, ...], alpha: float, key: str) -> bool:
        self.r.set_text("message", lines, colour=(200, 200, 200))
        return self._present(fbo, (key, alpha), a=None, b=None, texts={"message": (alpha, "centre")})

    # ---- status -------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        cur = self.current
        item = None
        if cur is not None:
            e = cur.prep.entry
            item = {"artwork_id": e.artwork_id, "kind": e.kind, "title": e.title, "started_s": round(cur.start, 2),
                    "duration_s": e.duration, "sound_id": e.sound_id}
        return {"state": self.state, "show_time_s": round(self._t, 2), "item": item,
                "programme": self.programmes.active(self.wall(self._t)),
                "known_works": len(self.programme.entries), "playable": len(self.programme.playable()),
                "items_started": self.items_started, "recent_items": self.shown[-10:], "transitions": self.transitions, "skipped": self.skipped,
                "late_frames": self.late, "frames_drawn": self.frames_drawn, "idle_frames": self.idle_frames, "last_error": self.last_error, "recent_errors": self.errors[-5:],
                "catalogue_error": getattr(self.source, "last_error", None),
                "gl_textures": self.r.live_textures, **self._remote_status()}

    def _remote_status(self) -> dict[str, Any]:
        """What the control API reports beside the rest (installation.api)."""
        inc = self.incoming
        on = inc or self.current  # the work coming in during a transition
        left = None if on is None or self.state != "playing" else round(max(0.0, on.end - self._t), 2)
        incoming = None if inc is None else {"artwork_id": inc.prep.entry.artwork_id, "kind": inc.prep.entry.kind,
                                             "title": inc.prep.entry.title, "started_s": round(inc.start, 2)}
        return {"time_left_s": left, "paused": self.paused, "skipped_items": list(self.skipped_items),
                "incoming": incoming}

    def close(self) -> None:
        self._stop_all(self._t)
        self.views.release()
        if self.pending is not None:
            self._discard(self.pending)
            self.pending = None
        self.pool.shutdown(wait=True)
        self.refresher.shutdown(wait=True)


def _exists(path: Any) -> bool:
    try:
        return Path(path).exists()
    except OSError:
        return False


def _alphas(texts: dict[str, tuple[float, str]]) -> tuple:
    return tuple(sorted((n, round(a, 3)) for n, (a, _) in texts.items()))


def run_frames(show: Show, fbo: Any, seconds: float, fps: float,
               each: Callable[[int, float], None] | None = None) -> int:
    """Drive a show on a frame clock (t = i / fps) for ``seconds``; returns the number of frames."""
    n = int(round(seconds * fps))
    for i in range(n):
        t = i / fps
        show.frame(t, fbo)
        if each is not None:
            each(i, t)
    return n


def monotonic() -> float:
    return time.monotonic()
