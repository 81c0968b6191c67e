"""Named Music-VAE configurations, as data (after magenta's music_vae ``configs.py``).

``tiny-*`` presets train on this machine's CPU in minutes and ship with the project; the others
carry the published sizes (Roberts et al. 2018; magenta ``cat-mel_2bar_big`` and
``hierdec-mel_16bar``) for a user with a GPU and a large MIDI collection.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from gallery.errors import BadInput


@dataclass(frozen=True)
class ModelConfig:
    bars: int = 2  # melody length; a bar is 16 sixteenth-note steps
    hierarchical: bool = False  # conductor LSTM -> one embedding per bar -> bar decoder
    embed: int = 32  # event embedding size (encoder and decoder inputs)
    enc_hidden: int = 128  # bidirectional encoder LSTM, units per direction
    enc_layers: int = 1
    latent: int = 32  # z size
    dec_hidden: int = 128  # (bar) decoder LSTM units
    dec_layers: int = 2
    conductor_hidden: int = 128  # hierarchical only
    conductor_layers: int = 1

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise BadInput(f"unknown Music-VAE model keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000
    batch: int = 64
    lr: float = 2e-3
    lr_min: float = 1e-4  # cosine decay to this
    beta: float = 0.2  # KL weight at the end of warm-up
    beta_warmup: int = 1000  # steps of linear KL warm-up
    free_bits: float = 16.0  # nats of KL that cost nothing (keeps the latent in use)
    ss_rate: float = 500.0  # inverse-sigmoid scheduled sampling rate (steps); 0 turns it off
    ss_max: float = 0.5  # cap on the probability of feeding the model its own prediction
    transpose: int = 5  # random transposition of each window by -5..+6 semitones
    stride_bars: int = 1  # windows are cut every this many bars
    play_repeats: bool = False  # read corpus pieces with their repeats played out (A A B B)
    grad_clip: float = 1.0


@dataclass(frozen=True)
class Preset:
    name: str
    model: ModelConfig
    train: TrainConfig
    note: str = ""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("tiny-2bar",
               ModelConfig(bars=2, embed=32, enc_hidden=128, latent=32, dec_hidden=128, dec_layers=2),
               TrainConfig(steps=8000, batch=64, beta=0.2, free_bits=48.0, ss_rate=0.0),
               "2-bar melodies; trains here on the CPU in minutes"),
        Preset("tiny-16bar",
               ModelConfig(bars=16, hierarchical=True, embed=32, enc_hidden=96, latent=64,
                           conductor_hidden=128, conductor_layers=1, dec_hidden=128, dec_layers=1),
               TrainConfig(steps=7000, batch=48, lr=3e-3, beta=0.2, beta_warmup=1000, free_bits=128.0,
                           ss_rate=0.0, play_repeats=True),
               "hierarchical 16-bar melodies; trains here on the CPU in minutes"),
        Preset("mel-2bar",
               ModelConfig(bars=2, embed=90, enc_hidden=2048, enc_layers=1, latent=512, dec_hidden=2048,
                           dec_layers=3),
               TrainConfig(steps=200_000, batch=512, lr=1e-3, lr_min=1e-5, beta=0.5, beta_warmup=20_000,
                           free_bits=0.0, ss_rate=1000.0, ss_max=1.0),
               "published 2-bar size (magenta cat-mel_2bar_big); needs a GPU"),
        Preset("mel-16bar",
               ModelConfig(bars=16, hierarchical=True, embed=90, enc_hidden=2048, enc_layers=2, latent=512,
                           conductor_hidden=1024, conductor_layers=2, dec_hidden=1024, dec_layers=2),
               TrainConfig(steps=200_000, batch=512, lr=1e-3, lr_min=1e-5, beta=0.2, beta_warmup=20_000,
                           free_bits=256.0, ss_rate=1000.0, ss_max=1.0),
               "published hierarchical 16-bar size (magenta hierdec-mel_16bar); needs a GPU"),
    ]
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise BadInput(f"unknown Music-VAE preset {name!r}; known: {', '.join(PRESETS)}") from None
