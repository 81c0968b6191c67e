"""The training commands on their smoke presets: they learn, save a loadable file, and say what they measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.vqgan_clip.checkpoints import load_vqgan
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
    assert meta["final"]["rec"] < 0.9 * meta["first"]["rec"]  # reconstruction improves
    assert meta["final"]["per"] < meta["first"]["per"]
    model, sha, arch = load_vqgan(out)
    assert sha == meta["sha256"] and arch == VQGAN_ARCHS["tiny"]
