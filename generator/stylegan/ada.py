"""Adaptive discriminator augmentation (Karras et al. 2020, "Training GANs with limited data").

:class:`AugmentPipe` is a chain of kornia augmentations (differentiable: the generator learns through
them), each applied to an image with probability ``p``: x-flip, 90-degree rotations, an affine warp
(translation, isotropic scale, rotation; reflection padding, as the paper's "geometric" group) and colour
(brightness, contrast, saturation, hue: the paper's "color" group). The trainer applies the same pipe to
real and generated images in the discriminator passes and to the generated ones in the generator pass,
so the discriminator never sees an un-augmented distribution that the generator could learn to copy.

:class:`AdaController` steers ``p`` with the paper's overfitting heuristic
``r_t = E[sign(D(real))]``: every ``interval`` steps, ``p`` moves by ``sign(r_t - target) * images /
(ada_kimg * 1000)``, so that it can go from 0 to 1 in ``ada_kimg`` thousand images. The paper uses
``ada_kimg = 500`` for runs of tens of millions of images; our CPU runs show tens of thousands, so the
default here is 20 (p can reach 1 within 20k images; docs/stylegan.md "Train on your own images").
Augmentations draw from torch's global generator, which the training checkpoint saves (bit-for-bit resume).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

DEFAULT_TARGET = 0.6
DEFAULT_INTERVAL = 4  # steps between adjustments of p
DEFAULT_ADA_KIMG = 20.0  # thousands of images for p to go 0 -> 1 (the paper: 500)


class AugmentPipe(nn.Module):
    """Images in [-1, 1], (B, 3, H, W) -> augmented images of the same shape; ``p`` is read at each call."""

    def __init__(self, p: float = 0.0, *, translate: float = 0.125, scale: tuple[float, float] = (0.8, 1.25),
                 degrees: float = 20.0, brightness: float = 0.2, contrast: float = 0.5, saturation: float = 0.5,
                 hue: float = 0.05) -> None:
        super().__init__()
        import kornia.augmentation as K

        self.stages = nn.ModuleList([
            K.RandomHorizontalFlip(p=1.0),
            K.RandomRotation90(times=(0, 3), p=1.0),
            K.RandomAffine(degrees=degrees, translate=(translate, translate), scale=scale,
                           padding_mode="reflection", p=1.0),
            K.ColorJiggle(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue, p=1.0),
        ])
        self.p = float(p)

    @property
    def p(self) -> float:
        return self._p

    @p.setter
    def p(self, value: float) -> None:
        self._p = min(max(float(value), 0.0), 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._p <= 0.0:
            return x
        y = (x + 1) * 0.5  # kornia's colour operations expect [0, 1]
        for stage in self.stages:
            stage.p = self._p
            y = stage(y)
        return y * 2 - 1


@dataclass
class AdaController:
    """Keeps ``p`` near the point where D's sign on reals averages ``target``."""

    target: float = DEFAULT_TARGET
    interval: int = DEFAULT_INTERVAL
    ada_kimg: float = DEFAULT_ADA_KIMG
    p: float = 0.0
    sign_sum: float = 0.0
    count: int = 0
    steps: int = 0
    rt: float = float("nan")  # the last r_t measured
    enabled: bool = True  # False: r_t is still measured (for the progress line), p stays where it is

    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate sign(D(augmented reals)) of one discriminator pass."""
        self.sign_sum += float(torch.sign(real_logits.detach().float()).sum())
        self.count += int(real_logits.numel())

    def step(self, batch: int) -> float:
        """Called once per training step; every ``interval`` steps adjusts p. Returns p."""
        self.steps += 1
        if self.steps % self.interval or self.count == 0:
            return self.p
        self.rt = self.sign_sum / self.count
        self.sign_sum, self.count = 0.0, 0
        if not self.enabled:
            return self.p
        sign = (self.rt > self.target) - (self.rt < self.target)
        adjust = sign * batch * self.interval / (self.ada_kimg * 1000)
        self.p = min(max(self.p + adjust, 0.0), 1.0)
        return self.p

    def state_dict(self) -> dict[str, Any]:
        return {"target": self.target, "interval": self.interval, "ada_kimg": self.ada_kimg, "p": self.p,
                "sign_sum": self.sign_sum, "count": self.count, "steps": self.steps, "rt": self.rt,
                "enabled": self.enabled}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        for k, v in d.items():
            setattr(self, k, type(getattr(self, k))(v))
