"""Kernel inception distance (Binkowski et al. 2018) between generated and dataset images.

:func:`kid` is the unbiased estimator of the squared MMD with the polynomial kernel
``k(x, y) = (x.y / d + 1) ** 3``, averaged over random subsets (as stylegan2-ada-pytorch's
``metrics/kernel_inception_distance.py``). It is 0 in expectation for two samples of one distribution
(and can be slightly negative), larger the further apart they are.

The features are not Inception's (nothing downloads here): :class:`KidFeatures` uses the image tower
of the project's shipped tiny CLIP (``generator/weights/vqgan_clip/clip-tiny-shapes.pt``, 64 px input,
96-dimensional embeddings), L2-normalised and scaled by sqrt(d), so that ``x.y / d`` is the cosine of two
images' embeddings and the kernel lies in [0, 8] (the raw embeddings' norms are large enough for the cubic
kernel to swamp everything else). So a KID here compares runs with one another (ADA or not, transfer or
scratch), not with published KID figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def kid(x: np.ndarray, y: np.ndarray, *, subsets: int = 50, subset_size: int = 1000, seed: int = 0) -> float:
    """KID between feature sets ``x`` [N, d] and ``y`` [M, d] (float64 arithmetic)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sets must be [N, d] with the same d, got {x.shape} and {y.shape}")
    d = x.shape[1]
    m = min(len(x), len(y), subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    t = 0.0
    for _ in range(subsets):
        a_ = x[rng.choice(len(x), m, replace=False)]
        b_ = y[rng.choice(len(y), m, replace=False)]
        kxx = (a_ @ a_.T / d + 1) ** 3
        kyy = (b_ @ b_.T / d + 1) ** 3
        kxy = (a_ @ b_.T / d + 1) ** 3
        t += ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m - 1) - kxy.sum() * 2 / m
    return float(t / subsets / m)


class KidFeatures:
    """Features of images for :func:`kid`: the shipped tiny CLIP's image embedding (unnormalised)."""

    def __init__(self, device: Any = "cpu", path: Any = None) -> None:
        from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip_file

        self.encoder = load_clip_file(path or SHIPPED_CLIP, device=torch.device(device))
        self.device = torch.device(device)
        self.name = f"{self.encoder.name} ({self.encoder.model_sha256[:12]})"

    @torch.no_grad()
    def of_tensor(self, x: torch.Tensor, batch: int = 128) -> np.ndarray:
        """Images (B, 3, H, W) in [-1, 1] -> features [B, d]."""
        out = []
        for i in range(0, len(x), batch):
            xi = ((x[i:i + batch].to(self.device).float() + 1) * 0.5).clamp(0, 1)
            f = self.encoder.image_features(xi).float().cpu()
            out.append(f / f.norm(dim=1, keepdim=True).clamp_min(1e-12) * f.shape[1] ** 0.5)
        return torch.cat(out).numpy()

    def of_uint8(self, imgs: np.ndarray, batch: int = 128) -> np.ndarray:
        """Images (B, H, W, 3) uint8 -> features [B, d]."""
        out = []
        for i in range(0, len(imgs), batch):
            t = torch.from_numpy(np.ascontiguousarray(imgs[i:i + batch])).permute(0, 3, 1, 2).float() / 127.5 - 1
            out.append(self.of_tensor(t, batch))
        return np.concatenate(out) if out else np.zeros((0, self.encoder.dim), np.float32)
