import numpy as np
import pytest

from generator.datasets.melodies import (
    Piece,
    cached_corpus,
    corpus_melodies,
    is_heldout,
    midi_melodies,
    piece_from_midi,
    split_windows,
    window_events,
    windows,
)
from generator.musicvae.events import NO_EVENT, NOTE_OFF, Unusable, events_to_notes, notes_to_events, quantise

from .helpers import scale_melody, write_midi


def test_corpus_chorales_give_soprano_melodies_and_cache(tmp_path):
    ms = corpus_melodies(["chorales"], limit=6)
    assert len(ms.pieces) + len(ms.skipped) == 6
    assert ms.pieces, [s.reason for s in ms.skipped]
    for p in ms.pieces:
        notes = events_to_notes(p.events)
        assert len(notes) > 8
        assert all(55 <= n.pitch <= 84 for n in notes)  # a soprano line
    for s in ms.skipped:
        assert s.reason  # every skipped chorale says why
    first = cached_corpus(tmp_path, ["chorales"], limit=6)
    assert list(tmp_path.glob("corpus-*.npz"))
    again = cached_corpus(tmp_path, ["chorales"], limit=6)
    assert [p.name for p in again.pieces] == [p.name for p in first.pieces]
    assert all(np.array_equal(a.events, b.events) for a, b in zip(again.pieces, first.pieces, strict=True))


def test_windows_skip_long_silences_and_restart_held_notes():
    ev = notes_to_events(quantise(scale_melody(4)), 64)
    silent = np.zeros(32, dtype=np.int64)
    silent[0] = NOTE_OFF
    p = Piece("a", "t", np.concatenate([ev, silent, ev]))
    w, idx = windows([p], bars=2)
    assert w.shape[1] == 32 and (idx == 0).all()
    # 9 windows of 2 bars in 10 bars; the 3 that hold a whole silent bar (bars 4-5) are left out
    assert len(w) == 6
    held = notes_to_events(quantise([(60, 0.0, 8.0)]), 48)
    cut = window_events(held, 16, 16)
    assert cut[0] != NO_EVENT and events_to_notes(cut)[0].pitch == 60


def test_split_is_by_piece():
    pieces = [Piece(f"piece-{i}", "t", notes_to_events(quantise(scale_melody(6, seed=i)), 96)) for i in range(40)]
    d = split_windows(pieces, 2, heldout_percent=25)
    held = {p.name for p in pieces if is_heldout(p.name, 25)}
    assert 0 < len(held) < 40
    per_piece = len(windows(pieces[:1], 2)[0])
    assert len(d["heldout"]) == per_piece * len(held)
    assert len(d["train"]) == per_piece * (40 - len(held))
    train_rows = {tuple(r) for r in d["train"]}
    assert not any(tuple(r) in train_rows for r in d["heldout"])


def test_midi_folder_reports_each_unusable_file(tmp_path):
    write_midi(tmp_path / "good.mid", scale_melody(4))
    write_midi(tmp_path / "short.mid", scale_melody(1))
    write_midi(tmp_path / "chords.mid", scale_melody(4), parts=1)
    # make chords.mid polyphonic: every note doubled a third above in the same part
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(tmp_path / "chords.mid"))
    inst = pm.instruments[0]
    inst.notes += [pretty_midi.Note(80, n.pitch + 4, n.start, n.end) for n in list(inst.notes)]
    pm.write(str(tmp_path / "chords.mid"))
    write_midi(tmp_path / "triplets.mid", [(60 + i % 5, i / 3, (i + 1) / 3) for i in range(30)])
    write_midi(tmp_path / "waltz.mid", scale_melody(4), time_signature=(3, 4))
    (tmp_path / "broken.mid").write_bytes(b"MThd not really")
    ms = midi_melodies(tmp_path, min_bars=2)
    assert [p.name for p in ms.pieces] == ["midi/good.mid"]
    reasons = {s.name.split("/")[-1]: s.reason for s in ms.skipped}
    assert set(reasons) == {"short.mid", "chords.mid", "triplets.mid", "waltz.mid", "broken.mid"}
    assert reasons["short.mid"].startswith("too short: 1.0 bars")
    assert "polyphonic" in reasons["chords.mid"]
    assert "unquantisable" in reasons["triplets.mid"]
    assert "time signature 3/4" in reasons["waltz.mid"]
    assert "not a readable MIDI file" in reasons["broken.mid"]


def test_midi_picks_the_monophonic_part(tmp_path):
    import pretty_midi

    path = write_midi(tmp_path / "two.mid", scale_melody(4, base=67))
    pm = pretty_midi.PrettyMIDI(str(path))
    chords = pretty_midi.Instrument(program=0, name="chords")
    for t in range(8):
        for p in (48, 52, 55):
            chords.notes.append(pretty_midi.Note(70, p, t, t + 1.0))
    pm.instruments.append(chords)
    pm.write(str(path))
    piece = piece_from_midi(path)
    assert [n.pitch for n in events_to_notes(piece.events)][:3] == [p for p, _, _ in scale_melody(4, base=67)][:3]
    chords_only = tmp_path / "chords-only.mid"
    pm.instruments = [chords]
    pm.write(str(chords_only))
    with pytest.raises(Unusable, match="chords"):
        piece_from_midi(chords_only)


ABC_TWO_STRAINS = """X:1
T:Two strains
M:4/4
L:1/8
K:D
|: D2E2 F2G2 | A2B2 c2d2 :|
|: d2c2 B2A2 | G2F2 E2D2 :|
"""


def _abc_part(text: str):
    from music21 import converter

    sc = converter.parse(text, format="abc")
    return (list(sc.parts) or [sc])[0]


def test_play_repeats_reads_a_tune_as_played():
    from generator.datasets.melodies import piece_from_part

    as_written = piece_from_part(_abc_part(ABC_TWO_STRAINS), "t", "test")
    played = piece_from_part(_abc_part(ABC_TWO_STRAINS), "t", "test", play_repeats=True)
    # as written, music21 numbers the first (full) bar 0 and the old reading takes it for a pickup
    assert len(as_written.events) == 3 * 16 and len(played.events) == 8 * 16  # A B -> A A B B
    first = [n.pitch for n in events_to_notes(played.events)]
    assert first[:8] == first[8:16] and first[16:24] == first[24:32] and first[:8] != first[16:24]


def test_play_repeats_cuts_a_piece_where_its_bars_drift_off_the_grid():
    from generator.datasets.melodies import piece_from_part

    # the second bar is one beat short: every later bar line falls a quarter note off the grid
    drift = "X:1\nT:Drift\nM:4/4\nL:1/8\nK:D\nD2E2 F2G2 | A2B2 c2 | d2c2 B2A2 | G2F2 E2D2 |]\n"
    piece = piece_from_part(_abc_part(drift), "t", "test", play_repeats=True)
    assert len(piece.events) <= 2 * 16  # only the two bars before the drift are kept
    assert [n.pitch for n in events_to_notes(piece.events)][:3] == [62, 64, 66]


def test_oneills_opus_files_are_read_tune_by_tune():
    ms = corpus_melodies(["oneills1850"], limit=4)
    names = [p.name for p in ms.pieces] + [s.name for s in ms.skipped]
    assert len(names) == 4 and len(set(names)) == 4
    assert all(n.startswith("oneills1850/0001-0050/") for n in names)
    for s in ms.skipped:
        assert s.reason
