"""Sound-only sample works for the show's tests: a melody with its notes (MIDI), its sound and a small
piano-roll picture; a soundscape with a wide spectrogram-like picture."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np

from catalogue import ArtworkDraft, MediaDraft
from generator.samples import solid_png, wav_bytes

SR = 44100
# (start, end) in seconds and a pitch each: every pitch once, so a note's lane names it
MELODY = [(0.0, 0.5, 60), (0.5, 0.75, 64), (0.75, 1.0, 67), (1.0, 2.0, 72), (2.25, 2.5, 71), (2.5, 3.0, 69),
          (3.0, 3.5, 65), (3.5, 4.0, 62), (4.0, 5.0, 74), (5.0, 5.5, 70), (5.5, 6.0, 66), (6.0, 7.0, 63),
          (7.0, 7.5, 68), (7.5, 8.0, 61)]


def midi_bytes(notes=MELODY, tempo: float = 120.0) -> bytes:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    inst = pretty_midi.Instrument(program=0)
    inst.notes += [pretty_midi.Note(velocity=90, pitch=p, start=s, end=e) for s, e, p in notes]
    pm.instruments.append(inst)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.mid"
        pm.write(str(path))
        return path.read_bytes()


def melody_audio(notes=MELODY, seconds: float = 8.0) -> np.ndarray:
    """What a synthesiser plays from the notes: each a tone with a sharp attack at its start."""
    a = np.zeros(int(round(seconds * SR)))
    for s, e, p in notes:
        k0, k1 = int(round(s * SR)), int(round(e * SR))
        t = np.arange(k1 - k0) / SR
        a[k0:k1] += 0.4 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) * np.exp(-3 * t)
    return a


def melody_draft(notes=MELODY, seconds: float = 8.0, title: str = "Melody") -> ArtworkDraft:
    return ArtworkDraft(kind="melody", title=title, duration=seconds,
                        recipe={"generator": "test.melody", "tempo": 120, "bars": 4},
                        media=[MediaDraft(role="midi", mime="audio/midi", data=midi_bytes(notes), duration=seconds),
                               MediaDraft(role="audio", mime="audio/wav", data=wav_bytes(melody_audio(notes, seconds)),
                                          duration=seconds),
                               MediaDraft(role="pianoroll", mime="image/png", data=solid_png((40, 40, 60), 64, 16))])


def spectrogram_png(w: int = 256, h: int = 64) -> bytes:
    """A picture shaped like a spectrogram: warm bands rising left to right (no cyan anywhere)."""
    from PIL import Image

    x = np.linspace(0, 1, w)[None, :]
    y = np.linspace(1, 0, h)[:, None]
    v = np.clip(1.2 * np.exp(-((y - 0.2 - 0.6 * x) ** 2) / 0.01) + 0.2 * (1 - y), 0, 1)
    rgb = np.stack([255 * v, 140 * v ** 2, 60 * v ** 3], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def soundscape_draft(seconds: float = 6.0, pair_with: int | None = None) -> ArtworkDraft:
    t = np.arange(int(seconds * SR)) / SR
    return ArtworkDraft(kind="soundscape", title="Soundscape", duration=seconds,
                        recipe={"generator": "test.sound"},
                        media=[MediaDraft(role="audio", mime="audio/wav", data=wav_bytes(0.2 * np.sin(2 * np.pi * 220 * t)),
                                          duration=seconds),
                               MediaDraft(role="spectrogram", mime="image/png", data=spectrogram_png())],
                        pair_with=(pair_with, {"duration": seconds}) if pair_with is not None else None)
