"""Fixtures of the Music-VAE tests: micro checkpoints trained in seconds, settings that use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import micro_checkpoint


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Small LSTMs run faster on one thread, above all on a busy shared CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def micro_models(tmp_path_factory) -> dict[int, Path]:
    d = tmp_path_factory.mktemp("musicvae-models")
    return {2: micro_checkpoint(d / "micro-2bar.pt", 2, False, 40),
            16: micro_checkpoint(d / "micro-16bar.pt", 16, True, 6)}


@pytest.fixture
def mv_settings(settings, micro_models):
    settings.musicvae.checkpoint_2bar = str(micro_models[2])
    settings.musicvae.checkpoint_16bar = str(micro_models[16])
    return settings
