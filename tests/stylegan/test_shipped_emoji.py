"""The shipped tiny-emoji64 weights (trained here on the Noto colour emoji, transferred from tiny-faces64):
the real file loads safely, is the 64 px shape, carries its provenance, walks, and its pictures are
closer to real emoji than the face model it started from (KID on the tiny CLIP's image features)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.jobs import JobSpec
from generator.run import execute_run
from generator.stylegan.checkpoints import SHIPPED, load, resolve
from generator.stylegan.render import render, z_to_ws


def test_shipped_emoji_file_is_small_and_64px():
    name, path = resolve("tiny-emoji64")
    assert name == "tiny-emoji64" and path == SHIPPED["tiny-emoji64"]
    assert path.stat().st_size <= 15 * 2 ** 20
    m = load(path)
    assert m.cfg.resolution == 64 and m.cfg.img_channels == 3 and m.D is not None
    prov = m.meta.get("provenance") or m.meta
    text = repr(prov)
    assert "emoji64" in text and "tiny-faces64" in text  # trained on the emoji, transferred from the faces


@pytest.fixture(scope="module")
def glyphs(tmp_path_factory):
    from generator.datasets import emoji

    out = tmp_path_factory.mktemp("glyphs")
    emoji.export_glyphs(out)  # the font comes with `make setup` (scripts/system-deps.sh)
    return out


@pytest.fixture
def emoji_images(glyphs, settings, catalogue):
    """1,000 of the real emoji (a seeded draw from all of them), made into a 64 px dataset the way
    `gallery dataset emoji` makes one."""
    from generator.datasets.image_store import ImageDataset
    from generator.datasets.images import make_image_dataset

    res = make_image_dataset(settings, catalogue, glyphs, "emoji-test", 64)
    ds = ImageDataset(res.folder)
    return ds.batch(np.sort(np.random.default_rng(123).choice(len(ds), 1000, replace=False)))


def test_emoji_model_is_closer_to_the_emoji_than_the_face_model(emoji_images):
    from generator.stylegan.kid import KidFeatures, kid

    feats = KidFeatures("cpu")
    real = feats.of_uint8(emoji_images)
    scores = {}
    for name in ("tiny-emoji64", "tiny-faces64"):
        m = load(SHIPPED[name])
        z = torch.randn(1000, m.G.z_dim, generator=torch.Generator().manual_seed(0))
        fake = render(m.G, z_to_ws(m.G, z, 1.0), batch=100)
        scores[name] = kid(feats.of_uint8(fake), real, subsets=20, subset_size=1000)
    print(f"KID x1e3 against 1,000 real emoji: {({k: round(v * 1e3, 1) for k, v in scores.items()})}")
    assert scores["tiny-emoji64"] < 0.5 * scores["tiny-faces64"], scores
    # no collapse onto one picture
    m = load(SHIPPED["tiny-emoji64"])
    fake = render(m.G, z_to_ws(m.G, torch.randn(32, m.G.z_dim, generator=torch.Generator().manual_seed(1)), 1.0),
                  batch=32).astype(np.float32)
    assert fake.std(0).mean() > 0.3 * emoji_images.astype(np.float32).std(0).mean()


def test_walk_with_the_emoji_model(job_ctx, catalogue):
    (aid,) = execute_run(JobSpec(kind="stylegan.walk", params={"model": "tiny-emoji64", "seconds": 0.5, "fps": 8,
                                                               "size": 64}, seed=1), job_ctx)
    art = catalogue.get(aid)
    assert art.recipe["model"]["name"] == "tiny-emoji64" and art.duration == 0.5
    assert "tiny-emoji64" in art.title
