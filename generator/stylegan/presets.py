"""Named StyleGAN2 configurations, as data, in one place.

``tiny-faces64`` is what this project trains on its procedural faces; the others are the published
configurations of NVIDIA's stylegan2-ada-pytorch, so that a real checkpoint's state maps strictly
onto our modules (same parameter names and shapes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class StyleGANConfig:
    resolution: int = 64
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    channel_base: int = 32768  # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    img_channels: int = 3
    conv_clamp: float | None = None  # 256 in the published fp16-trained models
    mbstd_group: int = 4
    mbstd_channels: int = 1
    mapping_lr: float = 0.01
    w_avg_beta: float = 0.995
    # Training hyper-parameters (ignored by inference).
    batch: int = 16
    lr: float = 0.0025
    r1_gamma: float = 1.0
    r1_every: int = 16
    ema_kimg: float = 10.0
    style_mixing: float = 0.9

    def __post_init__(self) -> None:
        r = self.resolution
        if r < 8 or r & (r - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {r}")
        for name in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    @property
    def num_ws(self) -> int:
        return 2 * (self.resolution.bit_length() - 1) - 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StyleGANConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown StyleGAN config keys: {', '.join(unknown)}")
        return cls(**d)

    def with_(self, **changes: Any) -> StyleGANConfig:
        return replace(self, **changes)


PRESETS: dict[str, StyleGANConfig] = {
    # Trains on the procedural faces on a shared CPU: small mapping, few channels.
    "tiny-faces64": StyleGANConfig(resolution=64, z_dim=64, w_dim=64, mapping_layers=3, channel_base=512,
                                   channel_max=32, batch=8, lr=0.0025, r1_gamma=0.1, r1_every=8, ema_kimg=1.0),
    # NVIDIA config-f at 256 (rosinality channel_multiplier=2: 512 up to 64 px, then 256, 128).
    "ffhq256": StyleGANConfig(resolution=256, channel_base=32768, conv_clamp=256, batch=32, r1_gamma=1.0),
    # stylegan2-ada-pytorch "paper256" (its FFHQ-256 transfer-learning pickle): half the channels.
    "ffhq256-paper256": StyleGANConfig(resolution=256, channel_base=16384, conv_clamp=256, batch=64,
                                       r1_gamma=1.0),
    # The published FFHQ 1024 (stylegan2-ada-pytorch ffhq.pkl).
    "ffhq1024": StyleGANConfig(resolution=1024, channel_base=32768, conv_clamp=256, batch=32, r1_gamma=10.0),
}


def preset(name: str) -> StyleGANConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown StyleGAN preset {name!r}; known: {', '.join(PRESETS)}") from None
