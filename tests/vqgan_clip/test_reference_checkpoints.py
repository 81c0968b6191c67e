"""taming-transformers checkpoints written by PyTorch Lightning itself, from taming's own ``VQModel``, by
scripts/fixtures/make_lightning_checkpoint.py: with 1.0.8 (the version the published ImageNet VQGAN files
were written with: ``callbacks`` keyed by the ModelCheckpoint class) and with 1.9.5 (keyed by a string,
with ``loops``); imported and compared with taming's outputs (scripts/fixtures/make_reference_checkpoints.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gallery import safe_load
from generator.vqgan_clip.checkpoints import read_state_dict
from generator.vqgan_clip.model import build

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"
CKPT = FIXTURES / "taming-lightning1.ckpt"
CKPT19 = FIXTURES / "taming-lightning19.ckpt"
# The reduced taming layout of the fixture (taming's GroupNorm needs channels divisible by 32).
TAMING_SMALL = {"ddconfig": {"double_z": False, "z_channels": 32, "resolution": 16, "in_channels": 3, "out_ch": 3,
                             "ch": 32, "ch_mult": [1, 1], "num_res_blocks": 1, "attn_resolutions": [8],
                             "dropout": 0.0},
                "n_embed": 64, "embed_dim": 8}


def test_lightning1_checkpoint_structure_is_read_inertly() -> None:
    got = safe_load.read(CKPT)
    assert got.format == "torch-zip"
    assert got.named == {"pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint": 1}
    (key,) = got.obj["callbacks"]
    assert safe_load.placeholder_ref(key) == "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"
    state = got.obj["callbacks"][key]  # ModelCheckpoint.on_save_checkpoint of PL 1.0.8, monitoring val/rec_loss
    assert state["best_model_score"].shape == () and 0 < float(state["best_model_score"]) < 2
    assert state["best_model_path"] == "logs/2020-11-09T13-31-51_tiny/checkpoints/epoch=000000.ckpt"
    assert got.obj["lr_schedulers"] == []
    opt_ae, opt_disc = got.obj["optimizer_states"]  # VQModel.configure_optimizers: autoencoder, discriminator
    assert opt_ae["param_groups"][0]["lr"] == 4.5e-6 and opt_ae["param_groups"][0]["betas"] == (0.5, 0.9)
    assert {"exp_avg", "exp_avg_sq"} <= set(opt_ae["state"][0]) and opt_disc["state"]
    assert any(k.startswith("loss.discriminator.") for k in got.obj["state_dict"])


def test_lightning19_checkpoint_structure_is_read_inertly() -> None:
    got = safe_load.read(CKPT19)
    assert got.format == "torch-zip" and got.named == {}  # Lightning 1.9 pickles no classes of its own
    (key,) = got.obj["callbacks"]
    assert key.startswith("ModelCheckpoint{'monitor': 'train/aeloss_epoch', 'mode': 'min'")
    state = got.obj["callbacks"][key]
    assert state["best_model_path"] == "logs/2020-11-09T13-31-51_tiny/checkpoints/epoch=000000.ckpt"
    assert set(state["best_k_models"]) == {state["best_model_path"]} and state["best_model_score"].shape == ()
    progress = got.obj["loops"]["fit_loop"]["epoch_loop.batch_loop.optimizer_loop.optim_progress"]
    assert progress["optimizer"]["step"]["total"]["completed"] == 2  # both of VQModel's optimisers stepped
    assert len(got.obj["optimizer_states"]) == 2


@pytest.mark.parametrize(("path", "version"), [(CKPT, "1.0.8"), (CKPT19, "1.9.5")])
def test_lightning_checkpoint_matches_taming(path: Path, version: str) -> None:
    sd, arch, meta = read_state_dict(path)
    assert arch is None and meta == {"epoch": 1, "global_step": 2, "pytorch-lightning_version": version}
    model = build(TAMING_SMALL).eval()
    model.load_state_dict(sd, strict=True)  # loss.* set aside, everything else matches exactly
    ref = np.load(FIXTURES / "taming-reference.npz")
    with torch.no_grad():
        zq, _, idx = model.quantize(model.encode(torch.from_numpy(ref["x"]) * 2 - 1))
        rec = model.decode(zq)
    assert np.array_equal(idx.reshape(-1).numpy(), ref["indices"].reshape(-1))
    assert np.abs(rec.numpy() - ref["decoded"]).max() < 1e-4
