"""Melody events: monophonic melodies quantised to 16th notes as 90 event classes.

Class 0 is *no event* (hold the sounding note, or keep silent), class 1 is *note off*, and classes
2..89 start a note of MIDI pitch 21..108 (the piano range). A bar is 16 steps (four quarter notes).
Reading a melody out of a part can fail for a reason a person understands: :class:`Unusable`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

NO_EVENT = 0
NOTE_OFF = 1
MIN_PITCH = 21
MAX_PITCH = 108
NUM_CLASSES = 2 + MAX_PITCH - MIN_PITCH + 1  # 90
STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16

# A note onset further than this from a 16th-note step counts as off the grid (in steps).
GRID_TOLERANCE = 0.2
# More than this fraction of notes off the grid makes a part unquantisable (triplets, rubato).
MAX_OFF_GRID = 0.1
# More than this fraction of onsets with two or more pitches makes a part polyphonic.
MAX_CHORD_ONSETS = 0.05


class Unusable(ValueError):
    """A part or file from which no melody can be read; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Note:
    pitch: int
    start: int  # step (16th notes)
    end: int  # step, exclusive


def pitch_to_class(pitch: int) -> int:
    if not MIN_PITCH <= pitch <= MAX_PITCH:
        raise ValueError(f"pitch {pitch} is outside {MIN_PITCH}..{MAX_PITCH}")
    return pitch - MIN_PITCH + 2


def class_to_pitch(c: int) -> int:
    if c < 2 or c >= NUM_CLASSES:
        raise ValueError(f"event class {c} is not a note onset")
    return int(c) - 2 + MIN_PITCH


def quantise(notes: Iterable[tuple[int, float, float]]) -> list[Note]:
    """(pitch, start, end) in quarter notes -> monophonic notes on the 16th-note grid.

    Raises :class:`Unusable` when too many onsets fall between steps (``unquantisable``), when the
    part plays chords (``polyphonic``) or when it has no notes. Overlaps left after quantisation
    (a note held into the next one) are cut at the next onset.
    """
    raw = sorted(notes, key=lambda n: (n[1], -n[0]))
    if not raw:
        raise Unusable("no notes")
    off_grid = 0
    q: list[tuple[int, int, int]] = []
    for pitch, start, end in raw:
        s = start * STEPS_PER_QUARTER
        if abs(s - round(s)) > GRID_TOLERANCE:
            off_grid += 1
        s_i = int(round(s))
        e_i = max(int(round(end * STEPS_PER_QUARTER)), s_i + 1)
        q.append((int(pitch), s_i, e_i))
    if off_grid > MAX_OFF_GRID * len(raw):
        raise Unusable(f"unquantisable: {off_grid} of {len(raw)} notes ({100 * off_grid / len(raw):.0f}%) "
                       "start between 16th-note steps (triplets or free timing)")
    onsets: dict[int, list[tuple[int, int, int]]] = {}
    for n in q:
        onsets.setdefault(n[1], []).append(n)
    chords = sum(1 for v in onsets.values() if len({p for p, _, _ in v}) > 1)
    if chords > MAX_CHORD_ONSETS * len(onsets):
        raise Unusable(f"polyphonic: {chords} of {len(onsets)} onsets ({100 * chords / len(onsets):.0f}%) "
                       "sound two or more pitches at once")
    starts = sorted(onsets)
    out: list[Note] = []
    for i, s in enumerate(starts):
        pitch, _, end = max(onsets[s], key=lambda n: n[0])  # the top voice of a rare chord
        if i + 1 < len(starts):
            end = min(end, starts[i + 1])
        out.append(Note(pitch, s, end))
    return out


def notes_to_events(notes: Sequence[Note], n_steps: int | None = None, origin: int = 0) -> np.ndarray:
    """Monophonic notes -> event array (int64) of ``n_steps`` steps starting at step ``origin``.

    A note that starts before ``origin`` but still sounds there is dropped (its tail is silence);
    pitches outside 21..108 raise :class:`Unusable`.
    """
    if n_steps is None:
        n_steps = max((n.end for n in notes), default=origin) - origin
    ev = np.zeros(n_steps, dtype=np.int64)
    for n in notes:
        s, e = n.start - origin, n.end - origin
        if s < 0 or s >= n_steps:
            continue
        if not MIN_PITCH <= n.pitch <= MAX_PITCH:
            raise Unusable(f"pitch {n.pitch} is outside the piano range {MIN_PITCH}..{MAX_PITCH}")
        ev[s] = pitch_to_class(n.pitch)
        if e < n_steps and ev[e] == NO_EVENT:
            ev[e] = NOTE_OFF
    return ev


def events_to_notes(events: Sequence[int]) -> list[Note]:
    """Event array -> notes (a note lasts until the next onset or note-off, or the end)."""
    notes: list[Note] = []
    cur: tuple[int, int] | None = None
    ev = [int(e) for e in events]
    for t, e in enumerate(ev):
        if e == NO_EVENT:
            continue
        if cur is not None:
            notes.append(Note(cur[0], cur[1], t))
            cur = None
        if e >= 2:
            cur = (class_to_pitch(e), t)
    if cur is not None:
        notes.append(Note(cur[0], cur[1], len(ev)))
    return notes


def sounding(events: np.ndarray) -> np.ndarray:
    """Boolean per step: does a note sound at this step?"""
    out = np.zeros(len(events), dtype=bool)
    on = False
    for t, e in enumerate(events):
        if e == NOTE_OFF:
            on = False
        elif e >= 2:
            on = True
        out[t] = on
    return out


def longest_silence(events: np.ndarray) -> int:
    run = best = 0
    for s in sounding(events):
        run = 0 if s else run + 1
        best = max(best, run)
    return best


def note_density(events: np.ndarray) -> float:
    """Note onsets per bar."""
    ev = np.asarray(events)
    return float((ev >= 2).sum()) * STEPS_PER_BAR / max(len(ev), 1)


def mean_pitch(events: np.ndarray) -> float:
    ev = np.asarray(events)
    on = ev[ev >= 2]
    return float(on.mean() - 2 + MIN_PITCH) if len(on) else 0.0


def transpose(events: np.ndarray, semitones: int) -> np.ndarray:
    """Shift every onset by ``semitones``; raises ValueError when a pitch leaves the range."""
    ev = np.array(events, dtype=np.int64, copy=True)
    on = ev >= 2
    ev[on] += semitones
    if on.any() and (ev[on].min() < 2 or ev[on].max() >= NUM_CLASSES):
        raise ValueError(f"transposing by {semitones} leaves the pitch range")
    return ev
