"""`gallery generate project` on hostile images (issue 21): exit 2 with the reason, nothing added."""

from __future__ import annotations

import json

import numpy as np

from gallery.hostile_images import bomb_png, encode

from .conftest import cli


def _nothing_added(settings) -> None:
    from sqlalchemy import func, select

    from catalogue import open_catalogue
    from catalogue.models import Artwork

    with open_catalogue(settings) as cat, cat.read() as s:
        assert s.scalar(select(func.count()).select_from(Artwork)) == 0
    media = settings.media_root
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_project_refuses_hostile_images_with_exit_2(config_file, settings, small_weights, tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png(40000, 40000))
    assert cli("-c", str(config_file), "generate", "project", str(bomb), "--model", str(small_weights),
               "--steps", "2") == 2
    err = capsys.readouterr().err
    assert "header claims 1600.0 MP, over the limit of 64.0 MP (media.max_image_pixels)" in err
    assert err.strip().splitlines()[-1].startswith("error: image to project")  # the reason, not a traceback
    cut = tmp_path / "cut.png"
    cut.write_bytes(encode(np.full((64, 64, 3), 90, np.uint8), "PNG")[:60])
    assert cli("-c", str(config_file), "generate", "project", str(cut), "--model", str(small_weights)) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    _nothing_added(settings)


def test_project_budget_comes_from_the_config_and_big_allowed_images_are_read_reduced(
        config_file, settings, small_weights, tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    y, x = np.mgrid[0:900, 0:1200]
    photo.write_bytes(encode(np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8), "JPEG"))
    small = config_file.parent / "small.yaml"
    small.write_text(config_file.read_text() + "media:\n  max_image_pixels: 1000000\n")
    assert cli("-c", str(small), "generate", "project", str(photo), "--model", str(small_weights), "--steps", "1") == 2
    assert "(media.max_image_pixels)" in capsys.readouterr().err
    _nothing_added(settings)
    assert cli("-c", str(config_file), "generate", "project", str(photo), "--model", str(small_weights),
               "--steps", "1", "--size", "32", "--json") == 0
    (aid,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["artworks"]
    from catalogue import open_catalogue

    with open_catalogue(settings) as cat:
        assert cat.get(aid).kind == "projection"
