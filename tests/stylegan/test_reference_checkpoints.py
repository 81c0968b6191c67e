"""Checkpoints as users have them, written by the reference code (tests/fixtures/checkpoints, made by
scripts/fixtures/make_reference_checkpoints.py), and NVIDIA's minibatch-std settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from generator.stylegan.importers import read_checkpoint
from generator.stylegan.model import Discriminator

from .conftest import SMALL, cli
from .nvidia_pickle import write_nvidia_pickle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints"


@pytest.mark.parametrize(("name", "container"), [("rosinality-train-000001.pt", "torch-zip"),
                                                  ("rosinality-train-legacy.pt", "torch-legacy")])
def test_rosinality_train_checkpoint_matches_the_reference(name: str, container: str) -> None:
    """rosinality train.py's own checkpoint (g, d, g_ema, both optimisers and an argparse.Namespace),
    in torch's zip and pre-1.6 formats: imported, and the images equal the reference code's."""
    cfg, G, D, meta = read_checkpoint(FIXTURES / name)
    assert meta["container"] == container and meta["placeholders"] == ["argparse.Namespace"]
    assert (cfg.resolution, cfg.z_dim, cfg.mapping_layers, cfg.channel_max) == (16, 32, 2, 16) and D is None
    ref = np.load(FIXTURES / "rosinality-reference.npz")
    with torch.no_grad():
        img = G(torch.from_numpy(ref["z"]), truncation_psi=1.0)
    assert np.abs(img.numpy() - ref["images"]).max() < 1e-4


def test_rosinality_train_checkpoint_imports_from_the_cli(config_file) -> None:
    assert cli("-c", str(config_file), "import", "stylegan", str(FIXTURES / "rosinality-train-legacy.pt"),
               "--name", "ros-legacy") == 0


def test_nvidia_discriminator_keeps_its_minibatch_std_group(tmp_path: Path) -> None:
    """paper256 trains D with mbstd group 8 (and 1 channel): the group is read from the pickle's D."""
    cfg = src_cfg = dataclasses.replace(SMALL, mbstd_group=8, mbstd_channels=1)
    path = write_nvidia_pickle(tmp_path / "paper.pkl", src_cfg, tmp_path / "marker")
    raw_D = _stored_discriminator(path, src_cfg)
    got_cfg, _G, D, _meta = read_checkpoint(path)
    assert (got_cfg.mbstd_group, got_cfg.mbstd_channels) == (8, 1)
    x = torch.randn(8, 3, cfg.resolution, cfg.resolution, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref, ours = raw_D(x), D(x)
        default4 = Discriminator(dataclasses.replace(got_cfg, mbstd_group=4))
        default4.load_state_dict(D.state_dict())
        wrong = default4(x)
    assert torch.allclose(ours, ref, atol=1e-5)
    assert not torch.allclose(wrong, ref, atol=1e-3)  # the group matters at batch 8: the test can fail


def test_nvidia_discriminator_with_two_mbstd_channels(tmp_path: Path) -> None:
    cfg = dataclasses.replace(SMALL, mbstd_group=2, mbstd_channels=2)
    path = write_nvidia_pickle(tmp_path / "two.pkl", cfg, tmp_path / "marker")
    got_cfg, _G, D, _meta = read_checkpoint(path)
    assert (got_cfg.mbstd_group, got_cfg.mbstd_channels) == (2, 2)
    x = torch.randn(4, 3, cfg.resolution, cfg.resolution)
    with torch.no_grad():
        assert torch.allclose(D(x), _stored_discriminator(path, cfg)(x), atol=1e-5)


def _stored_discriminator(path: Path, cfg) -> Discriminator:
    """The D the pickle was written from (same seed), built directly with the writer's config."""
    from generator.stylegan.importers import flatten, safe_load_pickle

    D = Discriminator(cfg).eval()
    D.load_state_dict({k: v.float() for k, v in flatten(safe_load_pickle(path)["D"]).items()})
    return D


def test_nvidia_pickle_written_by_stylegan2_ada_matches_it() -> None:
    """A snapshot pickle written by NVIDIA's stylegan2-ada-pytorch (D with paper256's mbstd group 8):
    G_ema's images and D's scores at batch 8 equal the reference code's."""
    cfg, G, D, meta = read_checkpoint(FIXTURES / "nvidia-ada-mbstd8.pkl")
    assert (cfg.mbstd_group, cfg.mbstd_channels, meta["container"]) == (8, 1, "pickle")
    ref = np.load(FIXTURES / "nvidia-ada-reference.npz")
    with torch.no_grad():
        img = G(torch.from_numpy(ref["z"]), truncation_psi=0.7)
        scores = D(torch.from_numpy(ref["images"]))
        as_before = Discriminator(dataclasses.replace(cfg, mbstd_group=4))
        as_before.load_state_dict(D.state_dict())
        old_scores = as_before(torch.from_numpy(ref["images"]))
    assert np.abs(img.numpy() - ref["images"]).max() < 1e-4
    assert np.abs(scores.numpy() - ref["d_scores"]).max() < 1e-5
    assert np.abs(old_scores.numpy() - ref["d_scores"]).max() > 1e-3  # the default group of 4 would differ
