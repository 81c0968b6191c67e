"""Sound on the show's timeline: one open pygame.mixer stream live, or a mixed track when recording.

Both take the same calls from the show, with times on the show's one timeline:
``start(key, samples, t, fade)`` when a visual appears (fading in over ``fade`` s when it crosses another),
``stop(key, t, fade)`` when it starts to leave (fading out over ``fade`` s, at least ``MIN_FADE``; live, at
least 8 mixer buffers, as SDL_mixer steps its fades once a buffer).
Fades are linear in both mixers (pygame.mixer's own are): an outgoing and an incoming sound's gains sum to
one, so two sounds each under the leveller's ceiling never clip while they cross.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)
MIN_FADE = 0.005  # a sound stopped "at once" still ramps down over 5 ms (no click)


class RecordAudio:
    """Mixes sounds sample-exactly at the times the show starts them, streaming the track to ``sink``.

    ``advance(t)`` mixes everything up to show time t and hands it to ``sink`` (int16 stereo chunks);
    finished sounds are dropped, so memory stays flat however long the recording is.
    """

    def __init__(self, sample_rate: int, volume: float = 1.0, sink=None) -> None:
        self.sr = sample_rate
        self.volume = volume
        self.sink = sink
        self.written = 0  # samples handed to the sink so far
        # key -> [start sample, samples(int16), end sample or None, fade-out samples, fade-in samples]
        self._clips: dict[object, list] = {}
        self._done: list[list] = []
        self._chunks: list[np.ndarray] = []

    def start(self, key: object, samples: np.ndarray, t: float, fade: float = 0.0) -> None:
        self._clips[key] = [int(round(t * self.sr)), samples, None, 0, int(round(max(fade, 0.0) * self.sr))]

    def stop(self, key: object, t: float, fade: float) -> None:
        c = self._clips.pop(key, None)
        if c is not None:
            c[2] = int(round(t * self.sr))
            c[3] = max(1, int(round(max(fade, MIN_FADE) * self.sr)))
            self._done.append(c)

    def pause(self) -> None:  # a recording has no staff pausing it
        pass

    def resume(self) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def clips(self) -> int:
        return len(self._clips) + len(self._done)

    def advance(self, t: float) -> None:
        """Mix and emit the track up to show time t."""
        n = int(round(t * self.sr))
        if n <= self.written:
            return
        a, b = self.written, n
        mix = np.zeros((b - a, 2), np.float32)
        for start, samples, end, fade, fade_in in [*self._done, *self._clips.values()]:
            stop = start + len(samples) if end is None else min(start + len(samples), end + fade)
            lo, hi = max(a, start), min(b, stop)
            if hi <= lo:
                continue
            seg = samples[lo - start:hi - start].astype(np.float32)
            fading_in, fading_out = fade_in > 0 and lo < start + fade_in, end is not None and hi > end
            gain = None
            if fading_in or fading_out:
                k = np.arange(lo, hi, dtype=np.float64)
                gain = np.ones(hi - lo)
                if fading_in:
                    gain *= np.clip((k - start + 1) / (fade_in + 1), 0.0, 1.0)
                if fading_out:
                    gain *= np.clip(1.0 - (k - end + 1) / (fade + 1), 0.0, 1.0)
            if gain is not None:
                seg = seg * gain.astype(np.float32)[:, None]
            mix[lo - a:hi - a] += seg
        self._done = [c for c in self._done if min(c[0] + len(c[1]), c[2] + c[3]) > b]
        self._clips = {k: c for k, c in self._clips.items() if c[0] + len(c[1]) > b}
        self.written = b
        out = np.clip(mix * self.volume, -32768, 32767).astype(np.int16)
        if self.sink is not None:
            self.sink(out)
        else:
            self._chunks.append(out)

    def render(self, seconds: float) -> np.ndarray:
        """The whole track kept in memory (no sink), int16 stereo, exactly ``seconds`` long."""
        self.advance(seconds)
        track = np.concatenate(self._chunks) if self._chunks else np.zeros((0, 2), np.int16)
        return track[: int(round(seconds * self.sr))]


class LiveAudio:
    """pygame.mixer with its output stream opened once and kept open (silence between sounds)."""

    def __init__(self, sample_rate: int, volume: float = 1.0, buffer: int = 1024) -> None:
        import pygame

        self.pg = pygame
        pygame.mixer.pre_init(frequency=sample_rate, size=-16, channels=2, buffer=buffer)
        pygame.mixer.init()
        freq, _size, channels = pygame.mixer.get_init()
        if freq != sample_rate or channels != 2:
            log.warning("mixer opened at %d Hz, %d channels (asked %d Hz stereo)", freq, channels, sample_rate)
        self.sr = freq
        self.volume = volume
        self.latency = buffer / freq
        pygame.mixer.set_num_channels(4)
        self._playing: dict[object, object] = {}

    def start(self, key: object, samples: np.ndarray, t: float, fade: float = 0.0) -> None:
        snd = self.pg.sndarray.make_sound(np.ascontiguousarray(samples))
        snd.set_volume(self.volume)
        ch = self.pg.mixer.find_channel(True)
        ch.play(snd, fade_ms=int(round(fade * 1000)))
        self._playing[key] = ch

    def stop(self, key: object, t: float, fade: float) -> None:
        ch = self._playing.pop(key, None)
        if ch is not None:  # SDL_mixer fades one buffer at a time: 8 buffers at least make steps of 1/8 at most
            ch.fadeout(int(round(1000 * max(fade, MIN_FADE, 8 * self.latency))))

    def pause(self) -> None:
        self.pg.mixer.pause()

    def resume(self) -> None:
        self.pg.mixer.unpause()

    def close(self) -> None:
        self.pg.mixer.stop()
        self.pg.mixer.quit()
