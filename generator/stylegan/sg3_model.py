"""StyleGAN3 (alias-free: configs T and R) generator in plain PyTorch, CPU and CUDA, no compiled ops.

Module, parameter and buffer names follow NVIDIA's ``training/networks_stylegan3.py`` (``mapping.fc0``,
``synthesis.input.freqs``, ``synthesis.L3_52_512.up_filter`` ...) so a published pickle's state loads
strictly; the maths is that of the paper (Karras et al. 2021) and of the reference's pure-PyTorch
``_filtered_lrelu_ref`` path: Fourier-feature input rotated and translated by an affine of w, then per
layer a modulated (and, but for ToRGB, demodulated) convolution whose input is scaled by the tracked
input magnitude (``magnitude_ema``), then the filtered leaky ReLU: bias, upsampling by zero insertion and
a FIR low-pass filter, leaky ReLU with gain and clamp, low-pass filtering and decimation. Config R uses
1x1 convolutions and radially symmetric (jinc) down-sampling filters. The filters of an imported network
are its stored buffers; a fresh network designs them (Kaiser-windowed, with scipy) as the reference does.

The class offers the same surface as :class:`generator.stylegan.model.Generator` (``mapping`` with
``w_avg``/``map_w``/``truncate``, ``synthesis(ws, noise_mode=...)``, ``num_ws``, ``z_dim``, ``w_dim``,
``img_resolution``, ``synthesis.layer_names()``), so walks, mixing, projection, bending and the uncanny run
on it unchanged. StyleGAN3 has no noise inputs: ``noise_mode`` is accepted and ignored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generator.stylegan.model import FullyConnectedLayer, MappingNetwork


@dataclass(frozen=True)
class SG3Config:
    """Every hyper-parameter the layer geometry depends on (the reference's defaults)."""

    resolution: int = 256
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 2
    channel_base: int = 32768  # -r doubles both
    channel_max: int = 512
    img_channels: int = 3
    conv_kernel: int = 3  # -r: 1
    use_radial_filters: bool = False  # -r: True
    conv_clamp: float | None = 256
    num_layers: int = 14
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2 ** 2.1
    last_stopband_rel: float = 2 ** 0.3
    margin_size: int = 10
    output_scale: float = 0.25
    filter_size: int = 6
    lrelu_upsampling: int = 2
    magnitude_ema_beta: float = 0.999
    mapping_lr: float = 0.01
    w_avg_beta: float = 0.998
    arch: str = "stylegan3"

    def __post_init__(self) -> None:
        if self.resolution < 16 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 16, got {self.resolution}")
        if self.num_layers <= self.num_critical:
            raise ValueError("num_layers must exceed num_critical")

    @property
    def variant(self) -> str:
        return "r" if self.use_radial_filters or self.conv_kernel == 1 else "t"

    @property
    def num_ws(self) -> int:
        return self.num_layers + 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SG3Config:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown StyleGAN3 config keys: {', '.join(unknown)}")
        return cls(**d)

    def with_(self, **changes: Any) -> SG3Config:
        return replace(self, **changes)


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
                          ) -> torch.Tensor | None:
    """Kaiser-windowed low-pass FIR (separable, 1-D taps) or its radially symmetric jinc form (2-D)."""
    if numtaps == 1:
        return None
    import scipy.signal
    import scipy.special

    if not radial:
        return torch.as_tensor(scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs),
                               dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    w = np.kaiser(numtaps, beta)
    f *= np.outer(w, w)
    f /= np.sum(f)
    return torch.as_tensor(f, dtype=torch.float32)


def _cl(x: torch.Tensor) -> torch.Tensor:
    """Channels-last layout: depthwise (per-channel) filtering runs about 3x faster so on CPU (oneDNN)."""
    return x.contiguous(memory_format=torch.channels_last)


def _fir(x: torch.Tensor, f: torch.Tensor | None, gain: float, down: int = 1) -> torch.Tensor:
    """Convolve every channel with f (1-D: along width, then height; 2-D: at once), times gain, keeping
    every ``down``-th sample (the stride does the decimation, so discarded samples are never computed)."""
    if f is None:
        return x[:, :, ::down, ::down] if down > 1 else (x * gain if gain != 1 else x)
    c = x.shape[1]
    f = (f * gain ** (f.ndim / 2)).to(x.dtype).flip(list(range(f.ndim)))
    if f.ndim == 2:
        return F.conv2d(_cl(x), f[None, None].expand(c, 1, *f.shape), groups=c, stride=down)
    k = f.numel()
    x = F.conv2d(_cl(x), f.reshape(1, 1, 1, k).expand(c, 1, 1, k), groups=c, stride=(1, down))
    return F.conv2d(_cl(x), f.reshape(1, 1, k, 1).expand(c, 1, k, 1), groups=c, stride=(down, 1))


def _up_1d(x: torch.Tensor, f: torch.Tensor, up: int, p0: int, p1: int, dim: int) -> torch.Tensor:
    """Along ``dim`` (3: width, 2: height): insert up-1 zeros after every sample, pad (p0, p1) (negative: crop)
    and convolve with f, computed polyphase: each of the ``up`` output phases is a short convolution of the
    original samples with every up-th tap, so no product with an inserted zero is ever formed."""
    c, k = x.shape[1], f.numel()
    j = -(-k // up)
    g = F.pad(f, [0, j * up - k]).reshape(j, up).t().flip(1)  # [up, j]: phase p's taps, flipped (correlation)
    length = x.shape[dim]
    start, out_len = k - 1 - p0, length * up + p0 + p1 - k + 1  # the kept part of the full convolution
    xp, pad = _cl(x), ((0, j - 1) if dim == 3 else (j - 1, 0))
    shape = (1, 1, 1, j) if dim == 3 else (1, 1, j, 1)
    size = list(x.shape)
    size[dim] = out_len
    edge = start < 0 or start + out_len > (length + j - 1) * up  # output samples beyond the convolution: 0
    y = torch.empty(size, dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    if edge:
        y.zero_()
    for p in range(up):  # one per-channel convolution per phase, written into every up-th output sample
        m0 = max(0, -((p - start) // up))  # full-convolution sample m * up + p is output sample q
        m1 = min(length + j - 1, (start + out_len - 1 - p) // up + 1)
        if m1 <= m0:
            continue
        yp = F.conv2d(xp, g[p].reshape(shape).expand(c, *shape[1:]).to(x.dtype), groups=c, padding=pad)
        q0 = m0 * up + p - start
        sl = slice(q0, q0 + (m1 - m0 - 1) * up + 1, up)
        (y[:, :, :, sl] if dim == 3 else y[:, :, sl, :]).copy_(yp.narrow(dim, m0, m1 - m0))
    return y


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor | None,
                   up: int = 1, down: int = 1, padding: tuple[int, int, int, int] = (0, 0, 0, 0),
                   gain: float = math.sqrt(2), slope: float = 0.2, clamp: float | None = None) -> torch.Tensor:
    """Bias; upsample by ``up`` (zero insertion, pad/crop by ``padding`` = (x0, x1, y0, y1), filter ``fu`` with
    gain up**2); leaky ReLU (``slope``) times ``gain``, clamped to +-clamp; filter ``fd`` and keep every
    ``down``-th sample. The same sequence of operations as NVIDIA's ``_filtered_lrelu_ref`` (a separable
    up-sampling filter runs polyphase: the same sums without the inserted zeros' terms)."""
    n, c, h, w = x.shape
    x = x + b.to(x.dtype).reshape(1, -1, 1, 1) if b is not None else x.clone()  # never the caller's tensor
    px0, px1, py0, py1 = padding
    if up > 1 and fu is not None and fu.ndim == 1:
        fu = fu * float(up)  # the gain up**2, half per pass
        x = _up_1d(_up_1d(x, fu, up, px0, px1, 3), fu, up, py0, py1, 2)
    else:
        if up > 1:
            z = x.new_zeros(n, c, h, up, w, up)
            z[:, :, :, 0, :, 0] = x
            x = z.reshape(n, c, h * up, w * up)
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
        x = x[:, :, max(-py0, 0):x.shape[2] - max(-py1, 0), max(-px0, 0):x.shape[3] - max(-px1, 0)]
        x = _fir(x, fu, float(up * up))
    if not torch.is_grad_enabled():  # inference: in place (x is this function's own intermediate here)
        if slope != 1:
            x = F.leaky_relu_(x, slope)
        if gain != 1:
            x = x.mul_(gain)
        if clamp is not None and clamp >= 0:
            x = x.clamp_(-clamp, clamp)
        return _fir(x, fd, 1.0, down)
    if slope != 1:
        x = F.leaky_relu(x, slope)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return _fir(x, fd, 1.0, down)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool, padding: int,
                     input_gain: torch.Tensor | None) -> torch.Tensor:
    """One grouped convolution per batch with per-sample weights (as the reference's ``modulated_conv2d``)."""
    n = x.shape[0]
    _, in_c, kh, kw = weight.shape
    w, s = weight, styles
    if demodulate:
        w = w * w.square().mean([1, 2, 3], keepdim=True).rsqrt()
        s = s * s.square().mean().rsqrt()
    w = w.unsqueeze(0) * s.unsqueeze(1).unsqueeze(3).unsqueeze(4)  # [N, O, I, k, k]
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().unsqueeze(2).unsqueeze(3).unsqueeze(4)
    if input_gain is not None:
        w = w * input_gain.expand(n, in_c).unsqueeze(1).unsqueeze(3).unsqueeze(4)
    x = F.conv2d(x.reshape(1, -1, *x.shape[2:]), w.reshape(-1, in_c, kh, kw).to(x.dtype), padding=padding,
                 groups=n)
    return x.reshape(n, -1, *x.shape[2:])


class SynthesisInput(nn.Module):
    """Fourier features on a grid, their frequencies rotated and phases shifted by an affine of w."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float) -> None:
        super().__init__()
        self.w_dim, self.channels, self.size = w_dim, channels, int(size)
        self.sampling_rate, self.bandwidth = float(sampling_rate), float(bandwidth)
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0, 0, 0]))
        self.register_buffer("transform", torch.eye(3, 3))  # the user's inverse transform of the image
        self.register_buffer("freqs", freqs * bandwidth)
        self.register_buffer("phases", torch.rand([channels]) - 0.5)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        n, dev = w.shape[0], w.device
        t = self.affine(w)  # (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=dev).unsqueeze(0).repeat([n, 1, 1])
        m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        m_t = torch.eye(3, device=dev).unsqueeze(0).repeat([n, 1, 1])
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        transforms = m_r @ m_t @ self.transform.unsqueeze(0)
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        theta = torch.eye(2, 3, device=dev)
        theta[0, 0] = theta[1, 1] = 0.5 * self.size / self.sampling_rate
        grids = F.affine_grid(theta.unsqueeze(0), [1, 1, self.size, self.size], align_corners=False)
        x = (grids.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, H, W, C]
        x = torch.sin((x + phases.unsqueeze(1).unsqueeze(2)) * (np.pi * 2))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """Modulated convolution + filtered leaky ReLU between two sampling rates (or the final ToRGB)."""

    def __init__(self, cfg: SG3Config, is_torgb: bool, is_critically_sampled: bool, in_channels: int,
                 out_channels: int, in_size: int, out_size: int, in_sampling_rate: int, out_sampling_rate: int,
                 in_cutoff: float, out_cutoff: float, in_half_width: float, out_half_width: float,
                 design: bool = True) -> None:
        super().__init__()
        self.is_torgb, self.in_channels, self.out_channels = is_torgb, in_channels, out_channels
        self.in_size, self.out_size = int(in_size), int(out_size)
        self.conv_kernel = 1 if is_torgb else cfg.conv_kernel
        self.conv_clamp = cfg.conv_clamp
        self.magnitude_ema_beta = cfg.magnitude_ema_beta
        tmp_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else cfg.lrelu_upsampling)
        self.affine = FullyConnectedLayer(cfg.w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.up_factor = int(np.rint(tmp_rate / in_sampling_rate))
        self.down_factor = int(np.rint(tmp_rate / out_sampling_rate))
        up_taps = cfg.filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        down_taps = cfg.filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        radial = cfg.use_radial_filters and not is_critically_sampled
        self.register_buffer("up_filter", design_lowpass_filter(up_taps, in_cutoff, in_half_width * 2, tmp_rate)
                             if design else (torch.zeros(up_taps) if up_taps > 1 else None))
        self.register_buffer("down_filter", design_lowpass_filter(down_taps, out_cutoff, out_half_width * 2,
                                                                  tmp_rate, radial)
                             if design else (torch.zeros(*([down_taps] * (2 if radial else 1)))
                                             if down_taps > 1 else None))
        pad_total = (self.out_size - 1) * self.down_factor + 1
        pad_total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += up_taps + down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2  # the symmetric interpretation (paper, appendix C.3)
        self.padding = (pad_lo, pad_total - pad_lo, pad_lo, pad_total - pad_lo)

    def forward(self, x: torch.Tensor, w: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        if update_emas:
            with torch.no_grad():
                cur = x.detach().to(torch.float32).square().mean()
                self.magnitude_ema.copy_(cur.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / np.sqrt(self.in_channels * self.conv_kernel ** 2))
        x = modulated_conv2d(x, self.weight, styles, demodulate=not self.is_torgb, padding=self.conv_kernel - 1,
                             input_gain=self.magnitude_ema.rsqrt())
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, self.up_factor, self.down_factor,
                              self.padding, gain=1.0 if self.is_torgb else math.sqrt(2),
                              slope=1.0 if self.is_torgb else 0.2, clamp=self.conv_clamp)


def layer_plan(cfg: SG3Config) -> dict[str, np.ndarray]:
    """The geometric progression of cutoffs, stopbands, sampling rates, sizes and channels (per layer)."""
    n, res = cfg.num_layers, cfg.resolution
    last_cutoff = res / 2
    last_stopband = last_cutoff * cfg.last_stopband_rel
    exponents = np.minimum(np.arange(n + 1) / (n - cfg.num_critical), 1)
    cutoffs = cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** exponents
    stopbands = cfg.first_stopband * (last_stopband / cfg.first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, res))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + cfg.margin_size * 2
    sizes[-2:] = res
    channels = np.rint(np.minimum((cfg.channel_base / 2) / cutoffs, cfg.channel_max))
    channels[-1] = cfg.img_channels
    return {"cutoffs": cutoffs, "rates": rates, "half_widths": half_widths, "sizes": sizes, "channels": channels}


class SynthesisNetwork(nn.Module):
    def __init__(self, cfg: SG3Config, design: bool = True) -> None:
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = cfg.w_dim, cfg.resolution, cfg.img_channels
        self.num_ws = cfg.num_ws
        self.output_scale = cfg.output_scale
        p = layer_plan(cfg)
        ch, sz, rate, cut, hw = p["channels"], p["sizes"], p["rates"], p["cutoffs"], p["half_widths"]
        self.input = SynthesisInput(cfg.w_dim, int(ch[0]), int(sz[0]), rate[0], cut[0])
        self.cutoffs = [float(cut[0])] + [float(c) for c in cut]  # of what each ws entry drives
        self.names: list[str] = []
        for i in range(cfg.num_layers + 1):
            prev = max(i - 1, 0)
            layer = SynthesisLayer(cfg, i == cfg.num_layers, i >= cfg.num_layers - cfg.num_critical, int(ch[prev]),
                                   int(ch[i]), int(sz[prev]), int(sz[i]), int(rate[prev]), int(rate[i]), cut[prev],
                                   cut[i], hw[prev], hw[i], design=design)
            name = f"L{i}_{layer.out_size}_{layer.out_channels}"
            setattr(self, name, layer)
            self.names.append(name)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", update_emas: bool = False) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> images [N, C, H, W] (about -1..1). ``noise_mode``: no noise in StyleGAN3."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0])
        for name, w in zip(self.names, ws[1:], strict=True):
            x = getattr(self, name)(x, w, update_emas=update_emas)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32)

    def layer_names(self) -> list[str]:
        """The synthesis layers that network bending may transform (all but ToRGB), coarse to fine."""
        return self.names[:-1]

    def style_ranges(self) -> dict[str, tuple[int, int]]:
        """Style-mixing ranges of ws by the frequencies a layer carries, as StyleGAN2's by resolution:
        coarse up to the detail of an 8 px image (cutoff <= 4), middle up to 32 px (<= 16), fine above."""
        a = sum(1 for c in self.cutoffs if c <= 4 + 1e-6)
        b = sum(1 for c in self.cutoffs if c <= 16 + 1e-6)
        return {"coarse": (0, a), "middle": (a, b), "fine": (b, self.num_ws)}


class SG3Generator(nn.Module):
    """``design=False`` skips the filter design (for a network whose filters are then loaded from a file)."""

    arch = "stylegan3"

    def __init__(self, cfg: SG3Config, design: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.w_dim, self.img_resolution = cfg.z_dim, cfg.w_dim, cfg.resolution
        self.synthesis = SynthesisNetwork(cfg, design)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(cfg.z_dim, cfg.w_dim, self.num_ws, cfg.mapping_layers, cfg.mapping_lr,
                                      cfg.w_avg_beta)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const",
                update_emas: bool = False) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_emas=update_emas)
        return self.synthesis(ws, update_emas=update_emas)
