"""ADA: the augment pipe (kornia) is differentiable, identity at p=0, and the heuristic steers p."""

from __future__ import annotations

import math

import pytest
import torch

from generator.stylegan.ada import AdaController, AugmentPipe


def _images(n: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand([n, 3, 32, 32], generator=g) * 2 - 1


def test_gradients_flow_through_the_augmentations():
    torch.manual_seed(0)
    pipe = AugmentPipe(1.0)
    x = _images().requires_grad_(True)
    y = pipe(x)
    assert y.shape == x.shape
    assert (y - x).abs().mean() > 0.05  # p = 1: every image is changed
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_p_zero_and_almost_zero_are_the_identity():
    x = _images()
    assert torch.equal(AugmentPipe(0.0)(x), x)
    torch.manual_seed(1)
    assert torch.equal(AugmentPipe(1e-12)(x), x)  # the kornia stages draw, none fires


def test_p_sets_the_share_of_augmented_images():
    torch.manual_seed(2)
    pipe = AugmentPipe(0.3)
    x = _images(400, seed=3)
    changed = ((pipe(x) - x).abs().flatten(1).amax(1) > 1e-4).float().mean().item()
    # Four stages each fire with probability 0.3: 1 - 0.7^4 = 0.76 of the images change.
    assert abs(changed - (1 - 0.7 ** 4)) < 0.08


def test_heuristic_raises_p_when_d_overfits_and_lowers_it_otherwise():
    ada = AdaController(target=0.6, interval=4, ada_kimg=1.0)
    for _ in range(40):  # D sure of every real: r_t = 1 > 0.6
        ada.observe(torch.full([16], 3.0))
        ada.step(16)
    assert ada.rt == 1.0
    assert math.isclose(ada.p, 10 * 16 * 4 / 1000)  # 10 adjustments of batch * interval / (ada_kimg * 1000)
    high = ada.p
    for _ in range(8):  # D unsure: half the reals on each side, r_t = 0 < 0.6
        ada.observe(torch.tensor([1.0, -1.0] * 8))
        ada.step(16)
    assert ada.rt == 0.0 and ada.p < high
    for _ in range(400):
        ada.observe(torch.full([16], 3.0))
        ada.step(16)
    assert ada.p == 1.0  # clamped


def test_disabled_controller_measures_but_keeps_p():
    ada = AdaController(enabled=False)
    for _ in range(8):
        ada.observe(torch.full([4], 1.0))
        ada.step(4)
    assert ada.p == 0.0 and ada.rt == 1.0


def test_state_round_trips():
    a = AdaController(ada_kimg=2.0)
    for _ in range(6):
        a.observe(torch.full([4], 1.0))
        a.step(4)
    b = AdaController()
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()


@pytest.mark.parametrize("bad", [-0.5, 1.5])
def test_p_is_clamped(bad):
    assert AugmentPipe(bad).p in (0.0, 1.0)
