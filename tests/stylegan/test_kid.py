"""KID: the unbiased polynomial-kernel MMD estimator, and the features it is measured on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator.stylegan.kid import KidFeatures, kid


def _reference(x: np.ndarray, y: np.ndarray) -> float:
    """The estimator written out term by term (one subset: all of both sets, same size)."""
    m, d = x.shape

    def k(a, b):
        return (a @ b / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_matches_the_written_out_estimator():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 5)), rng.normal(0.5, 1.0, size=(20, 5))
    assert kid(x, y, subsets=1, subset_size=20) == pytest.approx(_reference(x, y), rel=1e-9)


def test_near_zero_for_one_distribution_and_larger_for_another():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(600, 32)), rng.normal(size=(600, 32))
    shifted = rng.normal(0.4, 1.0, size=(600, 32))
    far = kid(a, shifted, subsets=10, subset_size=300)
    assert far > 0.3  # mean shift 0.4 in 32 dimensions
    assert abs(kid(a, b, subsets=10, subset_size=300)) < 0.02 * far
    assert abs(kid(a, a, subsets=10, subset_size=300)) < 0.05 * far  # KID(X, X) ~ 0 (subsets differ)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same d"):
        kid(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        kid(np.zeros((1, 3)), np.zeros((4, 3)))


def test_features_of_uint8_and_tensor_agree_and_tell_images_apart():
    f = KidFeatures("cpu")
    rng = np.random.default_rng(2)
    imgs = (rng.random((6, 64, 64, 3)) * 255).astype(np.uint8)
    a = f.of_uint8(imgs)
    t = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert a.shape == (6, f.encoder.dim)
    np.testing.assert_allclose(a, f.of_tensor(t), rtol=1e-4, atol=1e-5)
    flat = np.zeros((6, 64, 64, 3), np.uint8) + np.arange(6, dtype=np.uint8)[:, None, None, None] * 40
    assert kid(a, f.of_uint8(flat), subsets=2, subset_size=6) > 0
