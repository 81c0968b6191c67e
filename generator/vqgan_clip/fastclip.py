"""A faster way through a frozen open_clip ViT image tower, for the VQGAN+CLIP loop (same weights, same maths).

The loop needs the gradient of CLIP's image embedding with respect to the cutouts, never with
respect to CLIP's weights. :func:`fast_image_encoder` wraps a standard open_clip
``VisionTransformer`` (class-token pooling, ``nn.MultiheadAttention`` blocks) and computes exactly
what ``model.encode_image`` computes, in fp32, but

- every linear layer (and the patch embedding, written as the matrix product it is: the patches do
  not overlap) runs through oneDNN's fp32 matrix product on the CPU, with a backward that computes
  only the input gradient (``grad @ W``), also through oneDNN; on this machine's AMD cores MKL's
  sgemm reaches about 100 GFLOP/s per core, oneDNN about 230;
- the tokens stay batch-first (no transposes and copies around ``nn.MultiheadAttention``);
- the last block computes its attention output and MLP for the class token only: the embedding
  is read from that token alone, so the other tokens' last outputs were never used.

Results agree with ``encode_image`` to float32 rounding (different summation order), and are
deterministic run to run. Any other architecture (attention pooling, layer scale, masks, another
device or dtype) gets ``None``, and the caller uses ``encode_image``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def _onednn_ok(t: torch.Tensor) -> bool:
    return (t.device.type == "cpu" and t.dtype == torch.float32 and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def _lp(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x.contiguous(), w, b, "none", [], "")


class _FrozenLinear(torch.autograd.Function):
    """y = x W^T + b through oneDNN; backward gives only dx = dy W (the weights are frozen)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(w)
        return _lp(x, w, b)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        (w,) = ctx.saved_tensors
        return _lp(g, w.t(), None), None, None


def frozen_linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear for weights that take no gradient, through oneDNN where it can (CPU, fp32)."""
    if w.requires_grad or (b is not None and b.requires_grad) or not _onednn_ok(x):
        return F.linear(x, w, b)
    if not torch.is_grad_enabled() or not x.requires_grad:
        return _lp(x, w, b)
    return _FrozenLinear.apply(x, w, b)


def _supported(vis: nn.Module) -> bool:
    try:
        from open_clip.transformer import ResidualAttentionBlock, VisionTransformer
    except ImportError:  # pragma: no cover - open_clip is a dependency
        return False
    if type(vis) is not VisionTransformer or vis.training:
        return False
    if vis.attn_pool is not None or vis.pool_type != "tok" or getattr(vis, "output_tokens", False):
        return False
    if vis.conv1.bias is not None or vis.conv1.kernel_size != vis.conv1.stride or vis.conv1.padding != (0, 0):
        return False
    if not isinstance(vis.patch_dropout, nn.Identity) or vis.proj is None or not vis.transformer.batch_first:
        return False
    for blk in vis.transformer.resblocks:
        if type(blk) is not ResidualAttentionBlock or hasattr(blk, "ln_1_kv"):
            return False
        if not (isinstance(blk.ls_1, nn.Identity) and isinstance(blk.ls_2, nn.Identity)):
            return False
        a = blk.attn
        if (not isinstance(a, nn.MultiheadAttention) or not a._qkv_same_embed_dim or a.bias_k is not None
                or a.add_zero_attn or a.dropout != 0.0 or not a.batch_first):
            return False
        if list(dict(blk.mlp.named_children())) != ["c_fc", "gelu", "c_proj"]:
            return False
    return all(not p.requires_grad for p in vis.parameters())


def _attention(blk: nn.Module, h: torch.Tensor, cls_only: bool) -> torch.Tensor:
    """blk.attn(h, h, h)[0] for batch-first h (B, L, E); only the first query when cls_only."""
    a = blk.attn
    b, n, e = h.shape
    nh = a.num_heads
    hd = e // nh
    w, bias = a.in_proj_weight, a.in_proj_bias
    if cls_only:
        q = frozen_linear(h[:, :1], w[:e], None if bias is None else bias[:e])
        kv = frozen_linear(h, w[e:], None if bias is None else bias[e:]).view(b, n, 2, nh, hd)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)
        q = q.view(b, 1, nh, hd).transpose(1, 2)
    else:
        qkv = frozen_linear(h, w, bias).view(b, n, 3, nh, hd)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    o = F.scaled_dot_product_attention(q, k, v)
    o = o.transpose(1, 2).reshape(b, q.shape[2], e)
    return frozen_linear(o, a.out_proj.weight, a.out_proj.bias)


def _mlp(blk: nn.Module, x: torch.Tensor) -> torch.Tensor:
    m = blk.mlp
    return frozen_linear(m.gelu(frozen_linear(x, m.c_fc.weight, m.c_fc.bias)), m.c_proj.weight, m.c_proj.bias)


def vit_image_features(vis: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``vis(x)`` for a supported open_clip VisionTransformer (see :func:`fast_image_encoder`)."""
    b, c, hh, ww = x.shape
    ph, pw = vis.conv1.kernel_size
    gh, gw = hh // ph, ww // pw
    width = vis.conv1.out_channels
    patches = x.reshape(b, c, gh, ph, gw, pw).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, c * ph * pw)
    tok = frozen_linear(patches, vis.conv1.weight.reshape(width, -1))
    tok = torch.cat([vis.class_embedding.view(1, 1, -1).expand(b, 1, width).to(tok.dtype), tok], 1)
    tok = vis.ln_pre(tok + vis.positional_embedding.to(tok.dtype))
    blocks = list(vis.transformer.resblocks)
    for i, blk in enumerate(blocks):
        last = i == len(blocks) - 1
        a = _attention(blk, blk.ln_1(tok), cls_only=last)
        tok = (tok[:, :1] if last else tok) + a
        tok = tok + _mlp(blk, blk.ln_2(tok))
    return vis.ln_post(tok[:, 0]) @ vis.proj


def fast_image_encoder(clip: Any) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """For a :class:`~generator.vqgan_clip.clip.ClipEncoder`: a function of B x 3 x S x S images in
    [0, 1] (S = ``clip.image_size``) giving ``clip.image_features(x, resize=False)``; ``None`` when the
    model is not a supported architecture or not on the CPU in fp32."""
    model = getattr(clip, "model", None)
    vis = getattr(model, "visual", None)
    if vis is None or not _supported(vis):
        return None
    w = vis.conv1.weight
    if not _onednn_ok(w):
        return None
    if (vis.positional_embedding.shape[0] - 1) != (clip.image_size // vis.conv1.kernel_size[0]) ** 2:
        return None

    def encode(x: torch.Tensor) -> torch.Tensor:
        return vit_image_features(vis, (x - clip.mean) / clip.std)

    return encode
