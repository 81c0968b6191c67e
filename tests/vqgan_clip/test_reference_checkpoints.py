"""A taming-transformers checkpoint as PyTorch Lightning 1.x writes it (the published ImageNet VQGAN files'
layout: ``callbacks`` keyed by the ModelCheckpoint class itself), written with taming's own modules by
scripts/fixtures/make_reference_checkpoints.py; imported and compared with taming's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gallery import safe_load
from generator.vqgan_clip.checkpoints import read_state_dict
from generator.vqgan_clip.model import build

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"
CKPT = FIXTURES / "taming-lightning1.ckpt"
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
    assert float(got.obj["callbacks"][key]["best_model_score"]) == np.float32(0.731)
    assert len(got.obj["optimizer_states"]) == 2 and got.obj["optimizer_states"][0]["state"]


def test_lightning1_checkpoint_matches_taming() -> None:
    sd, arch, meta = read_state_dict(CKPT)
    assert arch is None and meta == {"epoch": 3, "global_step": 1000, "pytorch-lightning_version": "1.0.8"}
    model = build(TAMING_SMALL).eval()
    model.load_state_dict(sd, strict=True)  # loss.* set aside, everything else matches exactly
    ref = np.load(FIXTURES / "taming-reference.npz")
    with torch.no_grad():
        zq, _, idx = model.quantize(model.encode(torch.from_numpy(ref["x"]) * 2 - 1))
        rec = model.decode(zq)
    assert np.array_equal(idx.reshape(-1).numpy(), ref["indices"].reshape(-1))
    assert np.abs(rec.numpy() - ref["decoded"]).max() < 1e-4
