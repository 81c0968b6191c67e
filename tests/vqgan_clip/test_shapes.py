"""The captioned shapes: deterministic, any size, captions written from what is drawn."""

from __future__ import annotations

import numpy as np
import pytest

from generator.datasets import shapes


def test_same_seed_same_pair_and_seeds_differ() -> None:
    a, ca = shapes.sample(7, 64)
    b, cb = shapes.sample(7, 64)
    assert ca == cb and np.array_equal(a, b)
    others = {shapes.sample(s, 32)[1] for s in range(40)}
    assert len(others) > 30  # captions vary with the seed


@pytest.mark.parametrize("size", [8, 33, 64, 200])
def test_any_size(size: int) -> None:
    img, cap = shapes.sample(3, size)
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    assert cap.endswith("background")


def test_caption_matches_parameters_and_pixels() -> None:
    scene = shapes.Scene(groups=(shapes.Group("circle", "red", "large", 1),), background="blue", position="left")
    assert scene.caption() == "a large red circle on the left on a blue background"
    img = shapes.render(scene, 64)
    # left half holds the red circle, the right half is background blue
    left, right = img[:, :32].reshape(-1, 3), img[:, 32:].reshape(-1, 3)
    red = np.all(np.abs(left.astype(int) - shapes.COLOURS["red"]) < 30, axis=1).mean()
    assert red > 0.2
    assert np.all(np.abs(right.astype(int) - shapes.COLOURS["blue"]) < 30, axis=1).mean() > 0.9
    two = shapes.Scene(groups=(shapes.Group("star", "green", "small", 2, "striped"),
                               shapes.Group("cross", "white", "small", 3)), background="orange",
                       background_style="speckled")
    assert two.caption() == ("two small striped green stars above three small white crosses "
                             "on a speckled orange background")
    one = shapes.Scene(groups=(shapes.Group("ring", "pink", "small", 1),), background="orange", position="top")
    assert one.caption() == "a small pink ring at the top on an orange background"


def test_hue_names() -> None:
    for name in ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "white", "black"]:
        assert shapes.hue_name(shapes.COLOURS[name]) == name


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ValueError, match="hexagon"):
        shapes.render(shapes.Scene(groups=(shapes.Group("hexagon", "red", "large", 1),), background="blue"), 32)
    with pytest.raises(ValueError, match="at least 8"):
        shapes.sample(1, 4)
