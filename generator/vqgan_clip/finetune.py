"""Fine-tune a VQGAN on a registered image dataset (`gallery train vqgan --data NAME [--resume MODEL]`).

The start is the shipped tiny VQGAN, or any VQGAN the catalogue knows (imported taming checkpoint, an
earlier fine-tune) or a weights file. The losses are the shape trainer's (generator/vqgan_clip/train_vqgan.py):
L1 reconstruction + the random-feature perceptual term (weight ``perceptual_weight``, 0 turns it off) +
codebook/commitment, and the hinge adversarial term of a small PatchGAN when ``adversarial_weight`` > 0.
Unused codes are restarted from encoder outputs every ``restart_every`` steps.

Images stream from the dataset's memory map one batch at a time (never the whole set in memory). A fixed
share of the dataset (10%, at most 64 images) is held out for the before/after reconstruction figures.
Where the model was trained at a smaller resolution than the dataset's (``ddconfig.resolution``), training
runs on random crops of that side; images are flipped left-right at random (``flip``).

Every random draw of step ``k`` (which images, crops, flips, restarted codes) comes from ``(seed, k)``, so
the run folder's ``state.pt`` (model, optimisers, code usage, losses; written atomically every
``checkpoint_every`` steps) is all a killed run needs to go on bit for bit. The finished model is written to
``models/vqgan/`` and registered (family ``vqgan``) with its provenance: dataset, steps, start model.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gallery import safe_load
from gallery.errors import BadInput
from generator.vqgan_clip.finetune_eval import (
    DatasetWatch,
    batch_indices,
    evaluate,
    perplexity,
    split,
    write_grid,
)
from generator.vqgan_clip.train_vqgan import (
    PatchDiscriminator,
    RandomFeatures,
    perceptual_loss,
    to_model_range,
)

log = logging.getLogger(__name__)

TRAIN_DIR = "vqgan/train"  # run folders, under the data directory
MODELS_DIR = "models/vqgan"  # exported models, under the data directory
STATE = "state.pt"


@dataclass(frozen=True)
class FinetuneConfig:
    """What a run is; every field but ``steps``, ``minutes``, ``export`` and ``checkpoint_every`` must be the
    same to go on with a run."""

    data: str
    name: str
    start: str | None = None  # None: the shipped tiny VQGAN
    steps: int = 1000
    minutes: float | None = None  # stop (and export) after this long, even before ``steps``
    batch: int = 8
    lr: float = 2e-4
    perceptual_weight: float = 0.2
    adversarial_weight: float = 0.0
    crop: int | None = None  # None: the model's training side, at most the dataset's
    flip: bool = True
    seed: int = 0
    restart_every: int = 200
    checkpoint_every: int = 100
    export: Path | None = None


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def crop_flip(x: torch.Tensor, crop: int, flip: bool, g: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    if crop < h:
        ys = torch.randint(0, h - crop + 1, (n,), generator=g)
        xs = torch.randint(0, w - crop + 1, (n,), generator=g)
        x = torch.stack([x[i, :, ys[i]:ys[i] + crop, xs[i]:xs[i] + crop] for i in range(n)])
    if flip:
        f = torch.rand(n, generator=g) < 0.5
        x = torch.where(f[:, None, None, None], x.flip(3), x)
    return x


def open_dataset(settings: Any, cat: Any, name: str) -> tuple[Any, Any]:
    """(catalogue row, ImageDataset) of a registered image dataset; BadInput when unknown, gone or empty."""
    from catalogue.datasets import get_dataset, list_datasets
    from generator.datasets.image_store import ImageDataset
    from generator.datasets.images import dataset_folder

    row = get_dataset(cat, name)
    if row is None:
        known = ", ".join(d.name for d in list_datasets(cat, "images")) or "none yet: `gallery dataset images`"
        raise BadInput(f"unknown dataset {name!r}; registered image datasets: {known}")
    if row.kind != "images":
        raise BadInput(f"dataset {name!r} holds {row.kind}, not images")
    empty = BadInput(f"dataset {name!r} is empty: there is nothing to train on")
    if not row.count:
        raise empty
    try:
        ds = ImageDataset(dataset_folder(settings, row))
    except ValueError:  # numpy cannot map an empty file
        raise empty from None
    if len(ds) == 0:
        raise empty
    if ds.index.get("data_sha256") != row.data_sha256:
        raise BadInput(f"dataset {name!r}: its files are not the ones registered (sha256 differs); rebuild it")
    return row, ds


def load_start(cfg: FinetuneConfig, settings: Any, cat: Any) -> tuple[Any, Any, dict[str, Any], Any]:
    from generator.vqgan_clip.checkpoints import load, resolve_model

    ref = resolve_model(cfg.start, settings, cat)
    model, sha, arch = load(ref.path, "cpu", arch_name=ref.arch_name)
    dd = arch["ddconfig"]
    if dd["in_channels"] != 3 or dd["out_ch"] != 3:
        raise BadInput(f"VQGAN {ref.name!r} reads {dd['in_channels']}-channel and writes {dd['out_ch']}-channel "
                       "images; image datasets are RGB (3 channels)")
    return ref, sha, arch, model.float().train().requires_grad_(True)


def check_run(saved: dict[str, Any], key: dict[str, Any], run: Path, start_name: str) -> None:
    """Refuse to go on with a run made from another model, dataset or settings, naming what differs."""
    from generator.vqgan_clip.checkpoints import arch_differences

    if saved["arch"] != key["arch"]:
        raise BadInput(f"run {run} was started from a VQGAN of another layout than {start_name!r}: "
                       + arch_differences(saved["arch"], key["arch"], ("the run", repr(start_name)))
                       + "; pick another --name or remove the run folder")
    diff = [f"{k}: {saved.get(k)!r} in the run, {v!r} now" for k, v in key.items() if saved.get(k) != v]
    if diff:
        raise BadInput(f"run {run} cannot go on: " + "; ".join(diff)
                       + " (pick another --name, or remove the run folder to start over)")


def save_state(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def finetune(settings: Any, cat: Any, cfg: FinetuneConfig, *, progress: Any = None,
             device: Any = None) -> dict[str, Any]:
    """Run (or go on with) a fine-tune; returns its figures, and those of the export when it finished."""
    from gallery.device import select_device

    n = cfg.name
    if not (0 < len(n) <= 100 and n[0].isalnum() and all(c.isalnum() or c in "._-" for c in n)):
        raise BadInput(f"model name {n!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if cfg.steps < 1 or cfg.batch < 1 or cfg.checkpoint_every < 1:
        raise BadInput("steps, batch and checkpoint_every must be at least 1")
    row, ds = open_dataset(settings, cat, cfg.data)
    ref, start_sha, arch, model = load_start(cfg, settings, cat)
    f = model.downsample_factor
    if ds.resolution % f:
        raise BadInput(f"dataset {cfg.data!r} is {ds.resolution} px, not a multiple of the VQGAN's factor {f}")
    crop = cfg.crop or min(int(arch["ddconfig"].get("resolution", ds.resolution)), ds.resolution)
    if crop % f or not f <= crop <= ds.resolution:
        raise BadInput(f"crop {crop}: it must be a multiple of {f} (the VQGAN's downsampling) and at most "
                       f"the dataset's {ds.resolution} px")
    device = torch.device(device) if device is not None else select_device(settings.device)
    hold, train_idx = split(len(ds), cfg.seed)
    eval_idx = hold if len(hold) else train_idx[:64]
    key = {"dataset": cfg.data, "data_sha256": row.data_sha256, "start_sha256": start_sha, "arch": arch,
           "batch": cfg.batch, "lr": cfg.lr, "perceptual_weight": cfg.perceptual_weight,
           "adversarial_weight": cfg.adversarial_weight, "crop": crop, "flip": cfg.flip, "seed": cfg.seed,
           "restart_every": cfg.restart_every}
    run = settings.path(TRAIN_DIR) / cfg.name
    state_file = run / STATE
    model.to(device)
    feats = RandomFeatures().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
    disc = None
    if cfg.adversarial_weight > 0:
        with torch.random.fork_rng(devices=[]):  # the discriminator's start is the seed's, not the process's
            torch.manual_seed(cfg.seed)
            disc = PatchDiscriminator().to(device)
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.9)) if disc is not None else None
    usage = torch.zeros(model.n_embed, dtype=torch.float64)
    history: list[list[float]] = []
    if state_file.is_file():
        st = safe_load.read(state_file).obj
        check_run(st["key"], key, run, ref.name)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        if disc is not None:
            disc.load_state_dict(st["disc"])
            opt_d.load_state_dict(st["opt_d"])
        usage, history, step, before = st["usage"], st["history"], int(st["step"]), st["before"]
        log.info("going on with run %s from step %d", run, step)
    else:
        step = 0
        before = evaluate(model.eval(), ds, eval_idx, device)
        model.train()
        run.mkdir(parents=True, exist_ok=True)
        write_grid(run / "samples" / "step-000000.png", model, ds, eval_idx[:8], device)
    watch = DatasetWatch(ds, cfg.data)

    def checkpoint() -> None:
        save_state(state_file, {"key": key, "model": model.state_dict(), "opt": opt.state_dict(),
                                "disc": disc.state_dict() if disc is not None else None,
                                "opt_d": opt_d.state_dict() if opt_d is not None else None, "usage": usage,
                                "history": history, "step": step, "before": before, "start_name": ref.name})
        write_grid(run / "samples" / f"step-{step:06d}.png", model, ds, eval_idx[:8], device)

    t0 = time.monotonic()
    done_at_start = step
    stopped_by_time = False
    ck_seconds = 0.0  # spent writing checkpoints and sample grids (left out of the steps/s)
    while step < cfg.steps:
        watch.check(step)
        g = step_generator(cfg.seed, step)
        idx = batch_indices(train_idx, cfg.batch, step, cfg.seed)
        x = crop_flip(to_model_range(ds.batch(idx)), crop, cfg.flip, g).to(device)
        z = model.encode(x)
        zq, qloss, codes = model.quantize(z)
        rec = model.decode(zq)
        l_rec = F.l1_loss(rec, x)
        loss = l_rec + qloss
        l_per = perceptual_loss(feats, rec, x) if cfg.perceptual_weight > 0 else torch.zeros(())
        loss = loss + cfg.perceptual_weight * l_per
        l_adv = torch.zeros(())
        if disc is not None:
            l_adv = -disc(rec).mean()
            loss = loss + cfg.adversarial_weight * l_adv
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if disc is not None:
            d_loss = F.relu(1 - disc(x)).mean() + F.relu(1 + disc(rec.detach())).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        usage += torch.bincount(codes.flatten().cpu(), minlength=model.n_embed).double()
        step += 1
        if cfg.restart_every and step % cfg.restart_every == 0:
            ppl = perplexity(usage)
            dead = usage == 0
            if dead.any() and step < cfg.steps:
                with torch.no_grad():
                    flat = z.detach().permute(0, 2, 3, 1).reshape(-1, model.embed_dim)
                    pick = torch.randint(0, flat.shape[0], (int(dead.sum()),), generator=g)
                    model.quantize.embedding.weight[dead.to(device)] = flat[pick.to(device)]
            history_note = {"codes_used": float((usage > 0).float().mean()), "perplexity": ppl}
            log.info("vqgan %s step %d: %s", cfg.name, step, history_note)
            usage.zero_()
        history.append([l_rec.item(), l_per.item(), qloss.item(), l_adv.item()])
        if progress is not None:
            progress("fine-tuning VQGAN", step, cfg.steps, rec=f"{history[-1][0]:.4f}",
                     codes=f"{(usage > 0).float().mean().item():.2f}")
        out_of_time = cfg.minutes is not None and time.monotonic() - t0 > cfg.minutes * 60
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or out_of_time:
            tc = time.monotonic()
            checkpoint()
            ck_seconds += time.monotonic() - tc
        if out_of_time and step < cfg.steps:
            stopped_by_time = True
            break
    seconds = time.monotonic() - t0 - ck_seconds
    watch.check(step)
    model.eval()
    after = evaluate(model, ds, eval_idx, device)
    first = np.mean(history[:10], axis=0).tolist() if history else None
    last = np.mean(history[-10:], axis=0).tolist() if history else None
    meta = {"dataset": {"name": cfg.data, "sha256": row.data_sha256, "count": len(ds), "resolution": ds.resolution},
            "start_model": {"name": ref.name, "sha256": start_sha, "id": ref.model_id},
            "steps": step, "steps_asked": cfg.steps, "stopped_by_time": stopped_by_time,
            "config": {k: v for k, v in asdict(cfg).items() if k not in ("export", "data", "name", "start")}
            | {"crop": crop},
            "eval_on": "held_out" if len(hold) else "training_images", "eval_n": len(eval_idx),
            "before": before, "after": after,
            "losses": {"names": ["rec", "perceptual", "codebook", "adversarial"], "first10": first, "last10": last}}
    out = export(settings, cat, cfg, model, arch, meta)
    steps_run = step - done_at_start
    out.update({"run": str(run), "seconds": round(seconds, 2),
                "steps_per_second": round(steps_run / seconds, 3) if seconds > 0 and steps_run else None})
    log.info("VQGAN %s: held-out PSNR %.2f -> %.2f dB after %d steps; registered as model %s", cfg.name,
             before["psnr_db"], after["psnr_db"], step, out["model"])
    return out


def export(settings: Any, cat: Any, cfg: FinetuneConfig, model: Any, arch: dict[str, Any],
           meta: dict[str, Any]) -> dict[str, Any]:
    """Write the weights (our .pt format, float16) under models/vqgan/, copy them to ``cfg.export``, register."""
    import shutil

    from gallery.hashing import sha256_file
    from generator.vqgan_clip.checkpoints import save_shipped
    from generator.vqgan_clip.presets import VQGAN_ARCHS

    models = settings.path(MODELS_DIR)
    tmp = models / f".{cfg.name}.{os.getpid()}.pt"
    save_shipped(tmp, model, arch, {"fine_tune": meta})
    sha = sha256_file(tmp)
    dest = models / f"{cfg.name}-{sha[:12]}.pt"
    os.replace(tmp, dest)
    if cfg.export is not None:
        e = Path(cfg.export)
        e.parent.mkdir(parents=True, exist_ok=True)
        etmp = e.with_name(f".{e.name}.{os.getpid()}.tmp")
        shutil.copyfile(dest, etmp)
        os.replace(etmp, e)
    preset = next((k for k, a in VQGAN_ARCHS.items() if a == arch), None)
    mid = cat.register_model("vqgan", cfg.name, sha, preset=preset,
                             config={"n_embed": arch["n_embed"], "embed_dim": arch["embed_dim"],
                                     "ddconfig": arch["ddconfig"]},
                             path=str(dest), provenance={"fine_tuned": meta})
    return {"model": mid, "name": cfg.name, "path": str(dest), "sha256": sha, "bytes": dest.stat().st_size,
            "export": str(cfg.export) if cfg.export else None, **meta}
