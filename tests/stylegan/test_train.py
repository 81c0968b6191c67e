"""Training: a few steps of the real loop, checkpoints, resume after a stop, exported weights."""

from __future__ import annotations

import torch

from generator.stylegan.checkpoints import load
from generator.stylegan.train import export_weights, train

from .conftest import SMALL, cli

OVR = {k: getattr(SMALL, k) for k in ("resolution", "z_dim", "w_dim", "mapping_layers", "channel_base",
                                      "channel_max", "batch", "r1_every")}


def test_resume_continues_exactly(tmp_path):
    straight = train("tiny-faces64", tmp_path / "a", steps=4, dataset_size=32, cfg_overrides=OVR)
    train("tiny-faces64", tmp_path / "b", steps=2, dataset_size=32, cfg_overrides=OVR)
    resumed = train("tiny-faces64", tmp_path / "b", steps=4, resume=True)
    assert straight.step == resumed.step == 4 and resumed.images_seen == 4 * SMALL.batch
    a = torch.load(straight.checkpoint, weights_only=True)
    b = torch.load(resumed.checkpoint, weights_only=True)
    for k in a["G_ema"]:
        assert torch.equal(a["G_ema"][k], b["G_ema"][k]), k
    for k in a["D"]:
        assert torch.equal(a["D"][k], b["D"][k]), k
    assert resumed.last_grid.exists()
    w = load(export_weights(resumed.checkpoint, tmp_path / "w.pt"))
    assert w.cfg.resolution == SMALL.resolution and w.D is not None and w.meta["step"] == 4
    # The weights moved away from their initialisation.
    init = train("tiny-faces64", tmp_path / "c", steps=0, dataset_size=32, cfg_overrides=OVR)
    c = torch.load(init.checkpoint, weights_only=True)
    assert not torch.equal(c["G"]["synthesis.b4.conv1.weight"], a["G"]["synthesis.b4.conv1.weight"])


def test_train_cli(tmp_path, config_file):
    out = tmp_path / "run"
    assert cli("-c", str(config_file), "train", "stylegan", "--steps", "1", "--out", str(out)) == 0
    assert (out / "checkpoint.pt").exists() and (out / "weights.pt").exists()
    assert any((out / "samples").glob("step-*.png"))
    assert cli("-c", str(config_file), "train", "stylegan", "--preset", "nope", "--steps", "1") == 2
    assert cli("-c", str(config_file), "train", "stylegan", "--continue", "--steps", "1",
               "--out", str(tmp_path / "empty")) == 2
