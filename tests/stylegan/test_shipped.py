"""The shipped tiny-faces64 weights: the real file, loaded safely, produces face-like pictures."""

from __future__ import annotations

import numpy as np
import torch

from generator.datasets.faces import make_faces
from generator.jobs import JobSpec
from generator.run import execute_run
from generator.stylegan.checkpoints import SHIPPED, load
from generator.stylegan.presets import preset
from generator.stylegan.render import render, z_to_ws


def test_shipped_file_is_small_and_matches_the_preset():
    path = SHIPPED["tiny-faces64"]
    assert path.stat().st_size <= 15 * 2 ** 20
    m = load(path)
    arch = ("resolution", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max")
    assert all(getattr(m.cfg, k) == getattr(preset("tiny-faces64"), k) for k in arch)
    assert m.D is not None and m.meta["step"] > 1000


def test_generated_faces_resemble_the_dataset():
    m = load(SHIPPED["tiny-faces64"])
    fake = render(m.G, z_to_ws(m.G, torch.randn(64, m.G.z_dim, generator=torch.Generator().manual_seed(0)), 1.0),
                  batch=32).astype(np.float32)
    real = make_faces(64, seed=123).images.astype(np.float32)
    # The average generated face lays out like the average real face (skin oval in the middle, hair above)...
    corr = np.corrcoef(fake.mean(0).ravel(), real.mean(0).ravel())[0, 1]
    assert corr > 0.8, corr
    # ... and faces differ from one another (no collapse onto one picture).
    assert fake.std(0).mean() > 0.5 * real.std(0).mean()
    # The discriminator prefers real faces to shuffled-pixel versions of them.
    x = torch.from_numpy(real).permute(0, 3, 1, 2) / 127.5 - 1
    shuffled = x.flatten(2)[:, :, torch.randperm(64 * 64)].reshape(x.shape)
    with torch.no_grad():
        assert m.D(x).mean() > m.D(shuffled).mean()


def test_walk_with_shipped_model(job_ctx, catalogue):
    (aid,) = execute_run(JobSpec(kind="stylegan.walk", params={"seconds": 0.5, "fps": 8, "size": 64}, seed=1), job_ctx)
    art = catalogue.get(aid)
    assert art.recipe["model"]["name"] == "tiny-faces64" and art.duration == 0.5
