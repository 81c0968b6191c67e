
import re

import numpy as np
import pytest
import soundfile as sf

from catalogue import ArtworkDraft, MediaDraft
from gallery.errors import BadInput
from generator.jobs import JobContext, JobSpec
from generator.musicvae.events import events_to_notes
from generator.musicvae.render import instrument_program
from generator.run import execute_run

from .helpers import scale_melody, write_midi


def _ctx(settings, catalogue, tmp_path):
    return JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "work", seed=0)


def _media(catalogue, art):
    return {m.role: catalogue.media_path(m) for m in art.media}


def test_sample_makes_complete_reproducible_melody_artworks(mv_settings, catalogue, tmp_path):
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    spec = JobSpec(kind="musicvae.sample", params={"count": 2, "temperature": 0.8, "instrument": "flute"}, seed=7)
    ids = execute_run(spec, ctx)
    assert len(ids) == 2
    art = catalogue.get(ids[0])
    assert art.kind == "melody"
    files = _media(catalogue, art)
    assert set(files) == {"midi", "audio", "pianoroll", "thumbnail"}
    r = art.recipe
    assert r["generator"] == "musicvae" and r["op"] == "sample" and r["seed"] == 7 and r["instrument"] == 73
    assert len(r["checkpoint_sha256"]) == 64 and len(r["z"]) == 8 and len(r["events"]) == 32
    info = sf.info(str(files["audio"]))
    assert info.samplerate == 44100 and info.subtype == "PCM_16" and info.duration >= art.duration > 0
    data, _ = sf.read(str(files["audio"]))
    notes = events_to_notes(r["events"])
    if notes:  # a melody with notes is audible
        assert np.abs(data).max() > 0.01
    from PIL import Image

    assert max(Image.open(files["thumbnail"]).size) == 128
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(files["midi"]))
    assert pm.instruments[0].program == 73
    assert [n.pitch for n in pm.instruments[0].notes] == [n.pitch for n in notes]
    # the same spec again: bit-for-bit the same artwork (idempotent add returns the same id)
    assert execute_run(spec, ctx) == ids


def test_interpolation_between_midi_files(mv_settings, catalogue, tmp_path):
    a = write_midi(tmp_path / "a.mid", scale_melody(2, base=60, seed=1))
    b = write_midi(tmp_path / "b.mid", scale_melody(2, base=72, seed=2))
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    [aid] = execute_run(JobSpec(kind="musicvae.interpolate", params={"a": str(a), "b": str(b), "steps": 5}, seed=0), ctx)
    art = catalogue.get(aid)
    r = art.recipe
    assert r["op"] == "interpolate" and r["steps"] == 5 and len(r["events"]) == 5
    assert all(len(e) == 32 for e in r["events"]) and len(r["keyframes"]) == 2
    assert r["a"]["ref"] == str(a) and len(r["a"]["events"]) == 32
    assert art.duration == pytest.approx(5 * 32 * 60 / 110 / 4)
    from PIL import Image

    roll = Image.open(_media(catalogue, art)["pianoroll"])
    assert roll.height > 5 * 20  # one row per step
    # the ends of an interpolation are the models' reconstructions of a and b (greedy decode of mu)
    from generator.musicvae.jobs import decode_latents, encode_events, load_model

    loaded = load_model(mv_settings, 2)
    mu = encode_events(loaded, np.array([r["a"]["events"], r["b"]["events"]]))
    ends = decode_latents(loaded, mu, 0.0, 0)
    assert r["events"][0] == ends[0].tolist() and r["events"][-1] == ends[1].tolist()


def test_16bar_interpolation_of_a_corpus_melody_paired_with_a_visual(mv_settings, catalogue, tmp_path):
    visual = catalogue.add(ArtworkDraft(kind="walk", recipe={"timeline": {"duration": 40.0, "fps": 30}},
                                        media=[MediaDraft(role="poster", mime="image/png", data=b"png")],
                                        duration=40.0))
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    b = write_midi(tmp_path / "b.mid", scale_melody(16, base=64, seed=3))
    params = {"a": "corpus:ryansMammoth/BrideOfKildareReel", "b": str(b), "steps": 2, "bars": 16, "pair_with": visual}
    [aid] = execute_run(JobSpec(kind="musicvae.interpolate", params=params, seed=0), ctx)
    art = catalogue.get(aid)
    assert art.duration == pytest.approx(40.0)
    assert art.recipe["tempo"] == pytest.approx(60 * 512 / 4 / 40)
    from sqlalchemy import select

    from catalogue.models import Pairing

    with catalogue.read() as s:
        pair = s.scalars(select(Pairing).where(Pairing.sound_id == aid)).one()
        assert pair.visual_id == visual and pair.timeline["duration"] == 40.0


def test_attribute_vectors_change_the_melody_code(mv_settings, catalogue, tmp_path):
    a = write_midi(tmp_path / "a.mid", scale_melody(2, base=60, seed=1))
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    params = {"melody": str(a), "attribute": "density", "amounts": [-3, 0, 3]}
    [aid] = execute_run(JobSpec(kind="musicvae.attribute", params=params, seed=0), ctx)
    r = catalogue.get(aid).recipe
    assert len(r["events"]) == 3 and r["attribute"] == "density"
    with pytest.raises(BadInput, match="attribute 'loudness' is not in this checkpoint"):
        execute_run(JobSpec(kind="musicvae.attribute", params={**params, "attribute": "loudness"}, seed=0), ctx)


def test_bad_requests_are_named(mv_settings, catalogue, tmp_path):
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    short = write_midi(tmp_path / "short.mid", scale_melody(1))
    cases = [
        ({"a": str(tmp_path / "none.mid"), "b": str(short)}, "no such file"),
        ({"a": str(short), "b": str(short)}, "too short"),
        ({"a": "corpus:no-such-work-xyz", "b": str(short)}, "no work"),
        ({"a": str(short), "b": str(short), "steps": 1}, r"params\.steps: Input should be greater than or equal to 2 \(got 1\)"),
        ({"a": str(short), "b": str(short), "bars": 4}, r"params\.bars: Input should be 2 or 16 \(got 4\)"),
        ({"a": str(short), "b": str(short), "tempo": 1000}, r"params\.tempo: Input should be less than or equal to 240 \(got 1000\)"),
    ]
    for params, message in cases:
        with pytest.raises(BadInput, match=message):
            execute_run(JobSpec(kind="musicvae.interpolate", params=params, seed=0), ctx)
    with pytest.raises(BadInput, match="General MIDI"):
        instrument_program("kazoo")
    assert instrument_program("Violin") == 40 and instrument_program(5) == 5
    mv_settings.musicvae.checkpoint_2bar = str(tmp_path / "missing.pt")
    with pytest.raises(BadInput, match=re.escape("musicvae.checkpoint_2bar")):
        execute_run(JobSpec(kind="musicvae.sample", params={}, seed=0), ctx)


def test_interpolation_between_catalogue_melodies_records_lineage(mv_settings, catalogue, tmp_path):
    ctx = _ctx(mv_settings, catalogue, tmp_path)
    a, b = execute_run(JobSpec(kind="musicvae.sample", params={"count": 2, "temperature": 1.0}, seed=11), ctx)
    params = {"a": f"artwork:{a}", "b": f"artwork:{b}", "steps": 3}
    [mid] = execute_run(JobSpec(kind="musicvae.interpolate", params=params, seed=0), ctx)
    from sqlalchemy import select

    from catalogue.models import Lineage

    with catalogue.read() as s:
        parents = sorted((r.parent_id, r.relation) for r in s.scalars(select(Lineage).where(Lineage.child_id == mid)))
    assert parents == sorted([(a, "between"), (b, "between")])
    # the melody read back from the catalogue is the one that was generated (trailing rests included)
    from generator.musicvae.jobs import melody_from

    for art_id in (a, b):
        events, _ = melody_from(f"artwork:{art_id}", 2, ctx)
        assert events.tolist() == catalogue.get(art_id).recipe["events"]
    with pytest.raises(BadInput, match="no such melody artwork"):
        execute_run(JobSpec(kind="musicvae.interpolate", params={**params, "a": "artwork:99999"}, seed=0), ctx)
