"""The CLIP encoder the gallery uses (curation's content search, the loop): interface and loading."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gallery.errors import BadInput
from gallery.hashing import sha256_file
from generator.datasets import shapes
from generator.vqgan_clip import clip as C
from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip, load_clip_file, load_weights


@pytest.fixture(scope="module")
def enc():
    from gallery.config import load_settings

    return load_clip(load_settings(None, environ={}, overrides={"device": "cpu"}))


def test_interface(enc) -> None:
    imgs, caps = shapes.batch(range(900_000_000, 900_000_006), 64)
    fi = enc.encode_images([*imgs, np.zeros((30, 50, 3), np.uint8)])
    ft = enc.encode_texts(caps)
    assert fi.shape == (7, enc.dim) and ft.shape == (6, enc.dim)
    assert fi.dtype == np.float32 and ft.dtype == np.float32
    assert np.allclose(np.linalg.norm(fi, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(ft, axis=1), 1, atol=1e-5)
    assert np.array_equal(enc.encode_texts(caps), ft)  # deterministic on CPU
    assert np.array_equal(enc.encode_images(list(imgs))[:3], fi[:3])
    assert enc.model_sha256 == sha256_file(SHIPPED_CLIP) and enc.name == "lg-tiny-shapes-clip"
    assert enc.encode_images([]).shape == (0, enc.dim)


def test_cached_per_process(enc) -> None:
    from gallery.config import load_settings

    assert load_clip(load_settings(None, environ={}, overrides={"device": "cpu"}), device="cpu") is enc


def test_a_replaced_file_is_loaded_again(tmp_path: Path, enc) -> None:
    """Retrained weights written over a file this process already loaded must not be served stale."""
    model, _ = load_weights(SHIPPED_CLIP)
    f = tmp_path / "tiny.pt"
    torch.save({"state_dict": model.state_dict()}, f)
    first = load_clip_file(f, "lg-tiny-shapes-clip", device="cpu")
    assert load_clip_file(f, "lg-tiny-shapes-clip", device="cpu") is first
    with torch.no_grad():
        model.visual.proj.mul_(-1)
    torch.save({"state_dict": model.state_dict()}, f)
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a later write, even on a coarse clock
    second = load_clip_file(f, "lg-tiny-shapes-clip", device="cpu")
    assert second is not first and second.model_sha256 == sha256_file(f) != first.model_sha256
    img = [shapes.render(shapes.Scene((shapes.Group("circle", "red", "large", 1),), "white"), 64)]
    assert np.allclose(second.encode_images(img), -first.encode_images(img), atol=1e-5)
    assert sum(k[0] == str(f.resolve()) for k in C._CACHE) == 1  # the stale model is not kept as well


def test_it_has_learned_the_captions(enc) -> None:
    from generator.vqgan_clip.train_clip import retrieval

    r = retrieval(enc, n=100)
    assert r["top5"] > 0.4 and r["top1"] > 0.15  # chance: 0.05 and 0.01
    # colour words: a red circle is nearer "red" than "blue" and the reverse
    red = shapes.render(shapes.Scene((shapes.Group("circle", "red", "large", 1),), "white"), 64)
    blue = shapes.render(shapes.Scene((shapes.Group("circle", "blue", "large", 1),), "white"), 64)
    fi = enc.encode_images([red, blue])
    ft = enc.encode_texts(["a large red circle in the centre on a white background",
                           "a large blue circle in the centre on a white background"])
    s = fi @ ft.T
    assert s[0, 0] > s[0, 1] and s[1, 1] > s[1, 0]


def test_bad_inputs_are_named(enc) -> None:
    with pytest.raises(BadInput, match="image 1"):
        enc.encode_images([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])
    with pytest.raises(BadInput, match="float32"):
        enc.encode_images([np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(BadInput, match="at most 1000"):
        enc.encode_texts(["x" * 2000])


class _Eval:
    def __init__(self, src: str) -> None:
        self.src = src

    def __reduce__(self) -> tuple:
        return (eval, (self.src,))


def test_plain_state_dict_checkpoint_and_refusals(tmp_path: Path, enc) -> None:
    model, _ = load_weights(SHIPPED_CLIP)
    plain = tmp_path / "tiny-plain.pt"
    torch.save({"state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, plain)
    other = load_clip_file(plain, "lg-tiny-shapes-clip", device="cpu")
    assert other is not enc and other.model_sha256 == sha256_file(plain)
    assert np.allclose(other.encode_texts(["a red circle"]), enc.encode_texts(["a red circle"]), atol=1e-5)
    with pytest.raises(BadInput, match="clip_model"):
        load_clip_file(plain, None, device="cpu")
    with pytest.raises(BadInput, match="does not match open_clip model 'ViT-B-32'"):
        load_clip_file(plain, "ViT-B-32", device="cpu")
    # a training checkpoint that also stores its argparse.Namespace loads (the Namespace stays inert) ...
    with_args = tmp_path / "with-args.pt"
    torch.save({"state_dict": model.state_dict(), "args": argparse.Namespace(x=1)}, with_args)
    assert load_clip_file(with_args, "lg-tiny-shapes-clip", device="cpu").dim == enc.dim
    # ... but a Namespace where a tensor belongs is named, and a code-running payload is refused
    odd = tmp_path / "odd.pt"
    torch.save({"state_dict": {**model.state_dict(), "x": argparse.Namespace(x=1)}}, odd)
    with pytest.raises(BadInput, match=r"\['x'\] is a argparse.Namespace \(kept inert\), not a tensor"):
        load_clip_file(odd, "lg-tiny-shapes-clip", device="cpu")
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": model.state_dict(), "x": _Eval("__import__('os')")}, evil)
    with pytest.raises(BadInput, match=r"refused: .*(__builtin__|builtins)\.eval") as e:
        load_clip_file(evil, "lg-tiny-shapes-clip", device="cpu")
    assert "weights_only" not in str(e.value)
    with pytest.raises(BadInput, match="does not exist"):
        load_clip_file(tmp_path / "nope.pt", "ViT-B-32")


def test_settings_name_the_checkpoint(tmp_path: Path) -> None:
    from gallery.config import load_settings

    s = load_settings(None, environ={}, overrides={"data_dir": str(tmp_path), "device": "cpu",
                                                   "vqclip": {"clip_checkpoint": "missing.pt", "clip_model": "RN50"}})
    with pytest.raises(BadInput, match=re.escape("missing.pt")):
        load_clip(s)


def test_the_loop_is_guided_by_the_robust_clip_unless_configured(tmp_path: Path) -> None:
    from gallery.config import load_settings
    from generator.vqgan_clip.clip import SHIPPED_GUIDE_CLIP, clip_source

    def settings(**vq):
        return load_settings(None, environ={}, overrides={"data_dir": str(tmp_path), "device": "cpu", "vqclip": vq})

    assert clip_source(settings()) == (SHIPPED_CLIP, None)
    assert clip_source(settings(), guide=True) == (SHIPPED_GUIDE_CLIP, None)
    # a configured CLIP searches and guides, unless a guide of its own is named
    s = settings(clip_checkpoint="vit.pt", clip_model="ViT-B-32")
    assert clip_source(s) == clip_source(s, guide=True) == (tmp_path / "vit.pt", "ViT-B-32")
    s = settings(clip_checkpoint="vit.pt", clip_model="ViT-B-32", guide_checkpoint="/abs/robust.pt")
    assert clip_source(s) == (tmp_path / "vit.pt", "ViT-B-32")
    assert clip_source(s, guide=True) == (Path("/abs/robust.pt"), "ViT-B-32")
    s = settings(guide_checkpoint="rn.pt", guide_model="RN50")
    assert clip_source(s) == (SHIPPED_CLIP, None) and clip_source(s, guide=True) == (tmp_path / "rn.pt", "RN50")
    from gallery.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape("vqclip.guide_model")):
        settings(guide_model=" ")
    guide = load_clip_file(SHIPPED_GUIDE_CLIP)
    assert guide.model_sha256 != load_clip_file(SHIPPED_CLIP).model_sha256
