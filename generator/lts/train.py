"""Train the frame VAE on a folder of sounds (or the project's corpus) and save a checkpoint.

A checkpoint is a plain dict loadable with ``torch.load(weights_only=True)``: the preset, the state
dict (with the per-bin normalisation), an anchor bank of latent sequences (one-second windows of
the training sounds, named after their file, so soundscapes need no corpus at generation time) and
the held-out figures.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generator.lts.checkpoints import FORMAT, save
from generator.lts.cqt import cqt_magnitude
from generator.lts.model import FrameVAE, vae_loss
from generator.lts.presets import Preset

log = logging.getLogger(__name__)


@dataclass
class FrameSet:
    frames: np.ndarray  # (n, n_bins) magnitudes
    file_index: np.ndarray  # (n,) which file each frame came from
    names: list[str]
    paths: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def load_frames(paths: list[Path], preset: Preset, max_frames: int, silence_db: float = -50.0,
                say=log.warning) -> FrameSet:
    """CQT magnitude frames of every readable, non-silent file; quiet frames are dropped."""
    from generator.datasets.sounds import read_audio

    spec = preset.cqt
    per_file = max(16, max_frames // max(1, len(paths)))
    frames, owners, names, skipped, used = [], [], [], [], []
    for p in paths:
        try:
            x = read_audio(p, spec.sr)
        except ValueError as e:
            skipped.append(str(e))
            say(f"skipped {e}")
            continue
        S = frames_of(x, spec)
        energy = S.sum(axis=0)
        keep = energy > energy.max() * 10 ** (silence_db / 20)
        S = S[:, keep]
        if S.shape[1] == 0:
            skipped.append(f"{p}: no frame above {silence_db:.0f} dB")
            say(f"skipped {p}: no frame above {silence_db:.0f} dB")
            continue
        if S.shape[1] > per_file:
            S = S[:, np.linspace(0, S.shape[1] - 1, per_file).round().astype(int)]
        frames.append(S.T.astype(np.float32))
        owners.append(np.full(S.shape[1], len(names)))
        names.append(p.stem)
        used.append(p)
    if not frames:
        from gallery.errors import BadInput

        raise BadInput("no usable audio: every file was unreadable or silent" + (
            "; " + "; ".join(skipped[:5]) if skipped else ""))
    return FrameSet(np.concatenate(frames), np.concatenate(owners), names, used, skipped)


def frames_of(x: np.ndarray, spec, chunk_seconds: float = 30.0) -> np.ndarray:
    """Magnitude frames (n_bins, T) of a whole file, in chunks so that long files need little memory."""
    step = int(chunk_seconds * spec.sr) // spec.hop * spec.hop
    parts = [cqt_magnitude(x[i:i + step], spec)[:, : int(np.ceil(len(x[i:i + step]) / spec.hop))]
             for i in range(0, len(x), step)]
    return np.concatenate(parts, axis=1)


def split_files(n_files: int, held_out: float) -> np.ndarray:
    """Deterministic held-out files, spread over the corpus by a fixed permutation (none when < 3 files)."""
    mask = np.zeros(n_files, dtype=bool)
    if n_files < 3 or held_out <= 0:
        return mask
    k = max(1, round(n_files * held_out))
    mask[np.random.default_rng(20211).permutation(n_files)[:k]] = True
    return mask


@torch.no_grad()
def evaluate(model: FrameVAE, mags: np.ndarray) -> dict[str, float]:
    """MSE in the normalised log domain and spectral convergence of the decoded magnitudes (posterior means)."""
    model.eval()
    x = torch.from_numpy(mags)
    y = model.normalise(x)
    recon, _, _ = model(y, sample=False)
    mse = float(torch.mean((recon - y) ** 2))
    mag = model.denormalise(recon)
    sc = float(torch.linalg.norm(mag - x) / torch.linalg.norm(x).clamp_min(1e-12))
    return {"mse": mse, "spectral_convergence": sc, "frames": int(len(mags))}


def anchor_bank(model: FrameVAE, paths: list[Path], preset: Preset, seconds: float = 1.0,
                max_anchors: int = 64) -> dict[str, Any]:
    """Latent sequences of the loudest one-second windows of (up to max_anchors, evenly spread) files."""
    from generator.datasets.sounds import read_audio

    spec = preset.cqt
    n = int(round(seconds * spec.frame_rate))
    names, seqs = [], []
    if len(paths) > max_anchors:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, max_anchors).round().astype(int)]
    for p in paths:
        try:
            x = read_audio(p, spec.sr)
        except ValueError:
            continue
        S = frames_of(x, spec)
        if S.shape[1] < n:  # a short sound: played forwards and backwards to fill the window
            cycle = np.concatenate([S, S[:, -2:0:-1]], axis=1) if S.shape[1] > 2 else S
            S = cycle[:, np.arange(n) % cycle.shape[1]]
        energy = np.convolve(S.sum(axis=0), np.ones(n), mode="valid")
        start = int(energy.argmax())
        z = model.encode_frames(torch.from_numpy(np.ascontiguousarray(S[:, start:start + n])))
        names.append(p.stem)
        seqs.append(z.cpu())
    if not seqs:
        return {"names": [], "latents": torch.zeros(0, n, model.latent)}
    return {"names": names, "latents": torch.stack(seqs).contiguous()}


def train(preset: Preset, out: Path, *, paths: list[Path], seed: int = 0, steps: int | None = None,
          device: torch.device | str = "cpu", progress=None, say=log.warning) -> dict[str, Any]:
    """Train on the files, save the checkpoint at ``out``; returns a summary (held-out figures, sha256)."""
    t0 = time.monotonic()
    tcfg = preset.train
    steps = tcfg.steps if steps is None else steps
    fs = load_frames(paths, preset, tcfg.max_frames, say=say)
    held = split_files(len(fs.names), tcfg.held_out)
    test_mask = held[fs.file_index]
    train_x, test_x = fs.frames[~test_mask], fs.frames[test_mask]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = FrameVAE.from_preset(preset)
    logs = np.log1p(train_x)
    model.mean.copy_(torch.from_numpy(logs.mean(axis=0)))
    model.std.copy_(torch.from_numpy(np.maximum(logs.std(axis=0), 1e-3)))
    model.to(device)
    data = model.normalise(torch.from_numpy(train_x).to(device))
    opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    model.train()
    last = {}
    for step in range(steps):
        idx = torch.randint(0, len(data), (min(tcfg.batch, len(data)),), generator=gen).to(device)
        loss, mse, kl = vae_loss(model, data[idx], preset.vae.beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        last = {"loss": loss.item(), "mse": mse.item(), "kl": kl.item()}
        if progress is not None:
            progress(step + 1, steps, last)
    model.cpu().eval()
    train_eval = evaluate(model, train_x[:: max(1, len(train_x) // 20000)])
    test_eval = evaluate(model, test_x) if len(test_x) else None
    bank = anchor_bank(model, [p for p, h in zip(fs.paths, held, strict=True) if not h], preset)
    ckpt = {
        "format": FORMAT,
        "preset": preset.to_dict(),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "anchors": bank,
        "info": {"seed": seed, "steps": steps, "files": fs.names, "held_out_files": [n for n, h in zip(fs.names, held, strict=True) if h],
                 "skipped": fs.skipped, "train": train_eval, "held_out": test_eval, "last": last,
                 "seconds": round(time.monotonic() - t0, 1)},
    }
    return {"checkpoint": str(out), "sha256": save(out, ckpt), **ckpt["info"]}

