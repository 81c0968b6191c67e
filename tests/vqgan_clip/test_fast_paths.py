"""The loop's fast paths compute what the plain modules compute: the oneDNN CLIP image tower, the
frozen convolutions and group-norm+swish that keep less for backward, decoder checkpointing."""

from __future__ import annotations

import pytest
import torch

from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load
from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip_file
from generator.vqgan_clip.fastclip import fast_image_encoder, frozen_linear
from generator.vqgan_clip.model import Conv2d, norm_swish, swish


def _close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-4) -> bool:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max()) <= rel * float(b.abs().max()) + 1e-7


def test_fast_clip_matches_open_clip_values_and_input_gradients() -> None:
    clip = load_clip_file(SHIPPED_CLIP, device="cpu")
    enc = fast_image_encoder(clip)
    assert enc is not None
    x = torch.rand(6, 3, clip.image_size, clip.image_size, generator=torch.Generator().manual_seed(0))
    feats, grads = [], []
    for f in (lambda t: clip.image_features(t, resize=False), enc, enc):
        xi = x.clone().requires_grad_(True)
        out = f(xi)
        (out * torch.linspace(-1, 1, out.shape[1])).sum().backward()
        feats.append(out.detach())
        grads.append(xi.grad)
    assert _close(feats[1], feats[0]) and _close(grads[1], grads[0])
    assert torch.equal(feats[1], feats[2]) and torch.equal(grads[1], grads[2])  # run to run, bit for bit
    with torch.no_grad():
        assert _close(enc(x), feats[0])
    # not for a model whose weights train, or in training mode: then the caller uses encode_image
    vis = clip.model.visual
    vis.proj.requires_grad_(True)
    try:
        assert fast_image_encoder(clip) is None
    finally:
        vis.proj.requires_grad_(False)
    vis.train()
    try:
        assert fast_image_encoder(clip) is None
    finally:
        vis.eval()


def test_frozen_linear_gradient_and_fallback() -> None:
    g = torch.Generator().manual_seed(1)
    w, b = torch.randn(7, 5, generator=g), torch.randn(7, generator=g)
    x = torch.randn(3, 4, 5, generator=g, requires_grad=True)
    y = frozen_linear(x, w, b)
    (gy,) = torch.autograd.grad(y.square().sum(), x)
    x2 = x.detach().clone().requires_grad_(True)
    y2 = torch.nn.functional.linear(x2, w, b)
    (gy2,) = torch.autograd.grad(y2.square().sum(), x2)
    assert _close(y, y2) and _close(gy, gy2)
    wg = w.clone().requires_grad_(True)  # trainable weights: plain F.linear, weight gradients flow
    frozen_linear(x, wg, b).sum().backward()
    assert wg.grad is not None


@pytest.mark.parametrize("channels_last", [False, True])
def test_frozen_conv_and_norm_swish_match_plain_modules(channels_last: bool) -> None:
    torch.manual_seed(2)
    conv, norm = Conv2d(16, 8, 3, 1, 1), torch.nn.GroupNorm(8, 16, eps=1e-6)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    x0 = torch.randn(2, 16, 12, 10)
    if channels_last:
        x0 = x0.contiguous(memory_format=torch.channels_last)

    def run(frozen: bool) -> tuple[torch.Tensor, torch.Tensor, int]:
        for p in list(conv.parameters()) + list(norm.parameters()):
            p.requires_grad_(not frozen)
        x = x0.clone().requires_grad_(True)
        saved: list[int] = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
            y = conv(norm_swish(norm, x)) if frozen else conv(swish(norm(x)))
        (gx,) = torch.autograd.grad((y * y.detach().sin()).sum(), x)
        return y.detach(), gx, sum(saved)

    y_plain, g_plain, saved_plain = run(False)
    y_fast, g_fast, saved_fast = run(True)
    assert torch.equal(y_fast, y_plain)
    assert _close(g_fast, g_plain, 1e-5)
    assert saved_fast < saved_plain  # the frozen path keeps only x (+ statistics and weights)


def test_decoder_checkpointing_levels_give_the_same_gradient() -> None:
    vq, _, _ = load(SHIPPED_VQGAN)
    for p in vq.parameters():
        p.requires_grad_(False)
    z0 = torch.randn(1, vq.embed_dim, 8, 8, generator=torch.Generator().manual_seed(3))
    outs = []
    for levels in (0, 1, 2, True):
        vq.decoder.grad_checkpoint = levels
        z = z0.clone().contiguous(memory_format=torch.channels_last).requires_grad_(True)
        img = vq.decode(z)
        img.square().mean().backward()
        outs.append((img.detach(), z.grad))
    vq.decoder.grad_checkpoint = 0
    for img, g in outs[1:]:
        assert torch.equal(img, outs[0][0]) and _close(g, outs[0][1], 1e-5)
