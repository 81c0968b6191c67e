"""Named configurations of Latent Timbre Synthesis, as data: the CQT frames and the frame VAE.

``reference`` follows the published system (44.1 kHz, hop 128, 48 bins per octave over 8 octaves =
384 bins; VAE 384 -> 2048 -> 256 -> 2048 -> 384). ``tiny`` is small enough to train on a laptop CPU in
a few minutes and is the preset whose weights the project ships.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

C1_HZ = 32.703195662574764  # the lowest bin of both presets (MIDI note 24)


@dataclass(frozen=True)
class CQTSpec:
    """Constant-Q frames: sample rate, hop between frames and the log-spaced bins."""

    sr: int = 44100
    hop: int = 128
    bins_per_octave: int = 48
    n_octaves: int = 8
    fmin: float = C1_HZ

    def __post_init__(self) -> None:
        if self.sr <= 0 or self.hop <= 0 or self.bins_per_octave <= 0 or self.n_octaves <= 0:
            raise ValueError(f"CQT settings must be positive: {self}")
        if self.fmax * (1 + 2 / self.Q) >= self.sr / 2:
            raise ValueError(f"the top CQT bin ({self.fmax:.0f} Hz) must lie well below Nyquist ({self.sr / 2:.0f} Hz)")

    @property
    def n_bins(self) -> int:
        return self.bins_per_octave * self.n_octaves

    @property
    def Q(self) -> float:
        return 1.0 / (2.0 ** (1.0 / self.bins_per_octave) - 1.0)

    @property
    def fmax(self) -> float:
        return self.fmin * 2.0 ** ((self.n_bins - 1) / self.bins_per_octave)

    @property
    def frame_rate(self) -> float:
        return self.sr / self.hop

    def freqs(self) -> list[float]:
        return [self.fmin * 2.0 ** (k / self.bins_per_octave) for k in range(self.n_bins)]

    def bin_of(self, hz: float) -> float:
        return self.bins_per_octave * math.log2(hz / self.fmin)


@dataclass(frozen=True)
class VAESpec:
    """Frame VAE: n_bins -> hidden -> latent -> hidden -> n_bins (MSE on log-magnitude plus beta * KL)."""

    hidden: int = 2048
    latent: int = 256
    beta: float = 1e-3


@dataclass(frozen=True)
class TrainSpec:
    steps: int = 20000
    batch: int = 256
    lr: float = 1e-3
    max_frames: int = 400_000  # frames drawn from the corpus (evenly over files)
    held_out: float = 0.1  # fraction of files kept apart for the held-out reconstruction error


@dataclass(frozen=True)
class Preset:
    name: str
    cqt: CQTSpec
    vae: VAESpec
    train: TrainSpec = field(default_factory=TrainSpec)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "reference": Preset("reference", CQTSpec(44100, 128, 48, 8), VAESpec(2048, 256, 1e-3),
                        TrainSpec(steps=20000, batch=256, lr=1e-3)),
    "tiny": Preset("tiny", CQTSpec(44100, 128, 24, 8), VAESpec(512, 32, 1e-3),
                   TrainSpec(steps=3000, batch=256, lr=2e-3, max_frames=120_000)),
}


def get_preset(name: str) -> Preset:
    from gallery.errors import BadInput

    if name not in PRESETS:
        raise BadInput(f"unknown LTS preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_from_dict(d: dict) -> Preset:
    """Rebuild a preset stored in a checkpoint (so a checkpoint carries its own settings)."""
    return Preset(name=d["name"], cqt=CQTSpec(**d["cqt"]), vae=VAESpec(**d["vae"]),
                  train=TrainSpec(**d.get("train", {})))
