"""StyleGAN2 generator and discriminator in plain PyTorch (CPU and CUDA, no compiled ops).

Module and parameter names and shapes follow NVIDIA's stylegan2-ada-pytorch (``mapping.fc0.weight``,
``mapping.w_avg``, ``synthesis.b4.const``, ``synthesis.b8.conv0.affine.weight``, ``b64.fromrgb``,
``b4.out`` ...) so that the state of a published checkpoint loads strictly. The maths follows the
paper: a mapping network with a tracked w average and truncation, modulated and demodulated 3x3
convolutions (computed as "scale input, shared convolution, scale output", which lets a batch share
one convolution), per-layer noise, skip toRGB outputs summed across resolutions, a [1,3,3,1] FIR
filter for up/down-sampling, and a residual discriminator with minibatch standard deviation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generator.stylegan.presets import StyleGANConfig

SQRT2 = math.sqrt(2.0)


def setup_filter(taps: tuple[float, ...] = (1, 3, 3, 1)) -> torch.Tensor:
    f = torch.tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def fir(x: torch.Tensor, f: torch.Tensor, pad: tuple[int, int, int, int], gain: float = 1.0,
        stride: int = 1) -> torch.Tensor:
    """Pad (x0, x1, y0, y1), correlate every channel with the 2-D filter f (times gain), then subsample."""
    c = x.shape[1]
    w = (f * gain).to(x.dtype).flip([0, 1])[None, None].expand(c, 1, *f.shape)
    if len(set(pad)) == 1:  # symmetric: let the convolution pad (no padded copy of x)
        return F.conv2d(x, w, stride=stride, groups=c, padding=pad[0])
    return F.conv2d(F.pad(x, list(pad)), w, stride=stride, groups=c)


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x upsampling by zero insertion and the FIR filter (as NVIDIA's upfirdn2d.upsample2d)."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, h, 2, w, 2)
    up[:, :, :, 0, :, 0] = x
    return fir(up.reshape(n, c, 2 * h, 2 * w), f, (2, 1, 2, 1), gain=4.0)


def bias_lrelu(x: torch.Tensor, b: torch.Tensor | None, gain: float, clamp: float | None,
               inplace: bool = False) -> torch.Tensor:
    """x + b, leaky ReLU (0.2), times gain, clamped. ``inplace`` reuses x (inference: fewer memory passes)."""
    if inplace:
        if b is not None:
            x.add_(b.reshape(1, -1, *([1] * (x.ndim - 2))))
        x = F.leaky_relu_(x, 0.2).mul_(gain)
        return x.clamp_(-clamp, clamp) if clamp is not None else x
    if b is not None:
        x = x + b.reshape(1, -1, *([1] * (x.ndim - 2)))
    x = F.leaky_relu(x, 0.2) * gain
    return x.clamp(-clamp, clamp) if clamp is not None else x


def bias_linear(x: torch.Tensor, b: torch.Tensor | None, clamp: float | None) -> torch.Tensor:
    if b is not None:
        x = x + b.reshape(1, -1, *([1] * (x.ndim - 2)))
    return x.clamp(-clamp, clamp) if clamp is not None else x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias is not None else None
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t()) if b is not None else x.matmul(w.t())
        return bias_lrelu(x.matmul(w.t()), b, SQRT2, None)


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_layers: int = 8, lr_multiplier: float = 0.01,
                 w_avg_beta: float = 0.995) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, w_dim, num_ws, num_layers
        self.w_avg_beta = w_avg_beta
        feats = [z_dim] + [w_dim] * num_layers
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(feats[i], feats[i + 1], activation="lrelu",
                                                        lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        x = self.map_w(z)
        if update_emas:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        return self.truncate(x, truncation_psi, truncation_cutoff)

    def map_w(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, z_dim] -> w [N, w_dim] (one w, before broadcasting to every layer)."""
        x = normalize_2nd_moment(z.to(torch.float32))
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x

    def truncate(self, ws: torch.Tensor, psi: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
        if psi == 1:
            return ws
        avg = self.w_avg.to(ws.dtype)
        if cutoff is None:
            return avg.lerp(ws, psi)
        ws = ws.clone()
        ws[:, :cutoff] = avg.lerp(ws[:, :cutoff], psi)
        return ws


class SynthesisLayer(nn.Module):
    # batch 1 only: fold the styles into the weights (rosinality's way) instead of scaling the input and
    # output of the shared conv; chosen per machine by generator.stylegan.fastpaths
    modulate_weights: bool = False

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1,
                 conv_clamp: float | None = None, kernel_size: int = 3) -> None:
        super().__init__()
        self.resolution, self.up, self.conv_clamp = resolution, up, conv_clamp
        self.padding = kernel_size // 2
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("resample_filter", setup_filter())

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", gain: float = 1.0) -> torch.Tensor:
        styles = self.affine(w)
        weight = self.weight
        # sum_i,k (w[o,i,k] s[n,i])^2 = s^2 @ (sum_k w^2)^T: a matmul, not an [N, out, in, k, k] tensor.
        dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()
        modulated = self.modulate_weights and x.shape[0] == 1  # batch 1: styles folded into the weights
        if modulated:
            weight = weight * styles[0][None, :, None, None] * dcoefs[0][:, None, None, None]
        else:
            x = x * styles[:, :, None, None]
        if self.up == 2:
            x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
            x = fir(x, self.resample_filter, (1, 1, 1, 1), gain=4.0)
        else:
            x = F.conv2d(x, weight, padding=self.padding)
        inplace = not (torch.is_grad_enabled() and x.requires_grad)  # the conv output is ours to reuse
        if not modulated:
            x = x.mul_(dcoefs[:, :, None, None]) if inplace else x * dcoefs[:, :, None, None]
        if noise_mode == "random":
            noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device,
                                dtype=x.dtype) * self.noise_strength
        elif noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        elif noise_mode == "none":
            noise = None
        else:
            raise ValueError(f"noise_mode must be random, const or none, got {noise_mode!r}")
        if noise is not None:
            x = x.add_(noise) if inplace else x + noise
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_lrelu(x, self.bias, SQRT2 * gain, clamp, inplace=inplace)


class ToRGBLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = F.conv2d(x * styles[:, :, None, None], self.weight)
        return bias_linear(x, self.bias, self.conv_clamp)


class SynthesisBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        self.num_conv, self.num_torgb = 0, 1
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.register_buffer("resample_filter", setup_filter())

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str = "const") -> tuple[torch.Tensor, torch.Tensor]:
        w = ws.unbind(dim=1)
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, w[0], noise_mode=noise_mode)
        else:
            x = self.conv0(x, w[0], noise_mode=noise_mode)
            x = self.conv1(x, w[1], noise_mode=noise_mode)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, w[self.num_conv])
        img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    def __init__(self, cfg: StyleGANConfig) -> None:
        super().__init__()
        self.img_resolution = cfg.resolution
        self.block_resolutions = [2 ** i for i in range(2, cfg.resolution.bit_length())]
        self.num_ws = 0
        for res in self.block_resolutions:
            in_ch = cfg.channels(res // 2) if res > 4 else 0
            block = SynthesisBlock(in_ch, cfg.channels(res), cfg.w_dim, res, cfg.img_channels, cfg.conv_clamp)
            self.num_ws += block.num_conv
            setattr(self, f"b{res}", block)
        self.num_ws += 1

    # Inference at batch > 1: the blocks whose activations exceed this many elements per image run one
    # image at a time. Batching helps the small, early blocks (few large GEMMs instead of many small ones);
    # the large, late ones are memory-bound, and a batch of them streams gigabytes through the cache
    # (FFHQ-256 at batch 8: 1.8 images/s batched throughout, 3.3 split from 32 px; see bench/stylegan.py).
    micro_batch_above = 1 << 18

    fast_path = "auto"  # batch-1 inference: auto (measured per machine) | on (shared conv) | off (modulated weights)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        if ws.shape[0] == 1 and not torch.is_grad_enabled():
            from generator.stylegan.fastpaths import apply_batch1_choice

            apply_batch1_choice(self, ws.device)
        x = img = None
        w_idx = 0
        blocks = []
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            blocks.append((res, block, ws.narrow(1, w_idx, block.num_conv + block.num_torgb)))
            w_idx += block.num_conv
        split = len(blocks)
        if ws.shape[0] > 1 and not torch.is_grad_enabled():
            split = next((i for i, (res, block, _) in enumerate(blocks)
                          if block.conv1.weight.shape[0] * res * res >= self.micro_batch_above), split)
        for _, block, w in blocks[:split]:
            x, img = block(x, img, w, noise_mode=noise_mode)
        if split == len(blocks):
            return img
        out = []
        for i in range(ws.shape[0]):  # the rest per image: the same arithmetic, one image's working set
            xi = None if x is None else x[i:i + 1]
            ii = None if img is None else img[i:i + 1]
            for _, block, w in blocks[split:]:
                xi, ii = block(xi, ii, w[i:i + 1], noise_mode=noise_mode)
            out.append(ii)
        return torch.cat(out)

    def layer_names(self) -> list[str]:
        """Names of the styled convolution layers (for network bending), coarse to fine."""
        names = []
        for res in self.block_resolutions:
            if res > 4:
                names.append(f"b{res}.conv0")
            names.append(f"b{res}.conv1")
        return names


class Generator(nn.Module):
    def __init__(self, cfg: StyleGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.w_dim, self.img_resolution = cfg.z_dim, cfg.w_dim, cfg.resolution
        self.synthesis = SynthesisNetwork(cfg)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(cfg.z_dim, cfg.w_dim, self.num_ws, cfg.mapping_layers, cfg.mapping_lr,
                                      cfg.w_avg_beta)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const",
                update_emas: bool = False) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode)


class Conv2dLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", down: int = 1, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.activation, self.down, self.conv_clamp = activation, down, conv_clamp
        self.padding = kernel_size // 2
        self.register_buffer("resample_filter", setup_filter())
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = SQRT2 if activation == "lrelu" else 1.0
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        k = w.shape[-1]
        if self.down == 2 and k == 1:
            x = fir(x, self.resample_filter, (1, 1, 1, 1), stride=2)
            x = F.conv2d(x, w)
        elif self.down == 2:
            p = self.padding + 1
            x = fir(x, self.resample_filter, (p, p, p, p))
            x = F.conv2d(x, w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        if self.activation == "lrelu":
            return bias_lrelu(x, self.bias, self.act_gain * gain, clamp)
        x = x * gain if gain != 1 else x
        return bias_linear(x, self.bias, clamp)


class DiscriminatorBlock(nn.Module):
    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, resolution: int, img_channels: int,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)
        self.register_buffer("resample_filter", setup_filter())

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 0:
            y = self.fromrgb(img)
            x = x + y if x is not None else y
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


class MinibatchStdLayer(nn.Module):
    def __init__(self, group_size: int, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            g = math.gcd(n, g)
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    def __init__(self, in_channels: int, resolution: int, mbstd_group: int, mbstd_channels: int,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.mbstd = MinibatchStdLayer(mbstd_group, mbstd_channels)
        self.conv = Conv2dLayer(in_channels + mbstd_channels, in_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.mbstd(x))
        return self.out(self.fc(x.flatten(1)))


class Discriminator(nn.Module):
    def __init__(self, cfg: StyleGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.img_resolution = cfg.resolution
        self.block_resolutions = [2 ** i for i in range(cfg.resolution.bit_length() - 1, 2, -1)]
        for res in self.block_resolutions:
            in_ch = cfg.channels(res) if res < cfg.resolution else 0
            setattr(self, f"b{res}", DiscriminatorBlock(in_ch, cfg.channels(res), cfg.channels(res // 2), res,
                                                        cfg.img_channels, cfg.conv_clamp))
        self.b4 = DiscriminatorEpilogue(cfg.channels(4), 4, cfg.mbstd_group, cfg.mbstd_channels, cfg.conv_clamp)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, img)
        return self.b4(x)


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """Generator output [N, 3, H, W] in about -1..1 -> [N, H, W, 3] uint8 RGB."""
    x = (img.detach().float().clamp(-1, 1) + 1) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def z_from_seed(seed: int, z_dim: int) -> torch.Tensor:
    """The latent of a seed, as NVIDIA's generate.py draws it (numpy RandomState(seed).randn)."""
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim)).float()
