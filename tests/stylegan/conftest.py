"""Fixtures of the StyleGAN tests: a small random model saved in our weights format, CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from generator.stylegan.checkpoints import save_weights
from generator.stylegan.model import Discriminator, Generator
from generator.stylegan.presets import StyleGANConfig

SMALL = StyleGANConfig(resolution=32, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32,
                       batch=4, r1_every=2)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def small_weights(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    G, D = Generator(SMALL), Discriminator(SMALL)
    with torch.no_grad():
        G.mapping.w_avg.copy_(G.mapping.map_w(torch.randn(256, SMALL.z_dim)).mean(0))
    return save_weights(tmp_path / "small.pt", SMALL, G, D)


@pytest.fixture
def job_ctx(settings, catalogue, tmp_path):
    from generator.jobs import JobContext

    return JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "work", seed=0)


def cli(*args: str) -> int:
    """Run `gallery ARGS` in this process; returns the exit code."""
    from gallery.cli import main

    try:
        main(list(args))
    except SystemExit as e:
        return int(e.code or 0)
    return 0
