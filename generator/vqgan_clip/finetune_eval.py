"""Helpers of the dataset fine-tune (generator/vqgan_clip/finetune.py): the held-out split, the batches of a
step, reconstruction figures, sample grids, and the watch on the dataset's files."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gallery.errors import BadInput
from generator.vqgan_clip.train_vqgan import to_model_range

HOLDOUT_SHARE = 10  # one image in ten is held out ...
HOLDOUT_MAX = 64  # ... at most this many


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(held-out, training) image indices, both sorted: a seeded tenth (at most HOLDOUT_MAX) held out;
    none below ten images (the figures are then measured on training images)."""
    perm = np.random.default_rng([seed, 7]).permutation(n)
    k = min(HOLDOUT_MAX, n // HOLDOUT_SHARE)
    return np.sort(perm[:k]), np.sort(perm[k:])


@lru_cache(maxsize=4)
def _perm(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_indices(train_idx: np.ndarray, batch: int, step: int, seed: int) -> np.ndarray:
    """The dataset indices of step ``step``: epochs of seeded permutations of the training images, read
    ``batch`` at a time; a function of (seed, step) alone, so a resumed run draws what the killed one would."""
    n = len(train_idx)
    pos = step * batch + np.arange(batch)
    out = np.empty(batch, np.int64)
    for e in np.unique(pos // n):
        sel = pos // n == e
        out[sel] = train_idx[_perm(n, seed, int(e))[pos[sel] % n]]
    return out


def perplexity(usage: torch.Tensor) -> float:
    """exp(entropy) of the code counts: the number of equally used codes that would give that entropy."""
    total = float(usage.sum())
    if total <= 0:
        return 0.0
    p = usage.double() / total
    p = p[p > 0]
    return round(math.exp(float(-(p * p.log()).sum())), 2)


@torch.no_grad()
def reconstruct(model: Any, imgs: np.ndarray, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstructions in [0, 1] on the CPU, code indices) of uint8 (B, H, W, 3) images."""
    x = to_model_range(imgs).to(device)
    idx = model.quantize.codes(model.encode(x))
    rec = model.decode(model.quantize.lookup(idx)).clamp(-1, 1)
    return ((rec + 1) / 2).float().cpu(), idx.cpu()


@torch.no_grad()
def evaluate(model: Any, ds: Any, indices: np.ndarray, device: Any, batch: int = 8) -> dict[str, Any]:
    """Reconstruction MSE (images in [0, 1]) and PSNR of whole images, the share of codes used and the codes'
    perplexity, over ``indices`` of the dataset (read ``batch`` at a time)."""
    se, px = 0.0, 0
    usage = torch.zeros(model.n_embed, dtype=torch.float64)
    for s in range(0, len(indices), batch):
        imgs = ds.batch(indices[s:s + batch])
        rec, idx = reconstruct(model, imgs, device)
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).double() / 255.0
        se += float(F.mse_loss(rec.double(), x, reduction="sum"))
        px += x.numel()
        usage += torch.bincount(idx.flatten(), minlength=model.n_embed).double()
    mse = se / max(px, 1)
    return {"mse": round(mse, 6), "psnr_db": round(10 * math.log10(1.0 / max(mse, 1e-12)), 3),
            "codes_used": round(float((usage > 0).double().mean()), 4), "perplexity": perplexity(usage),
            "n": len(indices)}


def write_grid(path: Path, model: Any, ds: Any, indices: np.ndarray, device: Any) -> None:
    """A PNG: the images on the top row, the model's reconstructions below (written atomically)."""
    from PIL import Image

    if len(indices) == 0:
        return
    was_training = model.training
    model.eval()
    imgs = ds.batch(indices)
    rec, _ = reconstruct(model, imgs, device)
    if was_training:
        model.train()
    rec8 = (rec.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    grid = np.concatenate([np.concatenate(list(imgs), 1), np.concatenate(list(rec8), 1)], 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    Image.fromarray(grid).save(tmp, format="PNG")
    os.replace(tmp, path)


class DatasetWatch:
    """Notices a dataset's files being deleted or replaced while a training reads them (a memory map keeps
    a deleted file readable, so without this a run would go on training on a dataset that is gone)."""

    def __init__(self, ds: Any, name: str) -> None:
        from generator.datasets.image_store import DATA_FILE, INDEX_FILE

        self.name, self.files = name, [ds.folder / DATA_FILE, ds.folder / INDEX_FILE]
        self.ids = [self._id(p) for p in self.files]

    @staticmethod
    def _id(p: Path) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(p)
        except OSError:
            return None
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns

    def check(self, step: int) -> None:
        if any(self._id(p) != i for p, i in zip(self.files, self.ids, strict=True)):
            raise BadInput(f"dataset {self.name!r} was deleted or replaced during training (at step {step}); "
                           "the run's last checkpoint is kept and nothing was exported; rebuild the dataset and "
                           "run the command again (under another --name if its pictures changed)")
