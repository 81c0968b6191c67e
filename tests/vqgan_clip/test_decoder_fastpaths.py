"""The decoder fast paths chosen per machine (generator.vqgan_clip.fastpaths): forced choices reach
the decoder, auto measures once and caches under data_dir, and every choice gives the same image."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from generator import fastpath
from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load
from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip_file
from generator.vqgan_clip.fastpaths import CHECKPOINT_LEVELS, decoder_choices
from generator.vqgan_clip.loop import LoopParams, run_loop
from generator.vqgan_clip.prompts import parse_story


@pytest.fixture(scope="module")
def models():
    return load(SHIPPED_VQGAN)[0], load_clip_file(SHIPPED_CLIP, device="cpu")


@pytest.fixture
def cache(tmp_path: Path):
    path = fastpath.configure(tmp_path / "fastpath.json")
    yield path
    fastpath.configure(None)


def _params(**kw) -> LoopParams:
    return LoopParams(phases=parse_story("a red circle"), iterations=3, snapshots=[3], seed=1, cutouts=4, **kw)


@pytest.mark.parametrize(("cl", "ck"), [("on", "on"), ("off", "off"), ("on", "off"), ("off", "on")])
def test_forced_choices_reach_the_decoder_and_give_the_same_image(models, cache: Path, cl: str, ck: str) -> None:
    vq, clip = models
    ref = run_loop(_params(channels_last="off", decoder_checkpoint="off"), vq, clip)
    r = run_loop(_params(channels_last=cl, decoder_checkpoint=ck), vq, clip)
    assert r.fast_paths == {"channels_last": cl == "on", "checkpoint_levels": CHECKPOINT_LEVELS if ck == "on" else 0}
    assert not cache.exists()  # forced: nothing measured, nothing cached
    a, b = ref.snapshots[3].astype(int), r.snapshots[3].astype(int)
    assert np.abs(a - b).max() <= 2  # the same arithmetic up to float summation order


def test_auto_measures_once_per_size_and_caches(models, cache: Path, monkeypatch) -> None:
    vq, clip = models
    for p in vq.parameters():
        p.requires_grad_(False)
    cl, ck = decoder_choices(vq, 64, 64)
    assert ck == 0  # below 256x256 the recompute is not even considered
    data = json.loads(cache.read_text())["choices"]
    (key, rec), = data.items()
    assert "vqgan.channels_last" in key and "@64x64" in key and rec["choice"] == ("on" if cl else "off")
    assert rec["calibration_s"] < 2.0 * max(1.0, os.getloadavg()[0] / 2)  # < 2 s on a machine not overloaded
    # the second run (another process: memory cleared) reads the file and measures nothing
    fastpath.configure(None)
    fastpath.configure(cache)
    monkeypatch.setattr(fastpath, "measure", lambda *a, **k: pytest.fail("measured again"))
    assert decoder_choices(vq, 64, 64) == (cl, ck)
    assert run_loop(_params(), vq, clip).fast_paths == {"channels_last": cl, "checkpoint_levels": 0}


def test_big_images_also_decide_the_recompute(models, cache: Path) -> None:
    vq, _ = models
    for p in vq.parameters():
        p.requires_grad_(False)
    cl, ck = decoder_choices(vq, 256, 256)
    keys = list(json.loads(cache.read_text())["choices"])
    assert len(keys) == 2 and any("|vqgan.channels_last|" in k for k in keys)
    assert any("|vqgan.decoder_checkpoint|" in k and "@256x256" in k for k in keys)
    assert ck in (0, CHECKPOINT_LEVELS)
    assert decoder_choices(vq, 256, 256, decoder_checkpoint="on") == (cl, CHECKPOINT_LEVELS)
