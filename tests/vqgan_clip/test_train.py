"""The training commands on their smoke presets: they learn, save a loadable file, and say what they measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from generator.vqgan_clip.checkpoints import load
from generator.vqgan_clip.clip import load_clip_file
from generator.vqgan_clip.presets import VQGAN_ARCHS


def _cli(capsys, config_file: Path, *args: str) -> tuple[int, str, str]:
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--config", str(config_file), *args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_train_clip_smoke(capsys, config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.pt"
    code, stdout, err = _cli(capsys, config_file, "train", "clip", "--preset", "smoke", "--out", str(out), "--json")
    assert code == 0, err
    meta = json.loads(stdout)
    assert meta["path"] == str(out) and set(meta["retrieval"]) == {"top1", "top5", "n"}
    enc = load_clip_file(out, device="cpu")
    assert enc.model_sha256 == meta["sha256"] and enc.encode_texts(["a red circle"]).shape == (1, enc.dim)
    assert out.stat().st_size < 4_000_000  # float16 and only the trained rows of the token embedding
    code, _, err = _cli(capsys, config_file, "train", "clip", "--preset", "huge")
    assert code == 2 and "unknown CLIP preset 'huge'" in err


def test_train_vqgan_smoke_learns(capsys, config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "vq.pt"
    code, stdout, err = _cli(capsys, config_file, "train", "vqgan", "--preset", "smoke", "--out", str(out),
                             "--steps", "40", "--json")
    assert code == 0, err
    meta = json.loads(stdout)
    assert meta["params"]["adversarial_weight"] > 0 and meta["final"]["adv"] != 0  # the GAN term ran
    # Reconstruction improves. How much 40 steps buy depends on the processor's floating-point paths
    # (18% on one CPU, 2.4% on another of the same kind), so only the direction is asserted.
    assert meta["final"]["rec"] < meta["first"]["rec"]
    assert meta["final"]["per"] < meta["first"]["per"]
    _model, sha, arch = load(out)
    assert sha == meta["sha256"] and arch == VQGAN_ARCHS["tiny"]


def test_joint_hard_groups_differ_in_shape_and_colour_only() -> None:
    from generator.datasets import shapes
    from generator.vqgan_clip.train_clip import hard_groups

    k = len(shapes.SHAPES)
    imgs, caps = hard_groups(3, 6, 32, colours=2, single=1.0, short=1.0)
    assert imgs.shape == (6 * 2 * k, 32, 32, 3) and len(caps) == len(imgs)
    for g in range(6):
        grp = caps[g * 2 * k:(g + 1) * 2 * k]
        assert len(set(grp)) == 2 * k  # every (colour, shape) once, as a bare caption
        assert all(c.split()[0] == "a" and len(c.split()) == 3 for c in grp)
        assert {c.split()[2] for c in grp} == set(shapes.SHAPES) and len({c.split()[1] for c in grp}) == 2
    # the original single-colour groups are drawn as before (the shipped stages stay reproducible)
    a, ca = hard_groups(3, 4, 32)
    b, cb = hard_groups(3, 4, 32, colours=1, single=0.0, short=0.5)
    assert ca == cb and np.array_equal(a, b)


def test_distinct_caption_loss_leaves_repeated_captions_out() -> None:
    import open_clip
    import torch

    from generator.vqgan_clip.train_clip import clip_loss_distinct

    torch.manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    txt = img.clone()
    tok = torch.tensor([[1, 2], [3, 4], [5, 6], [7, 8]])
    scale = torch.tensor(10.0)
    plain = open_clip.ClipLoss()(img, txt, scale)
    assert torch.allclose(clip_loss_distinct(img, txt, scale, tok), plain)  # no repeats: open_clip's loss
    img2, txt2 = img.clone(), txt.clone()
    img2[1], txt2[1], tok2 = img2[0], txt2[0], tok.clone()
    tok2[1] = tok2[0]  # pair 1 repeats pair 0: same picture, same caption
    assert clip_loss_distinct(img2, txt2, scale, tok2) < open_clip.ClipLoss()(img2, txt2, scale) - 0.1


def test_shipped_vqgan_keeps_object_colours() -> None:
    """A drawn object of every colour and shape comes back out of the shipped VQGAN in its own colour (a red
    circle on white stays red: the first shipped weights turned it yellow)."""
    from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN
    from generator.vqgan_clip.train_vqgan import object_colours

    model, _, _ = load(SHIPPED_VQGAN)
    r = object_colours(model)
    assert r["object_colour_n"] == 144 and r["object_colour_ok"] >= 0.95, r


def test_adversarial_images_stay_in_the_ball_and_raise_the_loss() -> None:
    """The robust stage's projected gradient ascent: every pixel moves at most eps, the result stays an image,
    the model matches the moved images to their captions worse, and the same generator gives the same images."""
    import open_clip
    import torch

    from generator.datasets import shapes
    from generator.vqgan_clip.clip import SHIPPED_CLIP, load_weights
    from generator.vqgan_clip.train_clip import adversarial_images

    model, _ = load_weights(SHIPPED_CLIP)
    model = model.float().eval()
    tok = open_clip.get_tokenizer("lg-tiny-shapes-clip")
    imgs, caps = shapes.batch(range(7000, 7016), 64)
    x01 = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255
    tokens = tok(caps)
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    eps = 8 / 255

    def loss(x: torch.Tensor) -> float:
        with torch.no_grad():
            f_i, f_t, s = model((x - mean) / std, tokens)[:3]
            return float(open_clip.ClipLoss()(f_i, f_t, s))

    def clip_loss(img_f, txt_f, scale, _tokens):
        return open_clip.ClipLoss()(img_f, txt_f, scale)

    adv = adversarial_images(model, x01, tokens, mean, std, eps, 2, torch.Generator().manual_seed(0), clip_loss)
    assert (adv - x01).abs().max() <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert loss(adv) > loss(x01) + 0.5
    again = adversarial_images(model, x01, tokens, mean, std, eps, 2, torch.Generator().manual_seed(0), clip_loss)
    assert torch.equal(adv, again)
    assert all(p.requires_grad for p in model.visual.parameters())  # left trainable
