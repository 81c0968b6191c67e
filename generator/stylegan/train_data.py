"""Train StyleGAN2 on an image dataset (``gallery train stylegan --data NAME``): ADA, transfer, Freeze-D, KID.

The same losses as :mod:`generator.stylegan.train` (non-saturating logistic loss, lazy R1, EMA generator,
style mixing), plus:

- **streaming**: each step reads its batch from the dataset's memory map (:class:`ImageDataset`), the
  indices drawn from a seeded torch generator that the checkpoint saves, so a killed run continues bit for
  bit (``--continue``);
- **ADA** (:mod:`generator.stylegan.ada`): reals and fakes augmented with probability p in the D pass, the
  fakes in the G pass; R1 on the augmented reals; p steered by r_t = E[sign(D(real))] towards the target;
- **transfer** (:mod:`generator.stylegan.transfer`): G, G_ema and D start from a model of the same
  resolution; ``freeze_d`` keeps the first K discriminator blocks fixed;
- **CUDA**: the same code; forward passes under ``torch.autocast`` (float16) with a GradScaler per
  network (R1 stays in float32);
- **progress**: KID against the dataset (:mod:`generator.stylegan.kid`) and sample grids every so many
  seconds (evaluations run under a forked RNG: they never change the training's random stream);
- **a dataset that goes away** (deleted, moved, rebuilt) under a running training stops it with
  :class:`DatasetGone` (a BadInput), the last checkpoint as it was.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gallery import safe_load
from gallery.errors import BadInput
from generator.datasets.image_store import DATA_FILE, ImageDataset
from generator.stylegan.ada import DEFAULT_ADA_KIMG, DEFAULT_TARGET, AdaController, AugmentPipe
from generator.stylegan.model import Discriminator, Generator, to_uint8
from generator.stylegan.presets import StyleGANConfig
from generator.stylegan.train import CHECKPOINT, _atomic_save, _mixed_ws, grid_image, save_png, update_ema
from generator.stylegan.transfer import Source, data_config, freeze_d

log = logging.getLogger(__name__)
FORMAT = "latent-gallery-stylegan-data/1"


class DatasetGone(BadInput):
    """The dataset's data file vanished or changed while training read it."""


@dataclass
class DataOptions:
    steps: int | None = None
    minutes: float | None = None
    seed: int = 0
    ada: bool = True
    ada_target: float = DEFAULT_TARGET
    ada_kimg: float = DEFAULT_ADA_KIMG
    freeze_d: int = 0
    mirror: bool = True
    kid_every_s: float = 300.0  # 0: no KID at all
    kid_images: int = 500
    grid_every_s: float = 300.0
    checkpoint_every_s: float = 120.0
    amp: bool = True  # mixed precision, on CUDA only


@dataclass
class DataResult:
    step: int
    images_seen: int
    seconds: float
    checkpoint: Path
    last_grid: Path | None
    losses: dict[str, float]
    ada_p: float
    rt: float
    kid: float | None
    kid_history: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)  # dataset, transfer, options: the run's provenance


class _Guard:
    """Notices the data file being deleted, moved or replaced (a stat per step)."""

    def __init__(self, ds: ImageDataset) -> None:
        self.path = ds.folder / DATA_FILE
        self.key = self._key()

    def _key(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return st.st_dev, st.st_ino, st.st_size

    def check(self, step: int, ckpt: Path) -> None:
        try:
            ok = self._key() == self.key
        except OSError:
            ok = False
        if not ok:
            kept = f"the last checkpoint {ckpt} is kept" if ckpt.exists() else "no checkpoint was written yet"
            raise DatasetGone(f"the dataset {self.path.parent} was deleted, moved or rebuilt during training "
                              f"(at step {step}); {kept}: put the dataset back and run again with --continue")


def dataset_meta(ds: ImageDataset, name: str) -> dict[str, Any]:
    return {"name": name, "sha256": ds.index.get("data_sha256"), "count": len(ds), "resolution": ds.resolution}


def train_on_data(ds: ImageDataset, name: str, out_dir: Path, opts: DataOptions, *, source: Source | None = None,
                  cont: bool = False, device: str | torch.device = "cpu", kid_features: Any = None,
                  progress: Any = None) -> DataResult:
    """Train (or with ``cont`` continue) a run in ``out_dir`` on ``ds`` until ``opts.steps`` steps in total or
    ``opts.minutes`` of wall time. ``source``: transfer from this model (ignored when continuing)."""
    if opts.minutes is None and opts.steps is None:
        raise BadInput("give --minutes or --steps (otherwise training never stops)")
    out_dir = Path(out_dir)
    ckpt_path = out_dir / CHECKPOINT
    device = torch.device(device)
    data = dataset_meta(ds, name)
    state = None
    if cont:
        state = _load_checkpoint(ckpt_path, data)
        cfg = StyleGANConfig.from_dict(state["config"])
        saved = state["options"]
        opts = DataOptions(**{**opts.__dict__, **{k: saved[k] for k in ("seed", "ada", "ada_target", "ada_kimg",
                                                                         "freeze_d", "mirror")}})
        transfer = state.get("transfer")
    else:
        if ckpt_path.exists():
            raise BadInput(f"a run exists in {out_dir}: continue it with --continue, or name another run "
                           "(--name or --out)")
        cfg = source.cfg if source is not None else data_config(ds.resolution)
        if cfg.resolution != ds.resolution:
            raise BadInput(f"the model makes {cfg.resolution} px images, the dataset {name!r} is {ds.resolution} px")
        transfer = None if source is None else {"name": source.name, "sha256": source.sha256,
                                                "path": str(source.path)}
    torch.manual_seed(opts.seed)
    if source is not None and state is None:
        G, D = copy.deepcopy(source.G).to(device), copy.deepcopy(source.D).to(device)
    else:
        G, D = Generator(cfg).to(device), Discriminator(cfg).to(device)
    frozen = freeze_d(D, opts.freeze_d)
    d_params = [p for p in D.parameters() if p.requires_grad]
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    r1_ratio = cfg.r1_every / (cfg.r1_every + 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.0, 0.99), eps=1e-8)
    opt_d = torch.optim.Adam(d_params, lr=cfg.lr * r1_ratio, betas=(0.0, 0.99 ** r1_ratio), eps=1e-8)
    amp = device.type == "cuda" and opts.amp
    scaler_g = torch.amp.GradScaler(device.type, enabled=amp)
    scaler_d = torch.amp.GradScaler(device.type, enabled=amp)
    ada = AdaController(target=opts.ada_target, ada_kimg=opts.ada_kimg, enabled=opts.ada)
    augment = AugmentPipe(0.0).to(device)
    gen = torch.Generator().manual_seed(opts.seed + 1)
    step, seen = 0, 0
    kid_history: list[dict[str, float]] = []
    if state is not None:
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        G_ema.load_state_dict(state["G_ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        if amp and "scaler_g" in state:
            scaler_g.load_state_dict(state["scaler_g"])
            scaler_d.load_state_dict(state["scaler_d"])
        ada.load_state_dict(state["ada"])
        gen.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        step, seen = int(state["step"]), int(state["images_seen"])
        kid_history = list(state.get("kid_history", []))
        log.info("continuing %s at step %d (%d images)", ckpt_path, step, seen)
    augment.p = ada.p
    meta = {"dataset": data, "transfer": transfer, "frozen_d_blocks": frozen,
            "options": {k: getattr(opts, k) for k in ("seed", "ada", "ada_target", "ada_kimg", "freeze_d", "mirror")}}

    def checkpoint() -> None:
        obj = {"format": FORMAT, "config": cfg.to_dict(), "step": step, "images_seen": seen, "G": G.state_dict(),
               "D": D.state_dict(), "G_ema": G_ema.state_dict(), "opt_g": opt_g.state_dict(),
               "opt_d": opt_d.state_dict(), "ada": ada.state_dict(), "rng": gen.get_state(),
               "torch_rng": torch.get_rng_state(), "kid_history": kid_history, **meta}
        if amp:
            obj.update(scaler_g=scaler_g.state_dict(), scaler_d=scaler_d.state_dict())
        if device.type == "cuda":
            obj["cuda_rng"] = torch.cuda.get_rng_state(device)
        _atomic_save(obj, ckpt_path)

    fixed_z = torch.randn([16, cfg.z_dim], generator=torch.Generator().manual_seed(opts.seed + 2))
    forks = [device] if device.type == "cuda" else []

    def sample_grid() -> Path:
        with torch.random.fork_rng(devices=forks), torch.no_grad():
            imgs = to_uint8(G_ema(fixed_z.to(device), noise_mode="const"))
        path = out_dir / "samples" / f"step-{step:06d}.png"
        save_png(path, grid_image(imgs, 4))
        return path

    real_feats: list[np.ndarray] = []

    def measure_kid() -> float:
        from generator.stylegan.kid import KidFeatures, kid

        nonlocal kid_features
        with torch.random.fork_rng(devices=forks), torch.no_grad():
            if kid_features is None:
                kid_features = KidFeatures(device)
            if not real_feats:
                pick = np.sort(np.random.default_rng(opts.seed).choice(len(ds), min(len(ds), opts.kid_images),
                                                                        replace=False))
                real_feats.append(np.concatenate([kid_features.of_uint8(ds.batch(pick[i:i + 256]))
                                                  for i in range(0, len(pick), 256)]))
            g = torch.Generator().manual_seed(opts.seed + 3)
            fake = []
            for i in range(0, opts.kid_images, 64):
                z = torch.randn([min(64, opts.kid_images - i), cfg.z_dim], generator=g).to(device)
                fake.append(kid_features.of_tensor(G_ema(z, noise_mode="const")))
            value = kid(np.concatenate(fake), real_feats[0], subsets=20, subset_size=1000, seed=opts.seed)
        kid_history.append({"kimg": seen / 1000, "kid": value})
        return value

    def set_d_trainable(on: bool) -> None:
        for p in d_params:
            p.requires_grad_(on)

    def autocast() -> Any:
        return torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp)

    guard = _Guard(ds)
    ema_beta = 0.5 ** (cfg.batch / max(cfg.ema_kimg * 1000, 1e-8))
    t0 = time.monotonic()
    last_ckpt = last_grid_t = last_kid_t = t0
    last_grid, last_kid = None, (kid_history[-1]["kid"] if kid_history else None)
    losses = {"g": float("nan"), "d": float("nan"), "r1": float("nan")}
    deadline = t0 + opts.minutes * 60 if opts.minutes is not None else None
    n = len(ds)
    while True:
        if opts.steps is not None and step >= opts.steps:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        idx = torch.randint(0, n, [cfg.batch], generator=gen)
        guard.check(step, ckpt_path)
        real = torch.from_numpy(ds.batch(idx.numpy())).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
        flip = torch.rand([cfg.batch], generator=gen) < 0.5
        if opts.mirror:
            real = torch.where(flip[:, None, None, None].to(device), real.flip(3), real)
        z = torch.randn([cfg.batch, cfg.z_dim], generator=gen).to(device)

        # Discriminator: logistic loss on augmented reals and fakes (+ lazy R1 on the augmented reals).
        set_d_trainable(True)
        G.requires_grad_(False)
        with torch.no_grad(), autocast():
            fake = G.synthesis(_mixed_ws(G, z, cfg.style_mixing, gen), noise_mode="random")
        real_aug, fake_aug = augment(real), augment(fake.float())
        with autocast():
            real_logits = D(real_aug)
            loss_d = F.softplus(D(fake_aug)).mean() + F.softplus(-real_logits).mean()
        ada.observe(real_logits)
        opt_d.zero_grad(set_to_none=True)
        scaler_d.scale(loss_d).backward()
        if cfg.r1_every > 0 and step % cfg.r1_every == 0:
            real_r = real_aug.detach().float().requires_grad_(True)
            (grad,) = torch.autograd.grad(D(real_r).sum(), real_r, create_graph=True)
            penalty = grad.square().sum(dim=[1, 2, 3]).mean()
            scaler_d.scale(penalty * (cfg.r1_gamma / 2) * cfg.r1_every).backward()
            losses["r1"] = float(penalty.detach())
        scaler_d.step(opt_d)
        scaler_d.update()

        # Generator: non-saturating loss through the same augmentations.
        set_d_trainable(False)
        G.requires_grad_(True)
        z = torch.randn([cfg.batch, cfg.z_dim], generator=gen).to(device)
        with autocast():
            img = G.synthesis(_mixed_ws(G, z, cfg.style_mixing, gen), noise_mode="random")
        img_aug = augment(img.float())
        with autocast():
            loss_g = F.softplus(-D(img_aug)).mean()
        opt_g.zero_grad(set_to_none=True)
        scaler_g.scale(loss_g).backward()
        scaler_g.step(opt_g)
        scaler_g.update()

        update_ema(G_ema, G, ema_beta)
        step += 1
        seen += cfg.batch
        augment.p = ada.step(cfg.batch)
        losses["g"], losses["d"] = float(loss_g.detach()), float(loss_d.detach())
        if not all(math.isfinite(v) for v in (losses["g"], losses["d"])):
            raise FloatingPointError(f"training diverged at step {step}: {losses}")
        now = time.monotonic()
        if opts.kid_every_s > 0 and now - last_kid_t >= opts.kid_every_s:
            last_kid = measure_kid()
            last_kid_t = time.monotonic()
        if progress is not None:
            progress(1, kimg=f"{seen / 1000:.2f}", p=f"{ada.p:.3f}", rt=f"{ada.rt:.2f}",
                     kid="-" if last_kid is None else f"{last_kid * 1000:.2f}e-3",
                     g=f"{losses['g']:.3f}", d=f"{losses['d']:.3f}")
        if now - last_ckpt >= opts.checkpoint_every_s:
            checkpoint()
            last_ckpt = now
        if now - last_grid_t >= opts.grid_every_s:
            last_grid = sample_grid()
            last_grid_t = now
    if opts.kid_every_s > 0 and (not kid_history or kid_history[-1]["kimg"] != seen / 1000):
        last_kid = measure_kid()
    checkpoint()
    last_grid = sample_grid()
    return DataResult(step, seen, time.monotonic() - t0, ckpt_path, last_grid, losses, ada.p, ada.rt, last_kid,
                      kid_history, cfg.to_dict(), meta)


def _load_checkpoint(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    if not path.exists():
        raise BadInput(f"--continue: no checkpoint at {path}")
    state = safe_load.read(path).obj
    if state.get("format") != FORMAT:
        raise BadInput(f"{path} is not a checkpoint of a run on an image dataset (`--data`)")
    was = state["dataset"]
    if (was["sha256"], was["count"]) != (data["sha256"], data["count"]):
        raise BadInput(f"--continue: the run trained on dataset {was['name']!r} ({was['count']} images, sha256 "
                       f"{str(was['sha256'])[:12]}); {data['name']!r} now has {data['count']} images, sha256 "
                       f"{str(data['sha256'])[:12]}: a continued run must see the same data")
    return state
