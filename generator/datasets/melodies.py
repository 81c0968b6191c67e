"""Monophonic melodies for Music-VAE: music21's bundled corpus (offline) and the user's MIDI files.

Each piece becomes one event sequence (see :mod:`generator.musicvae.events`) starting at its first
full bar; training windows of 2 or 16 bars are cut from it with a stride of one bar. With
``play_repeats`` (the 16-bar presets) a piece's repeats are played out (``|: A :| |: B :|`` is read
as A A B B, as a performer plays it): most corpus tunes are two 8-bar strains, which hold no 16-bar
window as written; that reading also keeps the first bar of ABC tunes that music21 numbers 0
without it being a pickup, and cuts a piece whose bar lines drift off the bar grid part-way (an
incomplete bar in the middle, e.g. a strain's pickup played again by the repeat) where the drift
starts. Only meters whose bars tile the model's 16-step bar are read (2/4, 4/4, 2/2): the
hierarchical decoder's unit is the bar, and a 3/4 or 6/8 bar (12 steps) would cross its bar lines
at a different place in every bar, so those pieces are skipped with that reason. The held-out
split is BY PIECE (a hash of the piece's name), so no window of a held-out piece is ever trained on.
Pieces are parsed once and cached under ``<data_dir>/datasets/melodies``; a piece or file that
cannot be used is reported with its reason and skipped, never failing the whole run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from generator.musicvae.events import (
    NO_EVENT,
    NOTE_OFF,
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    Unusable,
    longest_silence,
    notes_to_events,
    quantise,
)

log = logging.getLogger(__name__)

CACHE_VERSION = 1
# Corpus sources: name -> what it holds. All ship inside music21 (no network).
CORPUS_SOURCES = {
    "chorales": "Bach chorales (music21 corpus.chorales.Iterator): the soprano line",
    "ryansMammoth": "Ryan's Mammoth Collection (1883) of fiddle tunes: single-line ABC melodies",
    "oneills1850": "O'Neill's Music of Ireland (1850): single-line ABC melodies",
}
# Bar lengths (in quarter notes) whose measures tile our 16-step bar: 2/4, 4/4, 2/2, C.
TILING_BARS = (2.0, 4.0)


@dataclass
class Piece:
    """One melody: its events from the first full bar on."""

    name: str
    source: str
    events: np.ndarray


@dataclass
class Skipped:
    name: str
    reason: str


@dataclass
class MelodySet:
    pieces: list[Piece] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def is_heldout(name: str, percent: int) -> bool:
    """Deterministic split by piece: the same piece is always on the same side."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % 100 < percent


# ---------------------------------------------------------------- music21 parts


def _bar_quarters(part) -> float:
    ts = part.recurse().getElementsByClass("TimeSignature")
    if not ts:
        return 4.0
    bq = float(ts[0].barDuration.quarterLength)
    if bq not in TILING_BARS:
        raise Unusable(f"time signature {ts[0].ratioString}: only 2/4, 4/4 and 2/2 fill 16-step bars")
    return bq


def _origin_quarters(part, bar_q: float, number_zero_is_pickup: bool = True) -> float:
    """Where the first full bar starts. music21's ABC reader numbers the first bar 0 even when it is
    full, so reading bar 0 as a pickup drops a full bar of those tunes; ``number_zero_is_pickup``
    False trusts the bar's length alone (kept True for the data the shipped tiny-2bar was trained on)."""
    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        return 0.0
    m0 = measures[0]
    short = float(m0.duration.quarterLength) < bar_q - 1e-6
    if short or (number_zero_is_pickup and m0.number == 0):  # a pickup (anacrusis)
        return float(m0.offset) + float(m0.duration.quarterLength)
    return float(m0.offset)


def _expand_repeats(part):
    """The part with its repeats played out; unchanged when it has none or music21 cannot expand them."""
    try:
        return part.expandRepeats()
    except Exception:  # noqa: BLE001 - malformed repeat marks: read the part as written
        return part


def _grid_end(part, origin: float, bar_q: float) -> float | None:
    """Offset (quarters) of the first full bar that does not start on the bar grid, else None."""
    for m in part.getElementsByClass("Measure"):
        off = float(m.offset)
        if off < origin - 1e-6 or float(m.duration.quarterLength) < bar_q - 1e-6:
            continue
        phase = (off - origin) / bar_q
        if abs(phase - round(phase)) > 1e-6:
            return off
    return None


def piece_from_part(part, name: str, source: str, play_repeats: bool = False) -> Piece:
    """A music21 part -> :class:`Piece` (repeats played out if asked), or :class:`Unusable` with the reason."""
    bar_q = _bar_quarters(part)
    if play_repeats:
        part = _expand_repeats(part)
    origin = _origin_quarters(part, bar_q, number_zero_is_pickup=not play_repeats)
    end = _grid_end(part, origin, bar_q) if play_repeats else None
    raw = []
    for n in part.stripTies().flatten().notes:
        ql = float(n.quarterLength)
        if ql <= 0:  # grace notes have no time of their own
            continue
        start = float(n.offset)
        if end is not None and start >= end:
            continue
        for p in n.pitches:
            raw.append((int(p.midi), start, start + ql if end is None else min(start + ql, end)))
    notes = quantise(raw)
    o = int(round(origin * STEPS_PER_QUARTER))
    return Piece(name=name, source=source, events=notes_to_events(notes, origin=o))


def _corpus_scores(source: str, limit: int | None) -> Iterator[tuple[str, object]]:
    from music21 import corpus

    if source == "chorales":
        it = corpus.chorales.Iterator(returnType="stream")
        count = 0
        for sc in it:
            if limit is not None and count >= limit:
                return
            count += 1
            name = sc.metadata.title if sc.metadata and sc.metadata.title else f"chorale-{count}"
            yield f"chorales/{sc.corpusFilepath if hasattr(sc, 'corpusFilepath') else name}", sc
        return
    if source not in CORPUS_SOURCES:
        raise Unusable(f"unknown corpus source {source!r}; known: {', '.join(CORPUS_SOURCES)}")
    from music21 import stream

    paths = sorted(p for p in corpus.corpora.CoreCorpus().getPaths() if p.parent.name == source)
    count = 0
    for p in paths:
        try:
            sc = corpus.parse(p)
        except Exception as e:  # noqa: BLE001 - a broken corpus file is reported, not fatal
            sc = Unusable(f"music21 cannot parse it: {e}")
        # O'Neill's files are opuses of ~50 tunes each: every tune is a piece (split by tune)
        tunes = ([(f"{source}/{p.stem}/{t.metadata.number if t.metadata and t.metadata.number else i}", t)
                  for i, t in enumerate(sc.scores)] if isinstance(sc, stream.Opus) else [(f"{source}/{p.stem}", sc)])
        for name, t in tunes:
            if limit is not None and count >= limit:
                return
            count += 1
            yield name, t


def corpus_melodies(sources: Iterable[str], limit: int | None = None, play_repeats: bool = False) -> MelodySet:
    """Parse the bundled corpus: the top line of each piece (soprano for chorales)."""
    out = MelodySet()
    for source in sources:
        for name, sc in _corpus_scores(source, limit):
            if isinstance(sc, Unusable):
                out.skipped.append(Skipped(name, sc.reason))
                continue
            try:
                parts = list(sc.parts) or [sc]
                out.pieces.append(piece_from_part(parts[0], name, source, play_repeats))
            except Unusable as e:
                out.skipped.append(Skipped(name, e.reason))
    return out


def _cache_key(sources: list[str], limit: int | None, play_repeats: bool = False) -> str:
    key: dict = {"v": CACHE_VERSION, "sources": sources, "limit": limit}
    if play_repeats:  # absent when off: the caches made before the option keep their names
        key["play_repeats"] = True
    ident = json.dumps(key, sort_keys=True)
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def save_set(ms: MelodySet, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(p.events) for p in ms.pieces], dtype=np.int64)
    events = np.concatenate([p.events for p in ms.pieces]).astype(np.int8) if ms.pieces else np.zeros(0, np.int8)
    meta = {"names": [p.name for p in ms.pieces], "sources": [p.source for p in ms.pieces],
            "skipped": [[s.name, s.reason] for s in ms.skipped]}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, events=events, lengths=lengths, meta=np.array(json.dumps(meta)))
    tmp.replace(path)


def load_set(path: Path) -> MelodySet:
    with np.load(path) as z:
        events, lengths, meta = z["events"].astype(np.int64), z["lengths"], json.loads(str(z["meta"]))
    ms = MelodySet(skipped=[Skipped(n, r) for n, r in meta["skipped"]])
    off = 0
    for name, source, n in zip(meta["names"], meta["sources"], lengths, strict=True):
        ms.pieces.append(Piece(name, source, events[off:off + n]))
        off += int(n)
    return ms


def cached_corpus(cache_dir: Path, sources: list[str], limit: int | None = None,
                  play_repeats: bool = False) -> MelodySet:
    """The corpus melodies, parsed once and kept in ``cache_dir``."""
    path = Path(cache_dir) / f"corpus-{_cache_key(sources, limit, play_repeats)}.npz"
    if path.exists():
        try:
            return load_set(path)
        except Exception as e:  # noqa: BLE001 - a damaged cache is rebuilt
            log.warning("melody cache %s is unreadable (%s); parsing the corpus again", path, e)
    log.info("parsing music21 corpus %s (once; cached in %s)", sources, path)
    ms = corpus_melodies(sources, limit, play_repeats)
    save_set(ms, path)
    return ms


# ---------------------------------------------------------------- MIDI files


def piece_from_midi(path: Path, min_bars: int = 2) -> Piece:
    """A MIDI file -> its melody (the monophonic part with most notes), or :class:`Unusable`."""
    import pretty_midi

    path = Path(path)
    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as e:  # noqa: BLE001 - whatever the parser says, the file is unreadable
        raise Unusable(f"not a readable MIDI file ({type(e).__name__}: {e})") from None
    for ts in pm.time_signature_changes[:1]:
        bar_q = ts.numerator * 4.0 / ts.denominator
        if bar_q not in TILING_BARS:
            raise Unusable(f"time signature {ts.numerator}/{ts.denominator}: only 2/4, 4/4 and 2/2 are supported")
    parts = [i for i in pm.instruments if not i.is_drum and i.notes]
    if not parts:
        raise Unusable("no notes outside the drum channel")

    def q(t: float) -> float:
        return pm.time_to_tick(t) / pm.resolution

    best: tuple[int, list] | None = None
    reasons = []
    for inst in parts:
        try:
            notes = quantise((n.pitch, q(n.start), q(n.end)) for n in inst.notes)
        except Unusable as e:
            reasons.append(f"part {inst.name or pretty_midi.program_to_instrument_name(inst.program)!r}: {e.reason}")
            continue
        if best is None or len(notes) > best[0]:
            best = (len(notes), notes)
    if best is None:
        raise Unusable("; ".join(reasons))
    events = notes_to_events(best[1])
    bars = len(events) / STEPS_PER_BAR
    if bars < min_bars:
        raise Unusable(f"too short: {bars:.1f} bars of melody, at least {min_bars} needed")
    return Piece(name=f"midi/{path.name}", source="midi", events=events)


def midi_melodies(folder: Path, min_bars: int = 2) -> MelodySet:
    """Every .mid/.midi file under ``folder``; each unusable file is listed with its reason."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())
    out = MelodySet()
    for p in files:
        try:
            out.pieces.append(piece_from_midi(p, min_bars=min_bars))
        except Unusable as e:
            out.skipped.append(Skipped(str(p), e.reason))
    return out


# ---------------------------------------------------------------- windows


def window_events(events: np.ndarray, start: int, n_steps: int) -> np.ndarray:
    """Cut ``events[start:start+n_steps]``; a note sounding across the cut starts again at the cut."""
    w = np.array(events[start:start + n_steps], dtype=np.int64)
    if len(w) and w[0] == NO_EVENT and start > 0:
        for e in events[start - 1::-1]:
            if e == NOTE_OFF:
                break
            if e >= 2:
                w[0] = e
                break
    return w


def windows(pieces: list[Piece], bars: int, stride_bars: int = 1,
            max_silence_bars: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """All windows of ``bars`` bars (stride ``stride_bars``) -> (windows [N, T], piece index [N]).

    A window with a silence of ``max_silence_bars`` bars or longer is left out.
    """
    n = bars * STEPS_PER_BAR
    out, idx = [], []
    for i, p in enumerate(pieces):
        for s in range(0, len(p.events) - n + 1, stride_bars * STEPS_PER_BAR):
            w = window_events(p.events, s, n)
            if longest_silence(w) >= max_silence_bars * STEPS_PER_BAR:
                continue
            out.append(w)
            idx.append(i)
    if not out:
        return np.zeros((0, n), dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.stack(out), np.array(idx, dtype=np.int64)


def split_windows(pieces: list[Piece], bars: int, heldout_percent: int,
                  stride_bars: int = 1) -> dict[str, np.ndarray]:
    """Train and held-out windows, split by piece."""
    w, idx = windows(pieces, bars, stride_bars)
    held = np.array([is_heldout(p.name, heldout_percent) for p in pieces], dtype=bool)
    mask = held[idx] if len(idx) else np.zeros(0, dtype=bool)
    return {"train": w[~mask], "heldout": w[mask]}
