"""Train the tiny CLIP on captioned shapes with open_clip's contrastive loss (`gallery train clip`)."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from generator.datasets import shapes
from generator.vqgan_clip.presets import CLIP_PRESETS, CLIP_TINY_CONFIG, preset_file

log = logging.getLogger(__name__)

HELD_OUT_SEED0 = 900_000_000  # held-out images come from seeds no training pool uses


def data_seeds(seed: int, count: int) -> range:
    start = 1_000_000 * seed
    return range(start, start + count)


def retrieval(enc: Any, n: int = 100, size: int = 64, seed0: int = HELD_OUT_SEED0) -> dict[str, float]:
    """Held-out image->text retrieval among n captions: top-1 and top-5 accuracy."""
    imgs, caps = shapes.batch(range(seed0, seed0 + n), size)
    fi = enc.encode_images(list(imgs))
    ft = enc.encode_texts(caps)
    sims = fi @ ft.T
    ranks = (sims > sims[np.arange(n), np.arange(n)][:, None]).sum(1)
    return {"top1": float((ranks < 1).mean()), "top5": float((ranks < 5).mean()), "n": n}


def shape_discrimination(enc: Any, size: int = 64) -> dict[str, float]:
    """Shape alone: for each chromatic colour, background, object size and texture, images of every shape in
    that colour are ranked against the texts "a COLOUR SHAPE" of the same colour (chance: 1/6).
    ``accuracy``: image->text top-1; ``text_accuracy``: text->image top-1."""
    hits_i, hits_t, n = 0, 0, 0
    for colour in shapes.CHROMATIC:
        texts = [f"a {colour} {s}" for s in shapes.SHAPES]
        ft = enc.encode_texts(texts)
        for k, (bg, sz, tex) in enumerate([(bg, sz, tex) for bg in ("white", "grey", "black")
                                           for sz in shapes.SIZES for tex in ("solid", "striped")]):
            imgs = [shapes.render(shapes.Scene((shapes.Group(s, colour, sz, 1, tex),), bg, layout_seed=k), size)
                    for s in shapes.SHAPES]
            sims = enc.encode_images(imgs) @ ft.T
            hits_i += int((sims.argmax(1) == np.arange(len(texts))).sum())
            hits_t += int((sims.argmax(0) == np.arange(len(texts))).sum())
            n += len(texts)
    return {"accuracy": hits_i / n, "text_accuracy": hits_t / n, "n": n}


def hard_groups(seed: int, n_groups: int, size: int, colours: int = 1, single: float = 0.0,
                short: float = 0.5) -> tuple[np.ndarray, list[str]]:
    """Hard negatives: groups of one image per shape (and, with ``colours`` > 1, per colour of that many
    distinct colours) that share background, size, count, texture and position, so only the shape and colour
    words tell them apart. ``single``: the share of groups made single objects (one group, one shape).
    Captions are the full one or, for single objects with probability ``short``, the bare "a COLOUR SHAPE".
    Group g is rows ``g * len(SHAPES) * colours`` onwards."""
    rng = np.random.default_rng([seed, 0x4A7D])
    imgs, caps = [], []
    for _ in range(n_groups):
        base = shapes.random_scene(rng)
        if colours > 1 or single > 0:  # the original draws (colours == 1, single == 0) stay as they were
            if rng.random() < single:
                g = base.groups[0]
                base = shapes.Scene((shapes.Group(g.shape, g.colour, g.size, 1, g.texture),), base.background,
                                    base.background_style, base.position, base.layout_seed)
        g0 = base.groups[0]
        cols = [g0.colour]
        if colours > 1:
            others = [c for c in shapes.COLOURS if c not in (g0.colour, base.background)]
            cols += [str(c) for c in rng.choice(others, size=colours - 1, replace=False)]
        is_short = g0.count == 1 and len(base.groups) == 1 and rng.random() < short
        for col in cols:
            for s in shapes.SHAPES:
                sc = shapes.Scene((shapes.Group(s, col, g0.size, g0.count, g0.texture), *base.groups[1:]),
                                  base.background, base.background_style, base.position, base.layout_seed)
                imgs.append(shapes.render(sc, size))
                caps.append(f"a {col} {s}" if is_short else sc.caption())
    return np.stack(imgs), caps


def clip_loss_distinct(img_f: Any, txt_f: Any, scale: Any, tokens: Any) -> Any:
    """open_clip's symmetric contrastive loss, except that a batch's other pairs with the very same caption
    (hard groups with bare captions can repeat "a red circle") are left out of the softmax rather than
    counted as negatives."""
    import torch
    import torch.nn.functional as F

    logits = scale * img_f @ txt_f.T
    same = (tokens[:, None, :] == tokens[None, :, :]).all(-1)
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def adversarial_images(model: Any, x01: Any, tokens: Any, mean: Any, std: Any, eps: float, steps: int,
                       g: Any, loss_fn: Any) -> Any:
    """Projected gradient ascent on the contrastive loss: the batch's images, each moved within an L-inf
    ball of radius ``eps`` (pixels in [0, 1]) to where the model matches them to their captions worst.

    Training on these (adversarial contrastive fine-tuning) makes the image tower's gradient follow what
    the image shows rather than invisible textures, which is what the CLIP-guided loop climbs.
    ``loss_fn(img_f, txt_f, scale, tokens)``: the training loss. Only the input gradient is computed
    (``autograd.grad`` on ``delta``: the weights' gradients are neither computed nor accumulated)."""
    import torch

    with torch.no_grad():
        txt_f = model.encode_text(tokens, normalize=True)
        scale = model.logit_scale.exp()
    step = 2.5 * eps / max(1, steps)
    delta = (torch.rand(x01.shape, generator=g) * 2 - 1).mul(eps)
    for _ in range(steps):
        delta.requires_grad_(True)
        img_f = model.encode_image(((x01 + delta).clamp(0, 1) - mean) / std, normalize=True)
        (grad,) = torch.autograd.grad(loss_fn(img_f, txt_f, scale, tokens), delta)
        delta = (delta.detach() + step * grad.sign()).clamp(-eps, eps)
    return (x01 + delta).clamp(0, 1).detach()


def train(preset: str = "tiny-shapes", out: Path | None = None, *, seed: int | None = None,
          steps: int | None = None, log_every: int = 50, threads: int | None = 1,
          init: Path | None = None, progress: Any = None) -> dict[str, Any]:
    """Train a preset and save it (default: the shipped weights file); returns what was measured.
    ``progress(stage, step, steps, **figures)`` after every step (gallery.progress's callback).

    Each batch mixes random captioned scenes with ``hard_groups`` groups of hard negatives (one image per
    shape, everything else shared; see :func:`hard_groups`) so that colours alone cannot solve it.
    ``init`` (or the preset's ``init``): start from these weights instead of random ones (fine-tuning).

    ``threads``: torch CPU threads; one is fastest on a shared machine (spinning threads fight).
    """
    import open_clip
    import torch

    if threads:
        torch.set_num_threads(threads)

    from gallery.hashing import sha256_file
    from generator.vqgan_clip.clip import SHIPPED_CLIP, create_model, save_shipped

    if preset not in CLIP_PRESETS:
        from gallery.errors import BadInput

        raise BadInput(f"unknown CLIP preset {preset!r}; known: {', '.join(CLIP_PRESETS)}")
    p = CLIP_PRESETS[preset].to_dict()
    if seed is not None:
        p["seed"] = seed
    if steps is not None:
        p["steps"] = steps
    out = Path(out) if out else SHIPPED_CLIP
    torch.manual_seed(p["seed"])
    name = p["model"]
    model = create_model(name, CLIP_TINY_CONFIG, seed=p["seed"])
    init = init or p.get("init")
    if init:
        from generator.vqgan_clip.clip import load_weights

        init = preset_file(init)
        src, _ = load_weights(init)  # read before training: `out` may be the same file
        model.load_state_dict(src.state_dict())
        log.info("starting from %s", init)
    tok = open_clip.get_tokenizer(name)
    t0 = time.monotonic()
    imgs, caps = shapes.batch(data_seeds(p["seed"], p["pool"]), p["image_size"])
    log.info("made %d captioned images in %.1fs", len(caps), time.monotonic() - t0)
    n_hard = int(p.get("hard_groups", 0))
    k = len(shapes.SHAPES)
    n_colours = int(p.get("hard_colours", 1))
    if n_hard:
        h_imgs, h_caps = hard_groups(p["seed"], p.get("hard_pool", 500), p["image_size"], colours=n_colours,
                                     single=float(p.get("hard_single", 0.0)), short=float(p.get("hard_short", 0.5)))
        imgs, caps = np.concatenate([imgs, h_imgs]), caps + h_caps
        k *= n_colours
        log.info("made %d hard-negative images (%d groups of %d)", len(h_caps), len(h_caps) // k, k)
    distinct = bool(p.get("distinct_captions", False))
    adv_eps, adv_steps = float(p.get("adv_eps", 0.0)), int(p.get("adv_steps", 0))
    n_pool = p["pool"]
    n_groups = (len(caps) - n_pool) // k
    x_all = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()  # uint8
    t_all = tok(caps)
    # every word the dataset can say, so that no caption word is left untrained by chance
    vocab = " ".join(list(shapes.COLOURS) + shapes.SHAPES + [s + "s" for s in shapes.SHAPES] + ["crosses"]
                     + list(shapes.SIZES) + list(shapes.COUNT_WORDS.values()) + shapes.TEXTURES
                     + shapes.POSITIONS + ["above", "on", "the", "at", "in", "background", "speckled", "an"])
    token_rows = torch.unique(torch.cat([t_all.flatten(), tok([vocab]).flatten()]))
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    decay = [q for n_, q in model.named_parameters() if q.ndim >= 2 and "embedding" not in n_]
    no_decay = [q for n_, q in model.named_parameters() if not (q.ndim >= 2 and "embedding" not in n_)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": p["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=p["lr"], betas=(0.9, 0.98), eps=1e-6)
    clip_loss = open_clip.ClipLoss()

    def loss_fn(img_f: Any, txt_f: Any, scale: Any, tokens: Any) -> Any:
        return clip_loss_distinct(img_f, txt_f, scale, tokens) if distinct else clip_loss(img_f, txt_f, scale)

    g = torch.Generator().manual_seed(p["seed"])
    model.train()
    t0 = time.monotonic()
    losses = []
    for step in range(p["steps"]):
        lr = p["lr"] * (step + 1) / p["warmup"] if step < p["warmup"] else \
            0.5 * p["lr"] * (1 + math.cos(math.pi * (step - p["warmup"]) / max(1, p["steps"] - p["warmup"])))
        for grp in opt.param_groups:
            grp["lr"] = lr
        if n_hard:
            grp_ids = torch.randperm(n_groups, generator=g)[:n_hard]
            hard = (n_pool + grp_ids[:, None] * k + torch.arange(k)[None]).flatten()
            idx = torch.cat([torch.randperm(n_pool, generator=g)[:p["batch"] - len(hard)], hard])
        else:
            idx = torch.randperm(len(caps), generator=g)[:p["batch"]]
        x01 = x_all[idx].float() / 255.0
        if adv_eps:
            x01 = adversarial_images(model, x01, t_all[idx], mean, std, adv_eps, adv_steps, g, loss_fn)
        x = (x01 - mean) / std
        img_f, txt_f, scale = model(x, t_all[idx])[:3]
        loss = loss_fn(img_f, txt_f, scale, t_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(float(loss.detach()))
        if progress is not None:
            progress("training CLIP", step + 1, p["steps"], loss=f"{losses[-1]:.3f}")
        if (step + 1) % log_every == 0 or step == p["steps"] - 1:
            log.info("clip step %d/%d loss %.3f lr %.2e (%.1fs)", step + 1, p["steps"],
                     float(np.mean(losses[-log_every:])), lr, time.monotonic() - t0)
    model.eval()
    with torch.no_grad():  # rows outside the stored vocabulary are not shipped: make the model agree
        keep = torch.zeros(model.token_embedding.weight.shape[0], dtype=torch.bool)
        keep[token_rows] = True
        model.token_embedding.weight[~keep] = 0
    meta = {"preset": preset, "params": p, "train_seconds": round(time.monotonic() - t0, 1),
            "final_loss": float(np.mean(losses[-50:]))}
    save_shipped(out, model, name, CLIP_TINY_CONFIG, token_rows, meta)
    from generator.vqgan_clip.clip import load_clip_file

    enc = load_clip_file(out, device="cpu")
    ret = retrieval(enc)
    meta.update({"retrieval": ret, "shapes": shape_discrimination(enc), "path": str(out), "sha256": sha256_file(out),
                 "bytes": out.stat().st_size})
    log.info("CLIP saved to %s: held-out image->text top-1 %.2f top-5 %.2f among %d captions; "
             "shape discrimination %.2f", out, ret["top1"], ret["top5"], ret["n"], meta["shapes"]["accuracy"])
    return meta
