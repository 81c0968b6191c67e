"""Magenta's Music-VAE checkpoints without TensorFlow, against outputs TensorFlow itself computed.

The fixtures in tests/fixtures/musicvae_tf/ were written by scripts/fixtures/musicvae_tf_reference.py
(TF 2.21, tf.raw_ops.LSTMBlockCell, magenta's variable names, reduced sizes, random weights)."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from gallery.errors import BadInput
from generator.musicvae import crc32c as crc
from generator.musicvae.magenta_import import load_magenta, lstm_from_tf
from generator.musicvae.tfcheckpoint import CheckpointError, TFCheckpoint

from .helpers import scale_melody, write_midi
from .test_cli import gallery

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "musicvae_tf"
CONFIGS = ["cat-mel_2bar_big", "hierdec-mel_16bar"]


def test_crc32c_matches_the_standard_and_the_bytewise_form():
    assert crc.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc.crc32c(b"") == 0
    data = np.random.default_rng(0).integers(0, 256, 200_003, dtype=np.uint8).tobytes()
    whole = crc.crc32c(data)  # the chunked numpy path
    assert whole == crc._update_bytes(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    assert crc.crc32c(data[77_777:], crc.crc32c(data[:77_777])) == whole
    assert whole != zlib.crc32(data)  # not the IEEE polynomial
    assert crc.unmask(crc.mask(whole)) == whole and crc.mask(whole) != whole


def test_reader_lists_and_verifies_every_variable():
    ck = TFCheckpoint(FIX / "hierdec-mel_16bar")
    assert ck.shards == 1 and len(ck.entries) == 26
    assert ck.shape("core_decoder/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel") == (90 + 48 + 48, 4 * 48)
    js = json.loads((FIX / "hierdec-mel_16bar-js" / "weights_manifest.json").read_text())
    written = {w["name"] for w in js[0]["weights"]}
    assert written == set(ck.entries)
    for name in ck.entries:  # checksums verified; the same numbers as the magenta-js copy
        assert ck.tensor(name).dtype == np.float32
    # one prefix, its .index or the folder all name the same checkpoint
    assert TFCheckpoint(FIX / "hierdec-mel_16bar" / "model.ckpt.index").prefix == ck.prefix
    with pytest.raises(CheckpointError, match="no variable 'encoder/nope'"):
        ck.tensor("encoder/nope")


def test_lstm_gate_order_and_forget_bias_follow_lstmblockcell():
    rng = np.random.default_rng(3)
    n_in, h = 5, 4
    kernel, bias = rng.normal(size=(n_in + h, 4 * h)), rng.normal(size=4 * h)
    x, h0, c0 = rng.normal(size=(2, n_in)), rng.normal(size=(2, h)), rng.normal(size=(2, h))
    # TF's LSTMBlockCell: [i, ci, f, o] = [x, h] W + b; f += forget_bias
    i, ci, f, o = np.split(np.concatenate([x, h0], 1) @ kernel + bias, 4, axis=1)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c1 = sig(i) * np.tanh(ci) + c0 * sig(f + 1.0)
    h1 = sig(o) * np.tanh(c1)
    w_ih, w_hh, b = lstm_from_tf(torch.tensor(kernel), torch.tensor(bias), n_in)
    h_t, c_t = torch.lstm_cell(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)), w_ih, w_hh, b, None)
    assert np.allclose(h_t.numpy(), h1, atol=1e-12) and np.allclose(c_t.numpy(), c1, atol=1e-12)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("fmt", ["tf", "js"])
def test_torch_port_matches_tensorflow(config, fmt):
    model, report = load_magenta(FIX / (config + ("-js" if fmt == "js" else "")), config)
    assert report["variables_ignored"] == 0 and not report["published_sizes"]
    e = np.load(FIX / f"{config}_expected.npz")
    ev = torch.as_tensor(e["events"])
    with torch.no_grad():
        mu, sigma = model.encode_sigma(ev)
        z = torch.as_tensor(e["z"])
        ids, logits = model.run(z)
        _, teacher = model.run(z, torch.as_tensor(np.concatenate([e["events"], e["events"][:1]])))
    assert np.abs(mu.numpy() - e["mu"]).max() < 1e-5
    assert np.abs(sigma.numpy() - e["sigma"]).max() < 1e-5
    assert np.abs(teacher.numpy() - e["teacher_logits"]).max() < 1e-5
    assert (ids.numpy() == e["greedy_ids"]).all() and len(np.unique(e["greedy_ids"])) > 3
    assert np.abs(logits.numpy() - e["greedy_logits"]).max() < 1e-5
    if model.cfg.hierarchical:
        assert np.abs(model.bar_contexts(z).detach().numpy() - e["conductor"]).max() < 1e-5
    assert (model.decode(z) == ids).all()


def _copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(FIX / name, dst)
    return dst


def test_damaged_checkpoints_are_refused_by_name(tmp_path):
    d = _copy("cat-mel_2bar_big", tmp_path)
    data = d / "model.ckpt.data-00000-of-00001"
    blob = bytearray(data.read_bytes())
    ck = TFCheckpoint(d)
    e = ck.entries["decoder/output_projection/kernel"]
    blob[e.offset + 10] ^= 0x40
    data.write_bytes(bytes(blob))
    with pytest.raises(BadInput, match="checksum mismatch in variable 'decoder/output_projection/kernel'"):
        load_magenta(d, "cat-mel_2bar_big")
    data.write_bytes(bytes(blob[: e.offset + 4]))
    with pytest.raises(BadInput, match="runs past the end of the data file"):
        load_magenta(d, "cat-mel_2bar_big")
    data.unlink()
    with pytest.raises(BadInput, match=r"data shard holding 'encoder/.*' is missing"):
        load_magenta(d, "cat-mel_2bar_big")
    index = d / "model.ckpt.index"
    raw = (FIX / "cat-mel_2bar_big" / "model.ckpt.index").read_bytes()
    index.write_bytes(raw[:-20])
    with pytest.raises(BadInput, match="not a TensorFlow checkpoint index"):
        load_magenta(d, "cat-mel_2bar_big")
    flipped = bytearray(raw)
    flipped[30] ^= 1
    index.write_bytes(bytes(flipped))
    with pytest.raises(BadInput, match="checksum mismatch in the data block"):
        load_magenta(d, "cat-mel_2bar_big")


def test_wrong_config_and_shapes_are_named(tmp_path):
    with pytest.raises(BadInput, match=r"hierarchical decoder.*try --config hierdec-mel_16bar"):
        load_magenta(FIX / "hierdec-mel_16bar", "cat-mel_2bar_big")
    with pytest.raises(BadInput, match=r"a flat decoder .*try --config cat-mel_2bar_big"):
        load_magenta(FIX / "cat-mel_2bar_big", "hierdec-mel_16bar")
    with pytest.raises(BadInput, match="unknown Music-VAE config 'mel-9bar'"):
        load_magenta(FIX / "cat-mel_2bar_big", "mel-9bar")
    d = _copy("cat-mel_2bar_big-js", tmp_path)
    man = json.loads((d / "weights_manifest.json").read_text())
    for w in man[0]["weights"]:
        if w["name"] == "decoder/output_projection/kernel":
            w["shape"] = [90, 64]  # the same bytes, transposed
    (d / "weights_manifest.json").write_text(json.dumps(man))
    with pytest.raises(BadInput, match=r"'decoder/output_projection/kernel' has shape \[90, 64\], expected \[64, 90\]"):
        load_magenta(d, "cat-mel_2bar_big")
    (d / "group1-shard2of2").unlink()
    with pytest.raises(BadInput, match=r"group1-shard2of2: the weights shard holding .* is missing"):
        load_magenta(d, "cat-mel_2bar_big")


def test_quantised_magenta_js_weights(tmp_path):
    """magenta-js publishes some checkpoints quantised (uint8 with scale and min)."""
    src = FIX / "cat-mel_2bar_big-js"
    man = json.loads((src / "weights_manifest.json").read_text())
    blob = (src / "group1-shard1of2").read_bytes() + (src / "group1-shard2of2").read_bytes()
    out, off, exact = b"", 0, {}
    for w in man[0]["weights"]:
        n = int(np.prod(w["shape"]))
        a = np.frombuffer(blob, "<f4", n, off)
        off += 4 * n
        lo, scale = float(a.min()), float(a.max() - a.min()) / 255 or 1.0
        q = np.round((a - lo) / scale).astype(np.uint8)
        w["quantization"] = {"dtype": "uint8", "scale": scale, "min": lo}
        exact[w["name"]] = q.astype(np.float32) * np.float32(scale) + np.float32(lo)
        out += q.tobytes()
    man[0]["paths"] = ["q.bin"]
    (tmp_path / "q.bin").write_bytes(out)
    (tmp_path / "weights_manifest.json").write_text(json.dumps(man))
    model, report = load_magenta(tmp_path, "cat-mel_2bar_big")
    assert report["format"] == "magenta-js weights manifest"
    assert np.allclose(model.mu.weight.detach().numpy().T, exact["encoder/mu/kernel"].reshape(64 * 2, 16))


def test_cli_import_then_sample_interpolate_attribute(config_file, tmp_path, capsys):
    cfg = str(config_file)
    r = gallery(capsys, ["--config", cfg, "import", "musicvae", str(FIX / "cat-mel_2bar_big"),
                         "--config", "cat-mel_2bar_big", "--name", "mel2", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output.splitlines()[0])
    assert info["bars"] == 2 and info["sizes"]["dec_sizes"] == [64, 64, 64] and info["config_key"] == \
        "musicvae.checkpoint_2bar"
    r = gallery(capsys, ["--config", cfg, "import", "musicvae", str(FIX / "hierdec-mel_16bar-js"),
                         "--config", "hierdec-mel_16bar", "--name", "mel16"])
    assert r.exit_code == 0 and "registered mel16" in r.output and "magenta-js" in r.output, r.output
    r = gallery(capsys, ["--config", cfg, "import", "musicvae", str(FIX / "cat-mel_2bar_big"), "--config", "big"])
    assert r.exit_code == 2 and "unknown Music-VAE config 'big'" in r.output
    r = gallery(capsys, ["--config", cfg, "import", "musicvae", str(tmp_path / "nothing"),
                         "--config", "cat-mel_2bar_big"])
    assert r.exit_code == 2 and "nothing.index does not exist" in r.output
    r = gallery(capsys, ["--config", cfg, "import", "musicvae", str(FIX / "cat-mel_2bar_big"),
                         "--config", "cat-mel_2bar_big", "--name", "../escape"])
    assert r.exit_code == 2 and "--name '../escape'" in r.output
    # the imported checkpoints drive the melody jobs
    config_file.write_text(config_file.read_text() + f"musicvae:\n  checkpoint_2bar: {info['path']}\n"
                           f"  checkpoint_16bar: {Path(info['path']).with_name('mel16.pt')}\n")
    a = write_midi(tmp_path / "a.mid", scale_melody(2, base=60, seed=1))
    b = write_midi(tmp_path / "b.mid", scale_melody(2, base=67, seed=2))
    r = gallery(capsys, ["--config", cfg, "generate", "melody", "interpolate", str(a), str(b), "--steps", "3"])
    assert r.exit_code == 0 and "melody artwork" in r.output, r.output
    r = gallery(capsys, ["--config", cfg, "generate", "melody", "sample", "--bars", "16", "--count", "1", "--json"])
    assert r.exit_code == 0 and '"artworks"' in r.output, r.output
    r = gallery(capsys, ["--config", cfg, "generate", "melody", "attribute", str(a)])
    assert r.exit_code == 2 and "not in this checkpoint" in r.output


def test_attribute_vectors_computed_at_import(settings, catalogue, tmp_path):
    from generator.musicvae.checkpoints import load
    from generator.musicvae.magenta_import import import_checkpoint

    rng = np.random.default_rng(0)
    windows = np.zeros((40, 32), np.int64)
    for k, row in enumerate(windows):  # sparse to dense melodies
        row[:: max(1, 8 - k // 5)] = rng.integers(30, 60)
    info = import_checkpoint(FIX / "cat-mel_2bar_big", "cat-mel_2bar_big", settings, catalogue, name="attr",
                             attribute_windows=40, windows=windows)
    loaded = load(info["path"])
    assert "density" in loaded.attributes and loaded.attributes["density"].shape == (16,)
    assert float(loaded.attributes["density"].abs().sum()) > 0
