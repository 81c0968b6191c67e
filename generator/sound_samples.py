"""Sample sounds at chosen levels, for the show's loudness tests and bench: a melody and a soundscape.

``melody_draft(-36)`` is a plucked-note melody whose RMS is -36 dBFS (quiet, peaky: notes start hard and
decay); ``soundscape_draft(-14)`` a steady wash of filtered noise and drones at -14 dBFS RMS (loud, dense).
The two differ by more than 20 dB, as the melodies and soundscapes of the issue did. Deterministic per seed.
"""

from __future__ import annotations

import numpy as np

from catalogue import ArtworkDraft, MediaDraft
from generator.samples import solid_png, wav_bytes

SR = 44100


def at_rms(a: np.ndarray, rms_db: float) -> np.ndarray:
    """``a`` scaled so that its RMS (over all samples) is ``rms_db`` dBFS."""
    rms = float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))
    return (a * (10 ** (rms_db / 20) / max(rms, 1e-12))).astype(np.float32)


def melody_signal(seconds: float, rms_db: float = -36.0, seed: int = 0, sr: int = SR) -> np.ndarray:
    """Mono: notes of a pentatonic scale, four per second, each a plucked tone with two harmonics."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n, np.float32)
    step = sr // 4
    scale = [0, 2, 4, 7, 9, 12, 14]
    for k in range(0, n, step):
        f = 220.0 * 2 ** (scale[rng.integers(len(scale))] / 12)
        t = np.arange(min(2 * step, n - k)) / sr
        env = np.exp(-t * 6.0) * np.minimum(1.0, t / 0.004)
        note = env * (np.sin(2 * np.pi * f * t) + 0.4 * np.sin(4 * np.pi * f * t) + 0.15 * np.sin(6 * np.pi * f * t))
        out[k:k + len(note)] += note.astype(np.float32)
    return at_rms(out, rms_db)


def soundscape_signal(seconds: float, rms_db: float = -14.0, seed: int = 0, sr: int = SR) -> np.ndarray:
    """Stereo: low-passed noise (slightly different per channel) under two slow drones."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    kernel = np.hanning(64) / np.hanning(64).sum()
    chans = []
    for c in range(2):
        noise = np.convolve(rng.standard_normal(n), kernel, mode="same")
        drone = np.sin(2 * np.pi * (110 + c) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t))
        drone += 0.5 * np.sin(2 * np.pi * 165 * t + c)
        chans.append(noise * 3 + drone)
    return at_rms(np.stack(chans, axis=1), rms_db)


def melody_draft(seconds: float, rms_db: float = -36.0, seed: int = 0, title: str | None = None) -> ArtworkDraft:
    a = melody_signal(seconds, rms_db, seed)
    return ArtworkDraft(kind="melody", title=title or f"Melody {seed} ({rms_db:g} dBFS)", duration=seconds,
                        recipe={"generator": "test.melody", "seed": seed, "rms_db": rms_db},
                        media=[MediaDraft(role="audio", mime="audio/wav", data=wav_bytes(a), duration=seconds),
                               MediaDraft(role="pianoroll", mime="image/png", data=solid_png((30, 30, 30)))])


def soundscape_draft(seconds: float, rms_db: float = -14.0, seed: int = 0, pair_with: int | None = None,
                     title: str | None = None) -> ArtworkDraft:
    a = soundscape_signal(seconds, rms_db, seed)
    return ArtworkDraft(kind="soundscape", title=title or f"Soundscape {seed} ({rms_db:g} dBFS)", duration=seconds,
                        recipe={"generator": "test.soundscape", "seed": seed, "rms_db": rms_db},
                        media=[MediaDraft(role="audio", mime="audio/wav", data=wav_bytes(a), duration=seconds),
                               MediaDraft(role="spectrogram", mime="image/png", data=solid_png((20, 40, 90)))],
                        pair_with=(pair_with, {"duration": seconds}) if pair_with is not None else None)
