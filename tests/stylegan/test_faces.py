"""Procedural faces: deterministic by seed, labelled, the attributes actually drawn."""

from __future__ import annotations

import numpy as np
import pytest

from generator.datasets.faces import ATTRIBUTES, draw_face, make_faces


def test_deterministic_and_sliceable():
    a = make_faces(6, seed=3)
    b = make_faces(6, seed=3)
    assert np.array_equal(a.images, b.images)
    tail = make_faces(2, seed=3, start=4)
    assert np.array_equal(tail.images, a.images[4:])
    assert not np.array_equal(make_faces(6, seed=4).images, a.images)


def test_labels_cover_every_attribute():
    fs = make_faces(300, seed=0)
    assert fs.images.shape == (300, 64, 64, 3) and fs.images.dtype == np.uint8
    for name, values in ATTRIBUTES.items():
        counts = np.bincount(fs.labels[name], minlength=len(values))
        assert len(counts) == len(values) and counts.min() > 0, name
    assert np.abs(fs.labels["yaw"]).max() <= 25 and np.abs(fs.labels["tilt"]).max() <= 15


def test_attributes_change_the_picture():
    """Sunglasses darken the eye band; sizes other than 64 work."""
    fs = make_faces(400, seed=1)
    eye_band = fs.images[:, 22:32, 16:48].mean(axis=(1, 2, 3))
    sun = fs.labels["eyewear"] == 2
    assert eye_band[sun].mean() < eye_band[~sun].mean() - 10
    big, lab = draw_face(1, 0, size=128)
    assert big.shape == (128, 128, 3) and set(lab) >= set(ATTRIBUTES)
    with pytest.raises(ValueError, match="at least 16"):
        draw_face(0, 0, size=8)
