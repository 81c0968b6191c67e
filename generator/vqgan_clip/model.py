"""VQGAN (Esser, Rombach and Ommer 2021) with taming-transformers' module names and shapes.

``VQModel(ddconfig, n_embed, embed_dim)`` has ``encoder``, ``decoder``, ``quantize.embedding``,
``quant_conv`` and ``post_quant_conv`` laid out exactly as taming's ``VQModel``, so the state dicts of
``vqgan_imagenet_f16_1024`` and ``vqgan_imagenet_f16_16384`` load with ``strict=True`` (after their
``loss.*`` training-only entries are set aside, see :mod:`generator.vqgan_clip.checkpoints`).
Images are in [-1, 1], as in taming.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


class _FrozenConv(torch.autograd.Function):
    """conv2d whose weights take no gradient: backward computes only the input gradient, from the
    weights alone, so the input is not kept alive for backward (a 256x256x128 activation is 32 MB)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
        ctx.conv, ctx.shape = conv, x.shape
        ctx.channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        return F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        c = ctx.conv
        fmt = torch.channels_last if ctx.channels_last else torch.contiguous_format
        shape_only = torch.empty(ctx.shape, dtype=g.dtype, device=g.device, memory_format=fmt)  # never read
        gx = torch.ops.aten.convolution_backward(
            g, shape_only, c.weight, None, list(c.stride), list(c.padding), list(c.dilation), False, [0, 0],
            c.groups, [True, False, False])[0]
        return gx, None


class Conv2d(nn.Conv2d):
    """nn.Conv2d (same parameters and state dict) that, when its weights are frozen, keeps only what
    the input gradient needs for backward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.requires_grad and torch.is_grad_enabled() and not self.weight.requires_grad
                and (self.bias is None or not self.bias.requires_grad) and self.padding_mode == "zeros"
                and isinstance(self.padding, tuple)):
            return _FrozenConv.apply(x, self)
        return super().forward(x)


def normalize(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32 if channels % 32 == 0 else 8, num_channels=channels, eps=1e-6, affine=True)


def swish(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x)  # x * sigmoid(x), one fused kernel forward and backward


class _FrozenNormSwish(torch.autograd.Function):
    """swish(group_norm(x)) with frozen affine weights, keeping only x (and the group statistics) for
    backward: the normalised tensor is recomputed there rather than stored (one elementwise pass)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, norm: nn.GroupNorm) -> torch.Tensor:
        n, c = x.shape[:2]
        hw = x.numel() // max(1, n * c)
        y, mean, rstd = torch.ops.aten.native_group_norm(x, norm.weight, norm.bias, n, c, hw, norm.num_groups,
                                                         norm.eps)
        ctx.norm, ctx.dims = norm, (n, c, hw)
        ctx.save_for_backward(x, mean, rstd)
        return F.silu(y)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        x, mean, rstd = ctx.saved_tensors
        norm, (n, c, hw) = ctx.norm, ctx.dims
        y = torch.ops.aten.native_group_norm(x, norm.weight, norm.bias, n, c, hw, norm.num_groups, norm.eps)[0]
        gy = torch.ops.aten.silu_backward(g, y)
        del y
        gx = torch.ops.aten.native_group_norm_backward(gy, x, mean, rstd, norm.weight, n, c, hw, norm.num_groups,
                                                       [True, False, False])[0]
        return gx, None


def norm_swish(norm: nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
    """swish(norm(x)); with frozen weights, backward keeps x only (see :class:`_FrozenNormSwish`)."""
    if (x.requires_grad and torch.is_grad_enabled() and norm.affine and not norm.weight.requires_grad
            and not norm.bias.requires_grad):
        return _FrozenNormSwish.apply(x, norm)
    return swish(norm(x))


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = Conv2d(channels, channels, 3, 2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))  # asymmetric padding, as taming


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = normalize(in_channels)
        self.conv1 = Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, 1)
        if in_channels != out_channels:
            self.nin_shortcut = Conv2d(in_channels, out_channels, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(norm_swish(self.norm1, x))
        h = self.conv2(self.dropout(norm_swish(self.norm2, h)))
        if hasattr(self, "nin_shortcut"):
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = normalize(channels)
        self.q = Conv2d(channels, channels, 1)
        self.k = Conv2d(channels, channels, 1)
        self.v = Conv2d(channels, channels, 1)
        self.proj_out = Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q = self.q(h).reshape(b, c, hh * ww).transpose(1, 2)
        k = self.k(h).reshape(b, c, hh * ww).transpose(1, 2)
        v = self.v(h).reshape(b, c, hh * ww).transpose(1, 2)
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return x + self.proj_out(out.transpose(1, 2).reshape(b, c, hh, ww))


class Encoder(nn.Module):
    def __init__(self, *, ch: int, ch_mult: list[int], num_res_blocks: int, attn_resolutions: list[int],
                 in_channels: int, resolution: int, z_channels: int, double_z: bool = False,
                 dropout: float = 0.0, out_ch: int = 3) -> None:
        super().__init__()
        self.num_resolutions = len(ch_mult)
        self.conv_in = Conv2d(in_channels, ch, 3, 1, 1)
        in_mult = (1, *ch_mult)
        res = resolution
        self.down = nn.ModuleList()
        block_in = ch
        for i in range(self.num_resolutions):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_in, block_out = ch * in_mult[i], ch * ch_mult[i]
            for _ in range(num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out, dropout))
                block_in = block_out
                if res in attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != self.num_resolutions - 1:
                level.downsample = Downsample(block_in)
                res //= 2
            self.down.append(level)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in, dropout)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in, dropout)
        self.norm_out = normalize(block_in)
        self.conv_out = Conv2d(block_in, 2 * z_channels if double_z else z_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for i, level in enumerate(self.down):
            for j, block in enumerate(level.block):
                h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[j](h)
            if i != self.num_resolutions - 1:
                h = level.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(norm_swish(self.norm_out, h))


class Decoder(nn.Module):
    def __init__(self, *, ch: int, out_ch: int, ch_mult: list[int], num_res_blocks: int,
                 attn_resolutions: list[int], resolution: int, z_channels: int, dropout: float = 0.0,
                 in_channels: int = 3, double_z: bool = False) -> None:
        super().__init__()
        self.num_resolutions = len(ch_mult)
        block_in = ch * ch_mult[-1]
        res = resolution // 2 ** (self.num_resolutions - 1)
        self.conv_in = Conv2d(z_channels, block_in, 3, 1, 1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in, dropout)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in, dropout)
        ups: list[nn.Module] = []
        for i in reversed(range(self.num_resolutions)):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_out = ch * ch_mult[i]
            for _ in range(num_res_blocks + 1):
                level.block.append(ResnetBlock(block_in, block_out, dropout))
                block_in = block_out
                if res in attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i != 0:
                level.upsample = Upsample(block_in)
                res *= 2
            ups.insert(0, level)
        self.up = nn.ModuleList(ups)
        self.norm_out = normalize(block_in)
        self.conv_out = Conv2d(block_in, out_ch, 3, 1, 1)

    # Gradient checkpointing: recompute the activations of the res blocks of the ``grad_checkpoint``
    # largest levels during backward instead of keeping them: much less
    # memory when a loop backpropagates through a big image, at the cost of a second forward there.
    grad_checkpoint: int = 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        ckpt_levels = int(self.grad_checkpoint)
        for i in reversed(range(self.num_resolutions)):
            level = self.up[i]
            for j, block in enumerate(level.block):
                if i < ckpt_levels and torch.is_grad_enabled():
                    h = checkpoint(block, h, use_reentrant=False)
                else:
                    h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[j](h)
            if i != 0:
                h = level.upsample(h)
        return self.conv_out(norm_swish(self.norm_out, h))


class VectorQuantizer(nn.Module):
    """Nearest-codebook quantisation with the straight-through gradient (taming's ``quantize``)."""

    def __init__(self, n_embed: int, embed_dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.n_embed, self.embed_dim, self.beta = n_embed, embed_dim, beta
        self.embedding = nn.Embedding(n_embed, embed_dim)
        self.embedding.weight.data.uniform_(-1.0 / n_embed, 1.0 / n_embed)

    def codes(self, z: torch.Tensor) -> torch.Tensor:
        """Indices (B, H, W) of the nearest codebook vectors of z (B, C, H, W)."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.embed_dim)
        e = self.embedding.weight
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.t() + e.pow(2).sum(1)[None]
        return d.argmin(1).view(z.shape[0], z.shape[2], z.shape[3])

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        return self.embedding(idx).permute(0, 3, 1, 2)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(straight-through quantised z, codebook + commitment loss, indices)."""
        idx = self.codes(z)
        zq = self.lookup(idx)
        loss = F.mse_loss(zq, z.detach()) + self.beta * F.mse_loss(z, zq.detach())
        return z + (zq - z).detach(), loss, idx


class VQModel(nn.Module):
    def __init__(self, ddconfig: dict[str, Any], n_embed: int, embed_dim: int) -> None:
        super().__init__()
        self.ddconfig, self.n_embed, self.embed_dim = dict(ddconfig), n_embed, embed_dim
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        self.quantize = VectorQuantizer(n_embed, embed_dim)
        self.quant_conv = Conv2d(ddconfig["z_channels"], embed_dim, 1)
        self.post_quant_conv = Conv2d(embed_dim, ddconfig["z_channels"], 1)

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.ddconfig["ch_mult"]) - 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-quantisation latents (B, embed_dim, H/f, W/f) of images in [-1, 1]."""
        return self.quant_conv(self.encoder(x))

    def decode(self, zq: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(zq))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zq, qloss, _ = self.quantize(self.encode(x))
        return self.decode(zq), qloss


def build(arch: dict[str, Any]) -> VQModel:
    return VQModel(arch["ddconfig"], arch["n_embed"], arch["embed_dim"])
