"""The frame VAE of Latent Timbre Synthesis: one constant-Q magnitude frame <-> one latent vector.

Frames enter as ``log1p(magnitude)`` standardised per bin (mean and spread of the training frames,
stored with the weights), so a checkpoint decodes to the same magnitudes anywhere.
"""

from __future__ import annotations

import torch
from torch import nn

from generator.lts.presets import Preset


class FrameVAE(nn.Module):
    def __init__(self, n_bins: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.n_bins, self.hidden, self.latent = n_bins, hidden, latent
        self.enc = nn.Sequential(nn.Linear(n_bins, hidden), nn.LeakyReLU(0.1))
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, n_bins))
        self.register_buffer("mean", torch.zeros(n_bins))
        self.register_buffer("std", torch.ones(n_bins))

    @classmethod
    def from_preset(cls, preset: Preset) -> FrameVAE:
        return cls(preset.cqt.n_bins, preset.vae.hidden, preset.vae.latent)

    # magnitude <-> network space
    def normalise(self, mag: torch.Tensor) -> torch.Tensor:
        return (torch.log1p(mag.clamp_min(0)) - self.mean) / self.std

    def denormalise(self, y: torch.Tensor) -> torch.Tensor:
        return torch.expm1(y * self.std + self.mean).clamp_min(0)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(x)
        return self.mu(h), self.logvar(h).clamp(-12, 8)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z)

    def forward(self, x: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return self.decode(z), mu, logvar

    # frames (n_bins, T) of magnitudes <-> latents (T, latent)
    @torch.no_grad()
    def encode_frames(self, mag: torch.Tensor) -> torch.Tensor:
        return self.encode(self.normalise(mag.T.to(self.mean)))[0]

    @torch.no_grad()
    def decode_frames(self, z: torch.Tensor) -> torch.Tensor:
        return self.denormalise(self.decode(z.to(self.mean))).T


def vae_loss(model: FrameVAE, x: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MSE (per bin) plus beta times the KL divergence to N(0, I) (per latent dimension); returns all three."""
    recon, mu, logvar = model(x)
    mse = torch.mean((recon - x) ** 2)
    kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
    return mse + beta * kl, mse, kl
