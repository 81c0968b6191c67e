import re

import numpy as np
import pytest

from generator.musicvae.events import (
    NO_EVENT,
    NOTE_OFF,
    NUM_CLASSES,
    Note,
    Unusable,
    class_to_pitch,
    events_to_notes,
    longest_silence,
    note_density,
    notes_to_events,
    pitch_to_class,
    quantise,
    transpose,
)


def test_ninety_classes_cover_the_piano():
    assert NUM_CLASSES == 90
    assert pitch_to_class(21) == 2 and pitch_to_class(108) == 89
    assert class_to_pitch(2) == 21 and class_to_pitch(89) == 108
    with pytest.raises(ValueError, match=re.escape("pitch 109 is outside 21..108")):
        pitch_to_class(109)
    with pytest.raises(ValueError, match="is not a note onset"):
        class_to_pitch(NOTE_OFF)


def test_notes_events_round_trip_with_rests_and_holds():
    notes = [Note(60, 0, 4), Note(62, 4, 6), Note(64, 8, 16), Note(65, 16, 32)]
    ev = notes_to_events(notes, 32)
    assert ev[0] == pitch_to_class(60) and ev[1:4].tolist() == [NO_EVENT] * 3
    assert ev[6] == NOTE_OFF  # the rest after 62
    assert events_to_notes(ev) == notes


def test_quantise_snaps_to_sixteenths_and_cuts_overlaps():
    notes = quantise([(60, 0.02, 1.0), (62, 1.0, 2.6), (64, 2.5, 3.0)])
    assert notes == [Note(60, 0, 4), Note(62, 4, 10), Note(64, 10, 12)]


def test_quantise_reports_triplets_chords_and_emptiness():
    triplets = [(60 + i, i / 3, (i + 1) / 3) for i in range(12)]
    with pytest.raises(Unusable, match="unquantisable: 8 of 12"):
        quantise(triplets)
    chords = [(p, float(t), t + 1.0) for t in range(8) for p in (60, 64)]
    with pytest.raises(Unusable, match="polyphonic"):
        quantise(chords)
    with pytest.raises(Unusable, match="no notes"):
        quantise([])


def test_out_of_range_pitch_is_unusable():
    with pytest.raises(Unusable, match="outside the piano range"):
        notes_to_events([Note(12, 0, 4)], 16)


def test_silence_density_and_transposition():
    ev = notes_to_events([Note(60, 0, 2), Note(67, 20, 24)], 32)
    assert longest_silence(ev) == 18
    assert note_density(ev) == 1.0  # 2 onsets in 2 bars
    up = transpose(ev, 3)
    assert [n.pitch for n in events_to_notes(up)] == [63, 70]
    assert (up < 2).tolist() == (ev < 2).tolist()
    with pytest.raises(ValueError, match="leaves the pitch range"):
        transpose(notes_to_events([Note(107, 0, 4)], 16), 5)
    assert np.array_equal(transpose(ev, 0), ev)
