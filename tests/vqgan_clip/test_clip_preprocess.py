"""CLIP preprocessing of images that are not S x S matches open_clip's own eval transform (bicubic)."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def _picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients, hard edges and noise: what resizing filters disagree on."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    im = np.stack([(np.sin(xx / 7) + np.cos(yy / 11)) * 60 + 128, xx * 255 / w,
                   ((xx // 13 + yy // 17) % 2) * 200 + rng.integers(0, 40, (h, w))], -1)
    return im.clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("shape", [(300, 451), (97, 150), (1000, 333)])
def test_preprocess_matches_open_clip_reference(shape: tuple[int, int]) -> None:
    import open_clip
    from PIL import Image

    from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip_file

    enc = load_clip_file(SHIPPED_CLIP, device="cpu")
    mean, std = enc.mean.flatten(), enc.std.flatten()
    reference = open_clip.transform.image_transform(enc.image_size, is_train=False, mean=tuple(mean.tolist()),
                                                    std=tuple(std.tolist()))
    im = _picture(*shape)
    ref = reference(Image.fromarray(im))
    ours = (enc.preprocess(im) - mean.view(3, 1, 1)) / std.view(3, 1, 1)
    assert ours.shape == ref.shape
    # pixel level: off by at most one 8-bit level on average (PIL's and torch's bicubic kernels round
    # differently at a few pixels)
    assert (ours - ref).abs().mean() * std.mean() < 1.5 / 255
    with torch.no_grad():
        cos = torch.nn.functional.cosine_similarity(enc.model.encode_image(ref[None]),
                                                    enc.model.encode_image(ours[None])).item()
    assert cos >= 0.999, cos
