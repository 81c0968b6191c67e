"""A small checkpoint trained once per test session on synthesised textures (seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from generator.datasets import sounds


def write_textures(folder: Path, n: int = 6, seconds: float = 1.5) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        kind = list(sounds.TEXTURES)[i % 3]
        x = sounds._finish(sounds.TEXTURES[kind](seconds, np.random.default_rng(100 + i)))
        p = folder / f"t{i}-{kind}.wav"
        sf.write(str(p), x, sounds.SR, subtype="PCM_16")
        out.append(p)
    return out


@pytest.fixture(scope="session")
def small_ckpt(tmp_path_factory) -> Path:
    import torch

    from generator.lts.presets import PRESETS
    from generator.lts.train import train

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("lts-audio")
    paths = write_textures(d)
    out = d / "small.pt"
    train(PRESETS["tiny"], out, paths=paths, seed=0, steps=150)
    return out
