import numpy as np
import pytest
import torch

from gallery.errors import BadInput
from generator.musicvae.checkpoints import load, save_checkpoint
from generator.musicvae.events import NUM_CLASSES
from generator.musicvae.model import MusicVAE, inverse_sigmoid, kl_divergence, loss_terms
from generator.musicvae.presets import PRESETS, ModelConfig, Preset, TrainConfig, get_preset
from generator.musicvae.train import evaluate, train_model, transpose_batch

from .helpers import melody_events

SMALL = ModelConfig(bars=2, embed=8, enc_hidden=16, latent=4, dec_hidden=16, dec_layers=1)
SMALL_H = ModelConfig(bars=4, hierarchical=True, embed=8, enc_hidden=16, latent=4, dec_hidden=16, dec_layers=1,
                      conductor_hidden=8)


@pytest.mark.parametrize("cfg", [SMALL, SMALL_H])
def test_shapes_and_decoding(cfg):
    torch.manual_seed(0)
    m = MusicVAE(cfg).eval()
    x = torch.as_tensor(np.stack([melody_events(cfg.bars, seed=i) for i in range(3)]))
    logits, mu, logvar = m(x, ss_prob=0.5, generator=torch.Generator().manual_seed(1))
    assert logits.shape == (3, cfg.bars * 16, NUM_CLASSES) and mu.shape == logvar.shape == (3, 4)
    z = torch.randn(5, 4)
    a = m.decode(z, temperature=1.0, generator=torch.Generator().manual_seed(3))
    b = m.decode(z, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert a.shape == (5, cfg.bars * 16) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() < NUM_CLASSES
    with pytest.raises(ValueError, match="reads"):
        m.encode(x[:, :16])


def test_hierarchical_decoder_gives_each_bar_its_own_embedding():
    m = MusicVAE(SMALL_H)
    ctx = m.bar_contexts(torch.randn(2, 4))
    assert ctx.shape == (2, 4, 8)
    assert not torch.allclose(ctx[:, 0], ctx[:, 1])  # the conductor moves on from bar to bar


def test_teacher_forced_inputs_shift_per_bar():
    m = MusicVAE(SMALL_H)
    x = torch.arange(64).remainder(NUM_CLASSES)[None]
    inp = m._inputs(x)[0].view(4, 16)
    assert (inp[:, 0] == NUM_CLASSES).all()  # each bar starts from the start token
    assert torch.equal(inp[:, 1:], x[0].view(4, 16)[:, :-1])


def test_kl_free_bits_and_schedule():
    assert torch.allclose(kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))
    m = MusicVAE(SMALL)
    x = torch.as_tensor(np.stack([melody_events(2, seed=i) for i in range(4)]))
    free = loss_terms(m, x, beta=1.0, free_bits=1e6, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(free["loss"], free["rec"])  # all KL below the free bits costs nothing
    assert inverse_sigmoid(0, 100) < 0.01 < inverse_sigmoid(500, 100) < inverse_sigmoid(2000, 100) <= 1.0
    assert inverse_sigmoid(10_000, 0) == 0.0


def test_transposition_augmentation_stays_in_range():
    g = torch.Generator().manual_seed(0)
    x = torch.as_tensor(np.stack([melody_events(2, base=b) for b in (30, 60, 95)]))
    y = transpose_batch(x, 5, g)
    assert torch.equal(y < 2, x < 2)  # rests and holds untouched
    assert y[y >= 2].min() >= 2 and y.max() < NUM_CLASSES
    shifts = {int((y[i][x[i] >= 2] - x[i][x[i] >= 2]).unique().item()) for i in range(3)}
    assert all(-5 <= s <= 6 for s in shifts)


def test_training_learns_to_reconstruct():
    torch.set_num_threads(1)
    data = np.stack([melody_events(2, 57 + i, seed=i) for i in range(8)])
    cfg = ModelConfig(bars=2, embed=16, enc_hidden=32, latent=8, dec_hidden=64, dec_layers=1)
    preset = Preset("t", cfg, TrainConfig(steps=300, batch=8, lr=1e-2, beta_warmup=50, free_bits=2.0,
                                           ss_rate=0, transpose=0))
    before = evaluate(MusicVAE(cfg), data)
    model, hist = train_model(preset, data, seed=0)
    after = evaluate(model, data)
    assert hist[-1]["rec"] < hist[0]["rec"] / 4
    always_hold = float((data == 0).mean())  # what predicting "no event" everywhere would score
    assert after["tf_acc"] > max(always_hold + 0.1, before["tf_acc"] + 0.2)
    assert 0.0 <= after["sampled_acc"] <= 1.0


def test_presets_are_data_and_checkpoints_round_trip(tmp_path):
    assert {"tiny-2bar", "tiny-16bar", "mel-2bar", "mel-16bar"} <= set(PRESETS)
    assert PRESETS["tiny-16bar"].model.hierarchical and PRESETS["tiny-16bar"].model.bars == 16
    assert PRESETS["mel-2bar"].model.latent == 512
    with pytest.raises(BadInput, match="unknown Music-VAE preset"):
        get_preset("huge")
    m = MusicVAE(SMALL)
    sha = save_checkpoint(tmp_path / "m.pt", m, "t", {"density": torch.ones(4)}, {"steps": 1})
    loaded = load(tmp_path / "m.pt")
    assert loaded.sha256 == sha and loaded.model.cfg == SMALL and loaded.info == {"steps": 1}
    for k, v in m.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v)
    assert torch.equal(loaded.attributes["density"], torch.ones(4))


def test_bad_checkpoints_are_named(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput, match="cannot be read safely"):
        load(tmp_path / "junk.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(BadInput, match="not a Music-VAE checkpoint"):
        load(tmp_path / "other.pt")
    good = MusicVAE(SMALL)
    sd = good.state_dict()
    sd.pop("decoder.out.bias")
    torch.save({"format": "latent-gallery.musicvae/1", "config": SMALL.to_dict(), "state_dict": sd},
               tmp_path / "bad.pt")
    with pytest.raises(BadInput, match="does not match"):
        load(tmp_path / "bad.pt")


def test_baselines_on_known_windows():
    from generator.musicvae.train import baselines

    bar = np.array([30, 0, 0, 0, 32, 0, 1, 0, 34, 0, 0, 0, 35, 0, 0, 0])
    held = np.tile(bar, 4)[None, :]  # the same bar four times
    b = baselines(np.tile(bar, 4)[None, :], held)
    no_event = float((held == 0).mean())
    assert b["no event"]["tf_acc"] == pytest.approx(no_event)
    # every step after the first bar, and the first bar's 'no event' steps
    assert b["previous bar"]["tf_acc"] == pytest.approx((48 + (bar == 0).sum()) / 64)
    assert b["previous bar"]["sampled_acc"] == pytest.approx(1.0)  # the first bar, repeated
    # trained on this very melody, the bigram + position model predicts every step
    assert b["bigram + bar position"]["tf_acc"] == pytest.approx(1.0)
    assert b["bigram + bar position"]["sampled_acc"] == pytest.approx(1.0)
    other = baselines(np.zeros((1, 64), np.int64), held)
    assert other["bigram + bar position"]["tf_acc"] == pytest.approx(no_event)


def test_wrong_z_accuracy_is_a_fraction():
    from generator.musicvae.train import evaluate_wrong_z

    torch.manual_seed(0)
    model = MusicVAE(ModelConfig(bars=2, embed=8, enc_hidden=8, latent=4, dec_hidden=8, dec_layers=1))
    w = np.random.default_rng(0).integers(0, NUM_CLASSES, (5, 32))
    r = evaluate_wrong_z(model, w)
    assert 0.0 <= r["tf_acc"] <= 1.0 and 0.0 <= r["sampled_acc"] <= 1.0
