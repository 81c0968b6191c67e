"""`--image-prompt` and `--init-image` go through the one media reader: hostile files are refused with the reason
(BadInput, exit 2) and a large allowed image is read reduced."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from gallery.hostile_images import bomb_png, encode
from gallery.media import MediaTooLarge, MediaUnreadable


def _settings(tmp_path: Path, **media):
    from gallery.config import load_settings

    return load_settings(None, environ={}, overrides={"data_dir": str(tmp_path), "device": "cpu", "media": media})


def test_image_prompt_and_init_image_are_read_within_the_budget(tmp_path: Path) -> None:
    from generator.job_params import VQClipProgression
    from generator.vqgan_clip.jobs import build_params

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png(40000, 40000))
    with pytest.raises(MediaTooLarge, match=r"image prompt .*bomb.png: header claims 1600.0 MP"):
        build_params(VQClipProgression(prompt="red", image_prompts=[f"{bomb}:0.5"]), _settings(tmp_path))
    cut = tmp_path / "cut.png"
    cut.write_bytes(encode(np.full((64, 64, 3), 200, np.uint8), "PNG")[:70])
    with pytest.raises(MediaUnreadable, match="init image"):
        build_params(VQClipProgression(prompt="red", init_image=str(cut)), _settings(tmp_path))
    y, x = np.mgrid[0:3000, 0:4000]
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8), "PNG"))
    with pytest.raises(MediaTooLarge, match=r"\(media.max_image_pixels\)"):
        build_params(VQClipProgression(prompt="red", init_image=str(photo)),
                     _settings(tmp_path, max_image_pixels=10_000_000))
    lp, recipe = build_params(VQClipProgression(prompt="red", init_image=str(photo), image_prompts=[str(photo)]),
                              _settings(tmp_path))
    for im in (lp.init_image, lp.image_prompts[0][0]):
        assert im.dtype == np.uint8 and 1024 <= im.shape[0] < 3000 and im.shape[1] == round(im.shape[0] * 4 / 3)
    assert recipe["init_image"]["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
