"""The helpers every family shares: gallery.hashing.sha256_file, gallery.imaging (PNG, thumbnails) and the
artwork kinds with their named groups (catalogue.models)."""

from __future__ import annotations

import hashlib
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from catalogue.models import ARTWORK_KINDS, SOUND_KINDS, STILL_KINDS, VIDEO_KINDS, VISUAL_KINDS
from gallery.hashing import BLOCK, sha256_file
from gallery.imaging import png_bytes, png_size, thumbnail, thumbnail_png


@pytest.mark.parametrize("n", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17])
def test_sha256_file_matches_hashlib_across_block_edges(tmp_path, n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    assert sha256_file(p) == sha256_file(str(p)) == hashlib.sha256(data).hexdigest()


def test_sha256_file_missing_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        sha256_file(tmp_path / "nope")


def test_png_bytes_round_trips_rgb_and_views():
    rgb = np.random.default_rng(1).integers(0, 256, (21, 34, 3), dtype=np.uint8)
    for img in (rgb, rgb[::2, ::-1]):  # a contiguous array and a strided, reversed view
        back = np.asarray(Image.open(io.BytesIO(png_bytes(img))).convert("RGB"))
        assert np.array_equal(back, img)
        assert png_size(png_bytes(img)) == (img.shape[1], img.shape[0])


@pytest.mark.parametrize(("shape", "want"), [((256, 256), (128, 128)), ((64, 256), (32, 128)), ((300, 100), (128, 43)),
                                        ((1, 1000), (1, 128)), ((64, 32), (128, 64)), ((128, 128), (128, 128))])
def test_thumbnail_fits_the_long_side_and_keeps_aspect(shape, want):
    img = np.random.default_rng(2).integers(0, 256, (*shape, 3), dtype=np.uint8)
    for up in ("cubic", "nearest", "area"):
        th = thumbnail(img, upscale=up)
        assert (th.shape[0], th.shape[1]) == want and th.dtype == np.uint8


def test_thumbnail_shrinks_by_area_and_grows_by_the_named_interpolation():
    img = np.random.default_rng(3).integers(0, 256, (40, 20, 3), dtype=np.uint8)
    big = np.random.default_rng(3).integers(0, 256, (400, 200, 3), dtype=np.uint8)
    for up in ("cubic", "nearest", "area"):  # shrinking never depends on the upscale choice
        assert np.array_equal(thumbnail(big, 128, up), cv2.resize(big, (64, 128), interpolation=cv2.INTER_AREA))
    assert np.array_equal(thumbnail(img, 80, "nearest"), np.repeat(np.repeat(img, 2, 0), 2, 1))
    assert np.array_equal(thumbnail(img, 80, "cubic"), cv2.resize(img, (40, 80), interpolation=cv2.INTER_CUBIC))
    assert not np.array_equal(thumbnail(img, 80, "cubic"), thumbnail(img, 80, "nearest"))


def test_thumbnail_png_only_shrinks():
    small = png_bytes(np.zeros((30, 50, 3), np.uint8))
    data, w, h = thumbnail_png(small)
    assert (w, h) == (50, 30) and png_size(data) == (50, 30)
    data, w, h = thumbnail_png(png_bytes(np.zeros((300, 600, 3), np.uint8)))
    assert (w, h) == (128, 64) and png_size(data) == (128, 64)


def test_kind_groups_partition_the_kinds_in_order():
    assert set(STILL_KINDS) | set(VIDEO_KINDS) | set(SOUND_KINDS) == set(ARTWORK_KINDS)
    assert len(STILL_KINDS) + len(VIDEO_KINDS) + len(SOUND_KINDS) == len(ARTWORK_KINDS)
    assert set(VISUAL_KINDS) == set(STILL_KINDS) | set(VIDEO_KINDS)
    for group in (STILL_KINDS, VIDEO_KINDS, SOUND_KINDS, VISUAL_KINDS):
        assert list(group) == [k for k in ARTWORK_KINDS if k in group]
