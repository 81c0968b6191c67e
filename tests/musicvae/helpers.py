"""Helpers of the Music-VAE tests: small MIDI files and micro checkpoints trained in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_midi(path: Path, notes: list[tuple[int, float, float]], tempo: float = 120.0,
               time_signature: tuple[int, int] | None = (4, 4), program: int = 0, parts: int = 1) -> Path:
    """notes: (pitch, start, end) in quarter notes."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    if time_signature:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(*time_signature, 0.0))
    q = 60.0 / tempo
    for k in range(parts):
        inst = pretty_midi.Instrument(program=program)
        for p, s, e in notes:
            inst.notes.append(pretty_midi.Note(velocity=80, pitch=p + 4 * k, start=s * q, end=e * q))
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def scale_melody(bars: int, base: int = 60, seed: int = 0) -> list[tuple[int, float, float]]:
    """A deterministic stepwise tune of ``bars`` bars in eighth and quarter notes."""
    rng = np.random.default_rng(seed)
    notes, t, p = [], 0.0, base
    while t < bars * 4:
        d = float(rng.choice([0.5, 1.0]))
        notes.append((int(p), t, min(t + d, bars * 4)))
        p = int(np.clip(p + rng.choice([-2, -1, 1, 2]), base - 7, base + 12))
        t += d
    return notes


def melody_events(bars: int, base: int = 60, seed: int = 0) -> np.ndarray:
    from generator.musicvae.events import notes_to_events, quantise

    return notes_to_events(quantise(scale_melody(bars, base, seed)), bars * 16)


def micro_checkpoint(path: Path, bars: int, hierarchical: bool, steps: int) -> Path:
    import torch

    from generator.musicvae.checkpoints import save_checkpoint
    from generator.musicvae.presets import ModelConfig, Preset, TrainConfig
    from generator.musicvae.train import attribute_vectors, train_model

    torch.set_num_threads(1)
    cfg = ModelConfig(bars=bars, hierarchical=hierarchical, embed=8, enc_hidden=24, latent=8, dec_hidden=32,
                      dec_layers=1, conductor_hidden=16)
    preset = Preset("micro", cfg, TrainConfig(steps=steps, batch=16, lr=5e-3, beta_warmup=10, free_bits=4.0,
                                              ss_rate=20.0, ss_max=0.3, transpose=2))
    data = np.stack([melody_events(bars, 55 + (i % 12), seed=i) for i in range(24)])
    model, _ = train_model(preset, data, seed=0)
    save_checkpoint(path, model, "micro", attribute_vectors(model, data), {"test": True})
    return path
