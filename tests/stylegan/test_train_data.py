"""`gallery train stylegan --data NAME`: streamed training on a dataset made here, bit-for-bit continuation,
transfer and Freeze-D, the registered model used by a walk job, and the bad inputs (exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gallery.errors import BadInput
from generator.stylegan.checkpoints import save_weights
from generator.stylegan.model import Discriminator, Generator
from generator.stylegan.presets import StyleGANConfig
from generator.stylegan.train_data import DataOptions, DatasetGone, train_on_data
from generator.stylegan.transfer import data_config, transfer_source

from .conftest import cli


def _pictures(folder: Path, n: int, seed: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):  # blobs of colour on a background: distinct pictures, no near duplicates
        im = np.full((72, 72, 3), rng.integers(0, 255, 3), np.uint8)
        y, x = rng.integers(0, 40, 2)
        im[y:y + 30, x:x + 30] = rng.integers(0, 255, 3)
        im = np.clip(im + rng.normal(0, 20, im.shape), 0, 255).astype(np.uint8)
        Image.fromarray(im).save(folder / f"p{i:02d}.png")
    return folder


@pytest.fixture
def tiny(settings, catalogue, tmp_path):
    from generator.datasets.image_store import ImageDataset
    from generator.datasets.images import make_image_dataset

    res = make_image_dataset(settings, catalogue, _pictures(tmp_path / "pics", 10, 0), "tiny", 64)
    assert len(res.kept) == 10
    return ImageDataset(res.folder)


FAST = {"kid_every_s": 0.0, "grid_every_s": 1e9, "checkpoint_every_s": 1e9}


def _weights(path: Path) -> dict[str, torch.Tensor]:
    s = torch.load(path, weights_only=True)
    return {**{f"G.{k}": v for k, v in s["G"].items()}, **{f"D.{k}": v for k, v in s["D"].items()},
            **{f"E.{k}": v for k, v in s["G_ema"].items()}}


def test_killed_run_continues_bit_for_bit(tiny, tmp_path):
    # ADA on with p climbing (target -1: every r_t is above it), so augmentations fire after the break too;
    # the interrupted run measures KID and writes grids at every step: evaluations must not move the RNG.
    ada = {"ada_target": -1.0, "ada_kimg": 0.1, "freeze_d": 1}
    straight = train_on_data(tiny, "tiny", tmp_path / "a", DataOptions(steps=8, **ada, **FAST))
    busy = {"kid_every_s": 1e-9, "kid_images": 8, "grid_every_s": 1e-9, "checkpoint_every_s": 1e9}
    first = train_on_data(tiny, "tiny", tmp_path / "b", DataOptions(steps=5, **ada, **busy))
    assert first.kid is not None and len(first.kid_history) == 5
    resumed = train_on_data(tiny, "tiny", tmp_path / "b", DataOptions(steps=8, **FAST), cont=True)
    assert straight.step == resumed.step == 8 and resumed.images_seen == straight.images_seen
    assert 0 < straight.ada_p == resumed.ada_p
    a, b = _weights(straight.checkpoint), _weights(resumed.checkpoint)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_transfer_copies_the_source_and_freeze_d_keeps_blocks(tiny, settings, catalogue, tmp_path):
    src = transfer_source("tiny-faces64", 64, settings, catalogue)
    before = {k: v.clone() for k, v in src.D.state_dict().items()}
    r = train_on_data(tiny, "tiny", tmp_path / "t", DataOptions(steps=2, freeze_d=2, **FAST), source=src)
    after = torch.load(r.checkpoint, weights_only=True)
    assert after["transfer"]["name"] == "tiny-faces64" and after["frozen_d_blocks"] == ["b64", "b32"]
    for k, v in after["D"].items():
        if k.startswith(("b64.", "b32.")):
            assert torch.equal(v, before[k]), k
    assert any(not torch.equal(v, before[k]) for k, v in after["D"].items() if k.startswith("b16."))
    # G started from the source: two steps move it a little, a fresh network is far away.
    g0, g1 = src.G.state_dict()["synthesis.b64.conv1.weight"], after["G"]["synthesis.b64.conv1.weight"]
    fresh = Generator(data_config(64)).state_dict()["synthesis.b64.conv1.weight"]
    assert (g1 - g0).abs().mean() < 0.1 * (fresh - g0).abs().mean()


def test_train_cli_registers_a_model_that_a_walk_uses(tiny, config_file, catalogue, tmp_path):
    from sqlalchemy import select

    from catalogue.models import Model

    export = tmp_path / "emoji-test.pt"
    assert cli("-c", str(config_file), "train", "stylegan", "--data", "tiny", "--steps", "3", "--name", "mine",
               "--kid-images", "8", "--export", str(export), "--json") == 0
    assert export.is_file()
    with catalogue.read() as s:
        m = s.scalars(select(Model).where(Model.family == "stylegan", Model.name == "mine")).one()
        prov, path = m.provenance, m.path
    assert prov["trained_on"]["name"] == "tiny" and prov["trained_on"]["count"] == 10
    assert prov["trained_on"]["sha256"] == tiny.index["data_sha256"]
    assert prov["steps"] == 3 and prov["images_seen"] == 3 * data_config(64).batch
    assert prov["transfer"] is None and 0.0 <= prov["ada_final_p"] <= 1.0 and prov["kid"] is not None
    assert Path(path).is_file()
    assert cli("-c", str(config_file), "generate", "walk", "--model", "mine", "--seconds", "0.25", "--fps", "4",
               "--size", "64") == 0
    arts = catalogue.page()  # the walk's artwork names the model and its weights
    assert len(arts) == 1 and arts[0].recipe["model"]["name"] == "mine"
    assert arts[0].recipe["model"]["sha256"] == m.weights_sha256


def test_bad_inputs_exit_2_and_write_nothing(tiny, settings, config_file, tmp_path):
    def run(*args: str) -> int:
        return cli("-c", str(config_file), "train", "stylegan", "--steps", "1", "--out", str(tmp_path / "run"), *args)

    assert run("--data", "nope") == 2
    # a model of another resolution (32 px), and one with another channel layout (grey, 64 px)
    small = StyleGANConfig(resolution=32, z_dim=16, w_dim=16, mapping_layers=1, channel_base=128, channel_max=16)
    save_weights(tmp_path / "w32.pt", small, Generator(small), Discriminator(small))
    grey = data_config(64).with_(img_channels=1)
    save_weights(tmp_path / "grey.pt", grey, Generator(grey), Discriminator(grey))
    assert run("--data", "tiny", "--resume", str(tmp_path / "w32.pt")) == 2
    assert run("--data", "tiny", "--resume", str(tmp_path / "grey.pt")) == 2
    assert run("--data", "tiny", "--resume", "no-such-model") == 2
    assert run("--data", "tiny", "--freeze-d", "7") == 2
    assert run("--data", "tiny", "--continue") == 2  # nothing to continue
    assert run("--resume", "tiny-faces64") == 2  # transfer needs --data
    assert run("--data", "tiny", "--name", "tiny-faces64") == 2  # the shipped model's name
    assert not (tmp_path / "run").exists()
    with pytest.raises(BadInput, match="same resolution"):
        transfer_source(str(tmp_path / "w32.pt"), 64, settings)


def test_dataset_deleted_under_training_stops_cleanly(tiny, tmp_path):
    run = tmp_path / "r"
    train_on_data(tiny, "tiny", run, DataOptions(steps=2, **FAST))
    saved = torch.load(run / "checkpoint.pt", weights_only=True)
    moved = tiny.folder.with_name("moved")
    calls = []

    def vanish(*_a, **_k):
        calls.append(1)
        if len(calls) == 2:
            shutil.move(tiny.folder, moved)

    with pytest.raises(DatasetGone, match=r"deleted, moved or rebuilt.*--continue"):
        train_on_data(tiny, "tiny", run, DataOptions(steps=10, **FAST), cont=True, progress=vanish)
    assert isinstance(DatasetGone("x"), BadInput)
    kept = torch.load(run / "checkpoint.pt", weights_only=True)
    assert kept["step"] == 2 and all(torch.equal(kept["G"][k], v) for k, v in saved["G"].items())
    shutil.move(moved, tiny.folder)  # put back: the run continues
    assert train_on_data(tiny, "tiny", run, DataOptions(steps=3, **FAST), cont=True).step == 3


def test_continue_refuses_another_dataset_and_a_new_run_refuses_an_old_folder(tiny, settings, catalogue, tmp_path):
    from generator.datasets.image_store import ImageDataset
    from generator.datasets.images import make_image_dataset

    run = tmp_path / "r"
    train_on_data(tiny, "tiny", run, DataOptions(steps=1, **FAST))
    with pytest.raises(BadInput, match="a run exists"):
        train_on_data(tiny, "tiny", run, DataOptions(steps=2, **FAST))
    other = make_image_dataset(settings, catalogue, _pictures(tmp_path / "p2", 6, 1), "tiny", 64, replace=True)
    with pytest.raises(BadInput, match="same data"):
        train_on_data(ImageDataset(other.folder), "tiny", run, DataOptions(steps=2, **FAST), cont=True)


@pytest.mark.cuda
def test_cuda_mixed_precision_trains(tiny, tmp_path):
    r = train_on_data(tiny, "tiny", tmp_path / "c", DataOptions(steps=3, kid_images=16, **{**FAST, "kid_every_s": 1e9}),
                      device="cuda")
    state = torch.load(r.checkpoint, weights_only=True)
    assert "scaler_g" in state and r.kid is not None
    assert all(torch.isfinite(v).all() for v in state["G_ema"].values() if v.is_floating_point())
