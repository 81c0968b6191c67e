"""One screen of a synchronised show: draws the frame that belongs to a shared time.

``SyncPlayer.frame(T, fbo)`` looks up the slot on at shared time T (``installation.sync_schedule``), makes
sure its media is decoded (the next slot's is decoded ahead on a thread), and draws it: a still, or a
video at exactly ``T - slot.start`` (a follower that joins mid-video decodes forward to that frame; one
ahead of the clock holds its frame), crossfading from the slot before over ``transition_seconds``. The
sound, where this screen plays it, starts with its slot (part-way in when the screen joins late).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from gallery.media import MediaSettings
from installation.layouts import Layout
from installation.media import MediaError, Prepared
from installation.soundview import prepare_item
from installation.sync_schedule import Playlist, Slot

log = logging.getLogger(__name__)


class SyncPlayer:
    def __init__(self, settings: Any, renderer: Any, layout: Layout, audio: Any = None, channel: str = "both",
                 media: Any = None) -> None:
        self.s = settings
        self.r = renderer
        self.layout = layout
        self.audio = audio  # None: this screen is silent
        self.channel = channel
        self.media = media or MediaSettings()  # limits of what the decode thread reads
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-prefetch")
        self.prepared: dict[tuple[str, int], Future] = {}  # (version, slot number) -> Future[Prepared]
        self.loaded: list[tuple[str, int] | None] = [None, None]  # what each renderer slot holds
        self.sounding: dict[tuple[str, int], float] = {}  # slots whose sound is started -> their end
        self.late = 0  # frames whose slot was not decoded in time (the picture before held)
        self.broken: set[int] = set()
        self.errors: list[str] = []
        self.slot: Slot | None = None
        self.frames = 0

    # ---- media ---------------------------------------------------------------------------------------
    def _want(self, version: str, slot: Slot) -> Future:
        key = (version, slot.number)
        fut = self.prepared.get(key)
        if fut is None:
            size = self.layout.canvas
            fut = self.pool.submit(prepare_item, slot.entry, self._rate, size, self.s.fit, self.media)
            self.prepared[key] = fut
        return fut

    @property
    def _rate(self) -> int:
        return getattr(self.audio, "sr", self.s.sample_rate)

    def _ready(self, version: str, slot: Slot, block: bool) -> Prepared | None:
        fut = self._want(version, slot)
        if not block and not fut.done():
            return None
        try:
            return fut.result(timeout=30)
        except MediaError as e:
            if e.entry.artwork_id not in self.broken:
                self.broken.add(e.entry.artwork_id)
                self.errors.append(f"skipped {e}")
                log.warning("sync: %s", e)
            return None

    def _trim(self, keep: set[tuple[str, int]]) -> None:
        for key in [k for k in self.prepared if k not in keep]:
            fut = self.prepared.pop(key)
            fut.add_done_callback(lambda f: f.exception() is None and f.result().close())

    # ---- a frame ---------------------------------------------------------------------------------------
    def frame(self, t: float, fbo: Any, playlist: Playlist, epoch: float, block: bool = True,
              audio_t: float | None = None) -> dict[str, Any]:
        """Draw shared time t into fbo; ``audio_t``: the sound's own timeline at t (a recording's seconds)."""
        v = playlist.version
        slot = playlist.slot_at(epoch, t)
        # the first slot of a programme (its epoch: a change) cuts in; the others cross from the slot before
        prev = playlist.slot(slot.number - 1, epoch) if slot.start > epoch + 1e-6 else None
        nxt = playlist.slot(slot.number + 1, epoch)
        T = self.s.transition_seconds
        in_transition = prev is not None and T > 0 and t - slot.start < T
        keep = {(v, slot.number), (v, nxt.number)} | ({(v, prev.number)} if in_transition and prev else set())
        cur = self._ready(v, slot, block=block)
        self._want(v, nxt)  # decoded ahead
        # every screen draws the same crossing: wait for the slot before (decoded already, unless just joined)
        old = self._ready(v, prev, block=block) if in_transition and prev is not None else None
        self._trim(keep | {k for k in self.loaded if k is not None})
        self.slot = slot
        self.frames += 1
        if cur is None:
            self.late += 1
            shown = [k for k in self.loaded if k is not None and k in self.prepared]
            if not shown:
                fbo.clear(0.0, 0.0, 0.0, 1.0)
                return {"slot": slot.number, "artwork_id": None}
            a = self.loaded.index(shown[-1])
            self.r.draw(fbo, a=a, b=None)
            return {"slot": slot.number, "artwork_id": None}
        a_slot = self._put(v, slot, cur, t)
        if old is not None:
            b_slot = self._put(v, prev, old, t)
            modes = self.s.transitions or ["crossfade"]
            mode = modes[slot.number % len(modes)]
            self.r.draw(fbo, a=b_slot, b=a_slot, t=(t - slot.start) / T, mode=mode)
        else:
            self.r.draw(fbo, a=a_slot, b=None)
        if self.audio is not None:
            self._sound(v, slot, cur, t, t if audio_t is None else audio_t)
        return {"slot": slot.number, "artwork_id": slot.entry.artwork_id}

    def _put(self, v: str, slot: Slot, prep: Prepared, t: float) -> int:
        """The renderer slot holding ``slot``'s picture at t (uploaded when new)."""
        key = (v, slot.number)
        i = slot.number % 2
        if self.loaded[i] != key:
            self.loaded[i] = key
            pic = prep.video.frame_at(max(0.0, t - slot.start))[0] if prep.video is not None else self._still(prep)
            self.r.upload(i, pic, still=prep.video is None)
        elif prep.video is not None:
            pic, new = prep.video.frame_at(max(0.0, t - slot.start), block=True)
            if new:
                self.r.upload(i, pic)
        return i

    def _still(self, prep: Prepared) -> np.ndarray:
        if prep.image is not None:
            return prep.image
        return np.zeros((16, 16, 3), np.uint8)

    def _sound(self, v: str, slot: Slot, prep: Prepared, t: float, at: float) -> None:
        key = (v, slot.number)
        if key in self.sounding or prep.audio is None:
            return
        into = int(round((t - slot.start) * self._rate))
        samples = prep.audio[into:] if into > 0 else prep.audio
        if len(samples) == 0:
            return
        if self.channel != "both":
            samples = samples.copy()
            samples[:, 1 if self.channel == "left" else 0] = 0
        fade = self.s.transition_seconds if into < self._rate * 0.05 else 0.05
        for k in list(self.sounding):
            self.audio.stop(k, at, self.s.transition_seconds)
            del self.sounding[k]
        self.audio.start(key, np.ascontiguousarray(samples), at, fade=fade)
        self.sounding[key] = slot.start + slot.duration

    def close(self) -> None:
        self._trim(set())
        self.pool.shutdown(wait=True)
