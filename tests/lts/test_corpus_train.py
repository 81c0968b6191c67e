"""The corpus the project makes, reading user audio, training and checkpoints."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from gallery.errors import BadInput
from generator.datasets import sounds
from generator.lts.checkpoints import load
from generator.lts.presets import PRESETS
from generator.lts.train import evaluate, load_frames, split_files, train

from .conftest import write_textures


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.skipif(shutil.which("fluidsynth") is None or sounds.soundfont() is None,
                    reason="fluidsynth + fluid-soundfont-gm not installed")
def test_corpus_is_deterministic_and_cached(tmp_path):
    spec = sounds.CorpusSpec(n_chorales=1, instruments=("piano", "flute"), clip_seconds=2.0, n_textures=3,
                             texture_seconds=1.0)
    a = sounds.build_corpus(tmp_path / "a", spec)
    b = sounds.build_corpus(tmp_path / "b", spec)
    assert [p.name for p in a] == [p.name for p in b]
    assert len(a) == 2 + 3
    assert [_sha(p) for p in a] == [_sha(p) for p in b]
    mtimes = [p.stat().st_mtime_ns for p in a]
    assert sounds.build_corpus(tmp_path / "a", spec) == a  # reused, not rewritten
    assert [p.stat().st_mtime_ns for p in a] == mtimes
    for p in a:
        x, sr = sf.read(str(p))
        assert sr == 44100 and x.ndim == 1 and np.abs(x).max() > 0.1
    # the rendered instruments differ (a piano is not a flute)
    pa, pb = (sf.read(str(p))[0] for p in a[:2])
    assert not np.allclose(pa[:20000], pb[:20000], atol=1e-2)


def test_chorale_notes_come_from_music21():
    notes = sounds.chorale_notes(0, voice=0, max_seconds=4.0)
    assert len(notes) > 4
    assert all(30 <= p <= 100 and 0 <= s < 4.0 and d > 0 for p, s, d in notes)


def test_read_audio_names_bad_files(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(ValueError, match=re.escape("broken.wav: unreadable")):
        sounds.read_audio(bad)
    quiet = tmp_path / "quiet.flac"
    sf.write(str(quiet), np.zeros(4410, dtype=np.float32), 44100)
    with pytest.raises(ValueError, match=re.escape("quiet.flac: silent")):
        sounds.read_audio(quiet)
    # another sample rate is resampled
    other = tmp_path / "tone.ogg"
    sf.write(str(other), 0.5 * np.sin(2 * np.pi * 440 * np.arange(22050) / 22050).astype(np.float32), 22050)
    x = sounds.read_audio(other)
    assert abs(len(x) - 44100) < 50
    with pytest.raises(BadInput, match="does not exist"):
        sounds.list_audio(tmp_path / "nope")


def test_load_frames_skips_and_reports(tmp_path):
    paths = write_textures(tmp_path, n=2, seconds=0.5)
    (tmp_path / "bad.wav").write_bytes(b"garbage")
    sf.write(str(tmp_path / "silent.wav"), np.zeros(8000, dtype=np.float32), 44100)
    said: list[str] = []
    fs = load_frames(sounds.list_audio(tmp_path), PRESETS["tiny"], 10_000, say=said.append)
    assert sorted(fs.names) == sorted(p.stem for p in paths)
    assert any("bad.wav" in s for s in said) and any("silent.wav" in s for s in said)
    assert fs.frames.shape[1] == 192 and len(fs.frames) == len(fs.file_index)
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "x.wav").write_bytes(b"garbage")
    with pytest.raises(BadInput, match="no usable audio"):
        load_frames([only_bad / "x.wav"], PRESETS["tiny"], 100, say=lambda m: None)


def test_split_is_deterministic_and_spread():
    m = split_files(72, 0.1)
    assert m.sum() == 7 and np.array_equal(m, split_files(72, 0.1))
    assert not split_files(2, 0.1).any()


def test_trained_checkpoint_loads_and_reconstructs(small_ckpt):
    loaded = load(small_ckpt)
    assert loaded.preset.name == "tiny" and loaded.model.n_bins == 192
    info = loaded.info
    assert info["held_out"] is not None and info["held_out"]["frames"] > 0
    # training reduced the error well below that of an untrained model on the same frames
    fs = load_frames(list(small_ckpt.parent.glob("*.wav")), loaded.preset, 2000)
    from generator.lts.model import FrameVAE

    fresh = FrameVAE.from_preset(loaded.preset)
    fresh.mean.copy_(loaded.model.mean)
    fresh.std.copy_(loaded.model.std)
    assert evaluate(loaded.model, fs.frames)["mse"] < 0.5 * evaluate(fresh, fs.frames)["mse"]
    names = loaded.anchors["names"]
    assert names and loaded.anchors["latents"].shape[1:] == (round(loaded.preset.cqt.frame_rate), 32)
    assert not set(names) & set(info["held_out_files"])


def test_training_is_reproducible(tmp_path):
    paths = write_textures(tmp_path, n=3, seconds=0.5)
    torch.set_num_threads(1)
    r1 = train(PRESETS["tiny"], tmp_path / "a.pt", paths=paths, seed=3, steps=5)
    r2 = train(PRESETS["tiny"], tmp_path / "b.pt", paths=paths, seed=3, steps=5)
    a, b = load(tmp_path / "a.pt"), load(tmp_path / "b.pt")
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])
    assert r1["held_out"] == r2["held_out"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_bad_checkpoints_are_refused(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        load(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x80\x04not a checkpoint")
    with pytest.raises(BadInput, match="cannot be read"):
        load(junk)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(BadInput, match="not a Latent Timbre Synthesis checkpoint"):
        load(other)


def test_shipped_tiny_weights_load():
    p = Path(__file__).resolve().parents[2] / "generator" / "weights" / "lts" / "tiny.pt"
    assert p.stat().st_size <= 10 * 1024 * 1024
    loaded = load(p)
    assert loaded.preset.name == "tiny"
    assert any(n.startswith("texture") for n in loaded.anchors["names"])
    assert any(n.startswith("chorale") for n in loaded.anchors["names"])


def test_reference_preset_has_the_published_sizes(tmp_path):
    p = PRESETS["reference"]
    assert (p.cqt.sr, p.cqt.hop, p.cqt.bins_per_octave, p.cqt.n_bins) == (44100, 128, 48, 384)
    paths = write_textures(tmp_path, n=3, seconds=0.5)
    torch.set_num_threads(1)
    train(p, tmp_path / "ref.pt", paths=paths, seed=0, steps=2)
    m = load(tmp_path / "ref.pt").model
    assert [tuple(w.shape) for w in (m.enc[0].weight, m.mu.weight, m.dec[0].weight, m.dec[2].weight)] == [
        (2048, 384), (256, 2048), (2048, 256), (384, 2048)]


def test_long_files_are_read_in_chunks():
    from generator.lts.train import frames_of

    spec = PRESETS["tiny"].cqt
    x = sounds._finish(sounds.drone(2.0, np.random.default_rng(0)))
    whole = frames_of(x, spec, chunk_seconds=60)
    parts = frames_of(x, spec, chunk_seconds=0.5)
    assert whole.shape == parts.shape == (192, int(np.ceil(len(x) / spec.hop)))
    # away from the chunk edges the frames agree
    assert np.corrcoef(whole[:, 500:560].ravel(), parts[:, 500:560].ravel())[0, 1] > 0.9
