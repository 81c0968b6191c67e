"""Train a StyleGAN2 on the procedural faces: non-saturating loss, lazy R1, EMA generator, style mixing.

Reads top to bottom: data, networks, optimisers, (resume), loop. A checkpoint (``checkpoint.pt``, written
to a temp file and renamed) holds everything needed to continue after a kill; ``export_weights`` writes
the small file that generation loads (G_ema + D + config), with ``weights_only=True`` loading.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from gallery import safe_load
from generator.datasets.faces import make_faces
from generator.stylegan.checkpoints import WEIGHTS_FORMAT
from generator.stylegan.model import Discriminator, Generator, to_uint8
from generator.stylegan.presets import StyleGANConfig, preset

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
FORMAT = "latent-gallery-stylegan/1"


@dataclass
class TrainResult:
    step: int
    images_seen: int
    seconds: float
    checkpoint: Path
    weights: Path | None
    last_grid: Path | None
    losses: dict[str, float]


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def grid_image(imgs: np.ndarray, cols: int) -> np.ndarray:
    """[N, H, W, 3] uint8 -> one image of ``cols`` columns (missing cells black)."""
    n, h, w, _ = imgs.shape
    rows = -(-n // cols)
    out = np.zeros((rows * h, cols * w, 3), np.uint8)
    for i, im in enumerate(imgs):
        r, c = divmod(i, cols)
        out[r * h:(r + 1) * h, c * w:(c + 1) * w] = im
    return out


def save_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def _mixed_ws(G: Generator, z: torch.Tensor, prob: float, gen: torch.Generator) -> torch.Tensor:
    ws = G.mapping(z, update_emas=True)
    if prob > 0 and torch.rand([], generator=gen).item() < prob:
        cutoff = int(torch.randint(1, ws.shape[1], [], generator=gen).item())
        z2 = torch.randn(z.shape, generator=gen).to(z.device)
        ws = ws.clone()
        ws[:, cutoff:] = G.mapping(z2, update_emas=False)[:, cutoff:]
    return ws


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    """G_ema <- beta * G_ema + (1 - beta) * G for the parameters; buffers copied as they are."""
    for pe, p in zip(G_ema.parameters(), G.parameters(), strict=True):
        pe.copy_(p.lerp(pe, beta))
    for be, b in zip(G_ema.buffers(), G.buffers(), strict=True):
        be.copy_(b)


def train(preset_name: str, out_dir: Path, *, minutes: float | None = None, steps: int | None = None,
          resume: bool = False, seed: int = 0, dataset_size: int = 10_000, device: str | torch.device = "cpu",
          checkpoint_every_s: float = 120.0, grid_every_s: float = 300.0,
          cfg_overrides: dict[str, Any] | None = None, progress: Any = None) -> TrainResult:
    """Train (or continue) until ``minutes`` of wall time or ``steps`` total steps, whichever first."""
    if minutes is None and steps is None:
        raise ValueError("give minutes or steps (otherwise training never stops)")
    out_dir = Path(out_dir)
    ckpt_path = out_dir / CHECKPOINT
    device = torch.device(device)
    state = None
    if resume:
        if not ckpt_path.exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path}")
        state = safe_load.read(ckpt_path).obj
        if state.get("format") != FORMAT:
            raise ValueError(f"{ckpt_path} is not a training checkpoint of this project")
        cfg = StyleGANConfig.from_dict(state["config"])
        seed = int(state["seed"])
        dataset_size = int(state["dataset_size"])
    else:
        cfg = preset(preset_name)
        if cfg_overrides:
            cfg = cfg.with_(**cfg_overrides)
    torch.manual_seed(seed)
    faces = make_faces(dataset_size, seed=seed, size=cfg.resolution)
    data = torch.from_numpy(faces.images).permute(0, 3, 1, 2).contiguous()  # uint8 N,3,H,W

    G = Generator(cfg).to(device)
    D = Discriminator(cfg).to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    r1_ratio = cfg.r1_every / (cfg.r1_every + 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.0, 0.99), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr * r1_ratio, betas=(0.0, 0.99 ** r1_ratio), eps=1e-8)
    gen = torch.Generator().manual_seed(seed + 1)
    step, seen = 0, 0
    fixed_z = torch.randn([16, cfg.z_dim], generator=torch.Generator().manual_seed(seed + 2))
    if state is not None:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        G_ema.load_state_dict(state["G_ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        gen.set_state(state["rng"])
        if "torch_rng" in state:  # the noise inputs draw from torch's global generator
            torch.set_rng_state(state["torch_rng"])
        step, seen = int(state["step"]), int(state["images_seen"])
        log.info("resumed %s at step %d (%d images)", ckpt_path, step, seen)

    def checkpoint() -> None:
        _atomic_save({"format": FORMAT, "config": cfg.to_dict(), "seed": seed, "dataset_size": dataset_size,
                      "step": step, "images_seen": seen, "G": G.state_dict(), "D": D.state_dict(),
                      "G_ema": G_ema.state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                      "rng": gen.get_state(), "torch_rng": torch.get_rng_state()}, ckpt_path)

    def sample_grid() -> Path:
        with torch.no_grad():
            imgs = to_uint8(G_ema(fixed_z.to(device)))
        path = out_dir / "samples" / f"step-{step:06d}.png"
        save_png(path, grid_image(imgs, 4))
        return path

    ema_beta = 0.5 ** (cfg.batch / max(cfg.ema_kimg * 1000, 1e-8))
    t0 = time.monotonic()
    last_ckpt = last_grid_t = t0
    last_grid = None
    losses = {"g": float("nan"), "d": float("nan"), "r1": float("nan")}
    deadline = t0 + minutes * 60 if minutes is not None else None
    n = len(data)
    while True:
        if steps is not None and step >= steps:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        idx = torch.randint(0, n, [cfg.batch], generator=gen)
        real = data[idx].to(device).float() / 127.5 - 1
        flip = torch.rand([cfg.batch], generator=gen) < 0.5
        real = torch.where(flip[:, None, None, None].to(device), real.flip(3), real)
        z = torch.randn([cfg.batch, cfg.z_dim], generator=gen).to(device)

        # Discriminator: logistic loss (+ lazy R1 on reals).
        D.requires_grad_(True)
        G.requires_grad_(False)
        with torch.no_grad():
            fake = G.synthesis(_mixed_ws(G, z, cfg.style_mixing, gen), noise_mode="random")
        loss_d = F.softplus(D(fake)).mean() + F.softplus(-D(real)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        if cfg.r1_every > 0 and step % cfg.r1_every == 0:
            real_r = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(D(real_r).sum(), real_r, create_graph=True)
            penalty = grad.square().sum(dim=[1, 2, 3]).mean()
            (penalty * (cfg.r1_gamma / 2) * cfg.r1_every).backward()
            losses["r1"] = float(penalty.detach())
        opt_d.step()

        # Generator: non-saturating loss.
        D.requires_grad_(False)
        G.requires_grad_(True)
        z = torch.randn([cfg.batch, cfg.z_dim], generator=gen).to(device)
        loss_g = F.softplus(-D(G.synthesis(_mixed_ws(G, z, cfg.style_mixing, gen), noise_mode="random"))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

        update_ema(G_ema, G, ema_beta)
        step += 1
        seen += cfg.batch
        losses["g"], losses["d"] = float(loss_g.detach()), float(loss_d.detach())
        if not all(np.isfinite(v) for v in (losses["g"], losses["d"])):
            raise FloatingPointError(f"training diverged at step {step}: {losses}")
        if progress is not None:
            progress(1, g=f"{losses['g']:.3f}", d=f"{losses['d']:.3f}")
        now = time.monotonic()
        if now - last_ckpt >= checkpoint_every_s:
            checkpoint()
            last_ckpt = now
        if now - last_grid_t >= grid_every_s:
            last_grid = sample_grid()
            last_grid_t = now
    checkpoint()
    last_grid = sample_grid()
    return TrainResult(step, seen, time.monotonic() - t0, ckpt_path, None, last_grid, losses)


def export_weights(checkpoint: Path, dest: Path) -> Path:
    """Write the file that generation loads: config, G_ema and D state (weights_only-loadable)."""
    state = safe_load.read(checkpoint).obj
    if state.get("format") != FORMAT:
        raise ValueError(f"{checkpoint} is not a training checkpoint of this project")
    out = {"format": WEIGHTS_FORMAT, "config": state["config"], "step": state["step"],
           "images_seen": state["images_seen"], "seed": state["seed"], "G_ema": state["G_ema"], "D": state["D"]}
    _atomic_save(out, Path(dest))
    return Path(dest)

