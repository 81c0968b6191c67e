"""VQGAN with taming-transformers names: real checkpoint structure loads strictly and safely."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import torch

from gallery.errors import BadInput
from generator.vqgan_clip.checkpoints import load, read_state_dict
from generator.vqgan_clip.model import build
from generator.vqgan_clip.presets import VQGAN_ARCHS

# Entries of the published vqgan_imagenet_f16_16384 state dict (name -> shape), as taming writes them.
TAMING_F16_SHAPES = {
    "encoder.conv_in.weight": (128, 3, 3, 3),
    "encoder.down.0.block.0.norm1.weight": (128,),
    "encoder.down.2.block.0.nin_shortcut.weight": (256, 128, 1, 1),
    "encoder.down.3.downsample.conv.weight": (256, 256, 3, 3),
    "encoder.down.4.block.0.nin_shortcut.weight": (512, 256, 1, 1),
    "encoder.down.4.attn.1.q.weight": (512, 512, 1, 1),
    "encoder.mid.attn_1.proj_out.weight": (512, 512, 1, 1),
    "encoder.conv_out.weight": (256, 512, 3, 3),
    "quant_conv.weight": (256, 256, 1, 1),
    "quantize.embedding.weight": (16384, 256),
    "post_quant_conv.weight": (256, 256, 1, 1),
    "decoder.conv_in.weight": (512, 256, 3, 3),
    "decoder.mid.block_1.conv1.weight": (512, 512, 3, 3),
    "decoder.up.4.attn.2.k.weight": (512, 512, 1, 1),
    "decoder.up.4.upsample.conv.weight": (512, 512, 3, 3),
    "decoder.up.3.block.0.nin_shortcut.weight": (256, 512, 1, 1),
    "decoder.up.1.block.0.nin_shortcut.weight": (128, 256, 1, 1),
    "decoder.up.0.block.2.conv2.weight": (128, 128, 3, 3),
    "decoder.norm_out.weight": (128,),
    "decoder.conv_out.weight": (3, 128, 3, 3),
}


def test_f16_16384_names_and_shapes() -> None:
    with torch.device("meta"):
        sd = build(VQGAN_ARCHS["f16_16384"]).state_dict()
    for name, shape in TAMING_F16_SHAPES.items():
        assert tuple(sd[name].shape) == shape, name
    # taming's layout: no attention outside the 16x16 level, three decoder blocks per level, none extra
    assert not any(".attn." in k for k in sd if k.startswith(("encoder.down.3", "decoder.up.3")))
    assert "decoder.up.0.upsample.conv.weight" not in sd and "encoder.down.4.downsample.conv.weight" not in sd
    n_params = sum(v.numel() for v in sd.values())
    assert 75e6 < n_params < 77e6  # the published model's VQModel part is about 76M parameters


class _System:
    """Unpickling this with pickle.load would run a shell command."""

    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple:
        import os

        return (os.system, (self.cmd,))


def _lightning_ckpt(arch: str, extra: dict | None = None) -> dict:
    torch.manual_seed(0)
    model = build(VQGAN_ARCHS[arch])
    sd = dict(model.state_dict())
    # the training-only parts a taming checkpoint carries
    sd["loss.discriminator.main.0.weight"] = torch.randn(64, 3, 4, 4)
    sd["loss.perceptual_loss.lin0.model.1.weight"] = torch.randn(1, 64, 1, 1)
    ckpt = {"epoch": 3, "global_step": 1000, "pytorch-lightning_version": "1.0.8", "state_dict": sd,
            "callbacks": {}, "optimizer_states": [], "lr_schedulers": []}
    ckpt.update(extra or {})
    return ckpt, model


@pytest.mark.slow
def test_full_size_f16_1024_lightning_checkpoint_loads_strictly(tmp_path: Path) -> None:
    ckpt, model = _lightning_ckpt("f16_1024")
    path = tmp_path / "last.ckpt"
    torch.save(ckpt, path)
    del ckpt
    loaded, sha, arch = load(path)
    assert arch["n_embed"] == 1024 and len(sha) == 64
    for k in ("decoder.up.4.attn.0.q.weight", "quantize.embedding.weight", "encoder.conv_out.bias"):
        assert torch.equal(loaded.state_dict()[k], model.state_dict()[k])
    with torch.no_grad():
        x = torch.rand(1, 3, 32, 32) * 2 - 1
        assert torch.equal(loaded(x)[0], model.eval()(x)[0])


def test_tiny_lightning_checkpoint_and_refusals(tmp_path: Path) -> None:
    ckpt, _model = _lightning_ckpt("tiny")
    good = tmp_path / "tiny.ckpt"
    torch.save(ckpt, good)
    _loaded, _, arch = load(good)
    assert arch == VQGAN_ARCHS["tiny"]
    sd, _, meta = read_state_dict(good)
    assert not any(k.startswith("loss.") for k in sd) and meta["global_step"] == 1000

    # a Namespace of hyper-parameters is kept as an inert placeholder: the weights load
    hp = tmp_path / "hparams.ckpt"
    torch.save(_lightning_ckpt("tiny", {"hyper_parameters": argparse.Namespace(lr=1)})[0], hp)
    assert load(hp).arch == VQGAN_ARCHS["tiny"]
    # a checkpoint whose unpickling would run a command is refused, and nothing runs
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    torch.save(_lightning_ckpt("tiny", {"hyper_parameters": _System(f"touch {marker}")})[0], evil)
    with pytest.raises(BadInput, match=r"refused: .*(posix|os)\.system") as e:
        load(evil)
    assert "weights_only" not in str(e.value) and not marker.exists()

    # a wrong shape is named
    bad = dict(ckpt)
    bad["state_dict"] = dict(ckpt["state_dict"])
    bad["state_dict"]["decoder.conv_out.weight"] = torch.zeros(3, 8, 3, 3)
    torch.save(bad, tmp_path / "bad.ckpt")
    with pytest.raises(BadInput, match=re.escape("decoder.conv_out.weight")):
        load(tmp_path / "bad.ckpt")

    # unknown codebook, missing codebook, not a checkpoint, missing file
    odd = {"state_dict": {"quantize.embedding.weight": torch.zeros(77, 5)}}
    torch.save(odd, tmp_path / "odd.ckpt")
    with pytest.raises(BadInput, match="77 x 5"):
        load(tmp_path / "odd.ckpt")
    torch.save({"state_dict": {"x": torch.zeros(1)}}, tmp_path / "none.ckpt")
    with pytest.raises(BadInput, match=re.escape("no quantize.embedding.weight")):
        load(tmp_path / "none.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(BadInput, match=re.escape("junk.ckpt")):
        load(tmp_path / "junk.ckpt")
    with pytest.raises(BadInput, match="does not exist"):
        load(tmp_path / "missing.ckpt")


def test_import_vqgan_registers_the_checkpoint(capsys, config_file: Path, settings, tmp_path: Path) -> None:
    from gallery.cli import main

    ckpt, _ = _lightning_ckpt("tiny")
    path = tmp_path / "mine.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(SystemExit) as e:
        main(["--config", str(config_file), "import", "vqgan", str(path), "--json"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    import json

    res = json.loads(out)
    assert res["n_embed"] == VQGAN_ARCHS["tiny"]["n_embed"]
    from catalogue import open_catalogue
    from catalogue.models import Model

    with open_catalogue(settings) as cat, cat.read() as s:
        m = s.get(Model, res["model"])
        assert m.family == "vqgan" and m.weights_sha256 == res["sha256"]
    with pytest.raises(SystemExit) as e:
        main(["--config", str(config_file), "import", "vqgan", str(tmp_path / "nope.ckpt")])
    assert e.value.code == 2 and "does not exist" in capsys.readouterr().err


def test_decoder_gradient_checkpointing_gives_the_same_gradients() -> None:
    torch.manual_seed(0)
    model = build(VQGAN_ARCHS["tiny"]).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    z = torch.randn(1, model.embed_dim, 8, 8)
    grads = []
    for flag in (False, True):
        model.decoder.grad_checkpoint = flag
        zz = z.clone().requires_grad_(True)
        model.decode(zz).pow(2).mean().backward()
        grads.append(zz.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
