"""Train the tiny VQGAN on the captioned shapes (`gallery train vqgan --preset tiny-shapes`).

Losses: L1 reconstruction + a perceptual term + the codebook/commitment loss, and optionally a
hinge adversarial term from a small PatchGAN discriminator. The perceptual term compares the
activations of a fixed, seeded random convolutional network (multi-scale, normalised per channel):
no pretrained VGG (LPIPS) can be fetched offline, and random deep features are still far more
sensitive to edges and textures than pixel L1. Training runs on random crops (the model is fully
convolutional), which keeps it within minutes on a CPU. Unused codes are restarted from encoder
outputs every ``restart_every`` steps.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gallery.errors import BadInput
from generator.datasets import shapes
from generator.vqgan_clip.model import VQModel, build
from generator.vqgan_clip.presets import VQGAN_ARCHS, VQGAN_PRESETS, preset_file

log = logging.getLogger(__name__)


class RandomFeatures(nn.Module):
    """A fixed random conv net; the perceptual loss compares its normalised activations."""

    def __init__(self, seed: int = 1234, widths: tuple[int, ...] = (24, 48, 64)) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        layers, c = [], 3
        for w in widths:
            conv = nn.Conv2d(c, w, 3, 1, 1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * math.sqrt(2.0 / (c * 9)))
                conv.bias.zero_()
            layers.append(conv)
            c = w
        self.layers = nn.ModuleList(layers)
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        h = x
        for i, conv in enumerate(self.layers):
            h = F.relu(conv(h))
            feats.append(h / (h.pow(2).mean(dim=(2, 3), keepdim=True).sqrt() + 1e-6))
            if i < len(self.layers) - 1:
                h = F.avg_pool2d(h, 2)
        return feats


def perceptual_loss(net: RandomFeatures, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return sum(F.l1_loss(fa, fb) for fa, fb in zip(net(a), net(b), strict=True)) / len(net.layers)


class PatchDiscriminator(nn.Module):
    def __init__(self, ch: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, ch, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ch, ch * 2, 4, 2, 1), nn.GroupNorm(8, ch * 2), nn.LeakyReLU(0.2),
            nn.Conv2d(ch * 2, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def to_model_range(imgs: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def random_crops(x: torch.Tensor, size: int, g: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    if size >= h:
        return x
    ys = torch.randint(0, h - size + 1, (n,), generator=g)
    xs = torch.randint(0, w - size + 1, (n,), generator=g)
    return torch.stack([x[i, :, ys[i]:ys[i] + size, xs[i]:xs[i] + size] for i in range(n)])


@torch.no_grad()
def evaluate(model: VQModel, n: int = 32, size: int = 64, seed0: int = 900_000_000) -> dict[str, float]:
    """Held-out reconstruction PSNR (dB, full images) and the share of codes used."""
    imgs, _ = shapes.batch(range(seed0, seed0 + n), size)
    x = to_model_range(imgs)
    z = model.encode(x)
    idx = model.quantize.codes(z)
    rec = model.decode(model.quantize.lookup(idx)).clamp(-1, 1)
    mse = F.mse_loss((rec + 1) / 2, (x + 1) / 2).item()
    return {"psnr_db": round(10 * math.log10(1.0 / max(mse, 1e-10)), 2),
            "codes_used": round(idx.unique().numel() / model.n_embed, 3), "n": n, **object_colours(model, size)}


@torch.no_grad()
def object_colours(model: VQModel, size: int = 64) -> dict[str, float]:
    """Does a reconstructed object keep its colour? One large solid object of every chromatic colour and
    shape on white, grey and black backgrounds: the share whose reconstructed object pixels (the drawn
    shape's mask) are mostly named by the drawn colour word (``shapes.hue_name``)."""
    ok = n = 0
    for bg in ("white", "grey", "black"):
        imgs, masks, words = [], [], []
        for c in shapes.CHROMATIC:
            for s in shapes.SHAPES:
                im = shapes.render(shapes.Scene((shapes.Group(s, c, "large", 1),), bg), size)
                imgs.append(im)
                masks.append(np.abs(im.astype(np.int16) - np.array(shapes.COLOURS[c])).sum(-1) < 30)
                words.append(c)
        x = to_model_range(np.stack(imgs))
        rec = model.decode(model.quantize.lookup(model.quantize.codes(model.encode(x))))
        rec = ((rec.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 1).numpy()
        for y, m, w in zip(rec, masks, words, strict=True):
            names = [shapes.hue_name(p) for p in y[m]]
            ok += names.count(w) > len(names) / 2
            n += 1
    return {"object_colour_ok": round(ok / n, 3), "object_colour_n": n}


def object_weights(x: torch.Tensor, weight: float) -> torch.Tensor:
    """Per-pixel loss weights (N, 1, H, W): 1 + ``weight`` where a pixel differs from its image's median
    colour (in these scenes the background), so that small objects count for more than their area."""
    med = x.flatten(2).median(dim=2).values[:, :, None, None]
    return 1.0 + weight * ((x - med).abs().sum(1, keepdim=True) > 0.3).float()


def train(preset: str = "tiny-shapes", out: Path | None = None, *, steps: int | None = None,
          adversarial_weight: float | None = None, log_every: int = 50, threads: int | None = 1,
          crop: int | None = None, restart_every: int = 100, resume: Path | None = None,
          lr: float | None = None, perceptual_weight: float | None = None,
          progress: Any = None) -> dict[str, Any]:
    """Train a preset (or go on training the weights in ``resume``, or the preset's ``resume``) and save it;
    returns what was measured. ``crop``: side of the random training crops (default: the preset's, else 32).
    A preset's ``object_weight`` weighs the reconstruction loss on object pixels up (:func:`object_weights`).
    ``progress(stage, step, steps, **figures)`` after every step (gallery.progress's callback)."""
    from gallery.hashing import sha256_file
    from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, save_shipped

    if preset not in VQGAN_PRESETS:
        raise BadInput(f"unknown VQGAN preset {preset!r}; known: {', '.join(VQGAN_PRESETS)}")
    overrides = {"steps": steps, "adversarial_weight": adversarial_weight, "lr": lr,
                 "perceptual_weight": perceptual_weight}
    p = VQGAN_PRESETS[preset].to_dict() | {k: v for k, v in overrides.items() if v is not None}
    if threads:
        torch.set_num_threads(threads)
    out = Path(out) if out else SHIPPED_VQGAN
    torch.manual_seed(p["seed"])
    arch = VQGAN_ARCHS[p["arch"]]
    model = build(arch)
    resume = resume or p.get("resume")
    if resume is not None:
        from generator.vqgan_clip.checkpoints import read_state_dict

        resume = preset_file(resume)
        sd, arch_file, meta0 = read_state_dict(resume)  # read before training: `out` may be the same file
        if arch_file is not None and arch_file != arch:
            raise BadInput(f"{resume}: its architecture is not the {p['arch']!r} of preset {preset!r}")
        model.load_state_dict(sd, strict=True)
        p["resumed_from"] = {"sha256": sha256_file(resume), "steps_before": meta0.get("params", {}).get("steps"),
                             "resumed_from": meta0.get("params", {}).get("resumed_from")}
    feats = RandomFeatures()
    t0 = time.monotonic()
    imgs, _ = shapes.batch(range(p["seed"] * 1_000_000 + 500_000, p["seed"] * 1_000_000 + 500_000 + p["pool"]),
                           p["image_size"])
    data = to_model_range(imgs)
    log.info("made %d training images in %.1fs", len(data), time.monotonic() - t0)
    g = torch.Generator().manual_seed(p["seed"])
    opt = torch.optim.Adam(model.parameters(), lr=p["lr"], betas=(0.5, 0.9))
    disc = PatchDiscriminator() if p["adversarial_weight"] > 0 else None
    opt_d = torch.optim.Adam(disc.parameters(), lr=p["lr"], betas=(0.5, 0.9)) if disc is not None else None
    crop = min(crop or p.get("crop", 32), p["image_size"])
    obj_w = float(p.get("object_weight", 0.0))
    usage = torch.zeros(model.n_embed)
    history: list[dict[str, float]] = []
    t0 = time.monotonic()
    model.train()
    for step in range(p["steps"]):
        x = random_crops(data[torch.randint(0, len(data), (p["batch"],), generator=g)], crop, g)
        z = model.encode(x)
        if step == 0 and resume is None:  # start the codebook on real encoder outputs
            with torch.no_grad():
                flat = z.permute(0, 2, 3, 1).reshape(-1, model.embed_dim)
                pick = torch.randint(0, flat.shape[0], (model.n_embed,), generator=g)
                model.quantize.embedding.weight.copy_(flat[pick] + 0.01 * torch.randn(flat[pick].shape, generator=g))
        zq, qloss, idx = model.quantize(z)
        rec = model.decode(zq)
        if obj_w:
            w = object_weights(x, obj_w)
            l_rec = ((rec - x).abs() * w).mean() / w.mean()
        else:
            l_rec = F.l1_loss(rec, x)
        l_per = perceptual_loss(feats, rec, x)
        loss = l_rec + p["perceptual_weight"] * l_per + qloss
        l_adv = torch.zeros(())
        use_adv = disc is not None and step >= p["adversarial_start"]
        if use_adv:
            l_adv = -disc(rec).mean()
            loss = loss + p["adversarial_weight"] * l_adv
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if use_adv:
            d_loss = F.relu(1 - disc(x)).mean() + F.relu(1 + disc(rec.detach())).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        usage += torch.bincount(idx.flatten(), minlength=model.n_embed).float()
        if restart_every and (step + 1) % restart_every == 0 and step + 1 < p["steps"]:
            dead = usage == 0
            if dead.any():
                with torch.no_grad():
                    flat = z.detach().permute(0, 2, 3, 1).reshape(-1, model.embed_dim)
                    pick = torch.randint(0, flat.shape[0], (int(dead.sum()),), generator=g)
                    model.quantize.embedding.weight[dead] = flat[pick]
            usage.zero_()
        history.append({"rec": l_rec.item(), "per": l_per.item(), "q": qloss.item(), "adv": l_adv.item()})
        if progress is not None:
            progress("training VQGAN", step + 1, p["steps"], rec=f"{history[-1]['rec']:.4f}")
        if (step + 1) % log_every == 0 or step == p["steps"] - 1:
            last = history[-log_every:]
            log.info("vqgan step %d/%d rec %.4f perceptual %.4f codebook %.4f adv %.3f (%.1fs)", step + 1, p["steps"],
                     *(float(np.mean([h[k] for h in last])) for k in ("rec", "per", "q", "adv")),
                     time.monotonic() - t0)
    model.eval()
    meta = {"preset": preset, "params": p, "crop": crop, "train_seconds": round(time.monotonic() - t0, 1),
            "first": {k: float(np.mean([h[k] for h in history[:10]])) for k in history[-1]},
            "final": {k: float(np.mean([h[k] for h in history[-10:]])) for k in history[-1]}}
    meta["eval"] = evaluate(model, size=p["image_size"])
    save_shipped(out, model, arch, meta)
    meta.update({"path": str(out), "sha256": sha256_file(out), "bytes": out.stat().st_size})
    log.info("VQGAN saved to %s: held-out PSNR %.1f dB, %.0f%% of codes used", out, meta["eval"]["psnr_db"],
             100 * meta["eval"]["codes_used"])
    return meta
