"""Sound on the show's timeline: one open pygame.mixer stream live, or a mixed track when recording.

Both take the same calls from the show, with times on the show's one timeline:
``start(key, samples, t)`` when a visual appears, ``stop(key, t, fade)`` when it starts to leave.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


class RecordAudio:
    """Mixes sounds into a track sample-exactly at the times the show starts them."""

    def __init__(self, sample_rate: int, volume: float = 1.0) -> None:
        self.sr = sample_rate
        self.volume = volume
        self._clips: dict[object, list] = {}  # key -> [start sample, samples(int16), end sample or None, fade]
        self._done: list[list] = []

    def start(self, key: object, samples: np.ndarray, t: float) -> None:
        self._clips[key] = [int(round(t * self.sr)), samples, None, 0]

    def stop(self, key: object, t: float, fade: float) -> None:
        c = self._clips.pop(key, None)
        if c is not None:
            c[2] = int(round(t * self.sr))
            c[3] = int(round(fade * self.sr))
            self._done.append(c)

    def pause(self) -> None:  # a recording has no staff pausing it
        pass

    def resume(self) -> None:
        pass

    def close(self) -> None:
        pass

    def render(self, seconds: float) -> np.ndarray:
        """The mixed track, int16 stereo, exactly ``seconds`` long."""
        n = int(round(seconds * self.sr))
        mix = np.zeros((n, 2), np.float32)
        for start, samples, end, fade in [*self._done, *[[*c[:2], None, 0] for c in self._clips.values()]]:
            stop = start + len(samples) if end is None else min(start + len(samples), end + fade)
            stop = min(stop, n)
            if stop <= start:
                continue
            seg = samples[: stop - start].astype(np.float32)
            if end is not None and fade > 0:
                k = np.arange(start, stop)
                gain = np.clip(1.0 - (k - end) / fade, 0.0, 1.0)
                seg = seg * gain[:, None]
            elif end is not None:
                seg = seg[: max(0, end - start)]
            mix[start:start + len(seg)] += seg
        return np.clip(mix * self.volume, -32768, 32767).astype(np.int16)


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

    def start(self, key: object, samples: np.ndarray, t: float) -> None:
        snd = self.pg.sndarray.make_sound(np.ascontiguousarray(samples))
        snd.set_volume(self.volume)
        ch = self.pg.mixer.find_channel(True)
        ch.play(snd)
        self._playing[key] = ch

    def stop(self, key: object, t: float, fade: float) -> None:
        ch = self._playing.pop(key, None)
        if ch is not None:
            ch.fadeout(max(1, int(fade * 1000)))

    def pause(self) -> None:
        self.pg.mixer.pause()

    def resume(self) -> None:
        self.pg.mixer.unpause()

    def close(self) -> None:
        self.pg.mixer.stop()
        self.pg.mixer.quit()
