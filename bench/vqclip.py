"""VQGAN+CLIP benchmarks: speed and memory of one loop iteration, and whether the loop follows prompts.

    .venv/bin/python bench/vqclip.py          (speed, then follow, with their defaults: what `make bench` runs)
    .venv/bin/python bench/vqclip.py speed    [--iters 3] [--sizes 64 256] [--rounds 2] [--threads N] [--no-ckpt-row]
    .venv/bin/python bench/vqclip.py follow   [--iterations 60] [--prompts 20] [--configs ours plain ...] [--save DIR]
                                              [--start noise|drawn]
    .venv/bin/python bench/vqclip.py rewards  [--clips A.pt B.pt] [--colours red blue] [--layouts 6]
    .venv/bin/python bench/vqclip.py align    [--clips A.pt B.pt] [--iterations 60] [--prompts 20]

speed: wall seconds per iteration and per phase (decode / cutouts / CLIP / backward), process CPU
seconds per iteration and peak resident memory of ours and of the reference-style loop side by side:
each configuration in a fresh subprocess, the two loops alternating (--rounds), fp32 on the CPU, with
the load average before and after. 64: the shipped tiny VQGAN + tiny CLIP. 256: the architectures of
vqgan_imagenet_f16_16384 and open_clip ViT-B-32 with random weights (the same compute as the real
ones), 32 cutouts. "ours" is generator.vqgan_clip.loop.run_loop itself (cutouts in one batched
roi_align; oneDNN CLIP image tower; channels-last decoder whose frozen convolutions and norm+swish
keep only what the input gradient needs; the two largest decoder levels recomputed in backward
at 256x256 and up). "reference-style" is the usual notebook loop (nerdyrodent/VQGAN-CLIP): taming's
layer code (bmm+softmax attention, x*sigmoid(x), plain NCHW convolutions), MakeCutouts (a Python loop
of slices + adaptive average/max pooling per cutout, kornia augmentations) and open_clip's
encode_image, run on the same models here.

follow: 20 colour/shape prompts, each optimised from noise with the tiny models; the snapshots are
scored by a *second* tiny CLIP trained with another seed (not the one being optimised), and the
final image's dominant hue and shape (OpenCV contour analysis) are compared with the words; "guide
reads the shape" counts the final images that the guide CLIP itself matches best to the prompt's shape
among the four shape words (the loop did what its guide asked where the reader disagrees). Side by
side (--configs): "ours" (the loop as `gallery generate vqclip` runs it: the adversarially fine-tuned
guide CLIP and a total-variation term) and "plain" (the notebooks' loop: the retrieval CLIP, no TV),
optionally each change alone ("guide-only", "tv-only").

rewards: what a CLIP can reward at all: its mean cosine between a follow prompt and drawn scenes that
match it, or differ from it in size, count, position or shape only.

align: where a guide's gradient points: the cosine between the step the loop's CLIP term asks of the
image and the step to the drawn prompt itself, on the images of the guide's own loop.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REFERENCE_S_PER_IT = 4.86  # nerdyrodent/VQGAN-CLIP at 256x256, f16-16384 + ViT-B-32, 32 cutouts, this machine
REFERENCE_PEAK_GIB = 4.6


# ---------------------------------------------------------------- speed
def _reference_cutouts(img, n: int, size: int, cut_pow: float, g):  # noqa: ANN001, ANN202
    """The notebook way: per-cutout slice + adaptive pooling, then kornia augmentations."""
    import kornia.augmentation as K  # noqa: N812
    import torch
    import torch.nn.functional as F  # noqa: N812

    _, _, h, w = img.shape
    max_size, min_size = min(h, w), min(h, w, size)
    cuts = []
    for _ in range(n):
        s = int(torch.rand([], generator=g) ** cut_pow * (max_size - min_size) + min_size)
        ox = int(torch.randint(0, w - s + 1, (), generator=g))
        oy = int(torch.randint(0, h - s + 1, (), generator=g))
        c = img[:, :, oy:oy + s, ox:ox + s]
        cuts.append((F.adaptive_avg_pool2d(c, size) + F.adaptive_max_pool2d(c, size)) / 2)
    aug = torch.nn.Sequential(K.RandomAffine(degrees=15, translate=0.1, p=0.7, padding_mode="border"),
                              K.RandomPerspective(0.7, p=0.7), K.ColorJitter(hue=0.1, saturation=0.1, p=0.7))
    return aug(torch.cat(cuts))


def _bmm_attention(self, x):  # noqa: ANN001, ANN202 - taming's original AttnBlock.forward
    import torch

    h_ = self.norm(x)
    q, k, v = self.q(h_), self.k(h_), self.v(h_)
    b, c, h, w = q.shape
    q = q.reshape(b, c, h * w).permute(0, 2, 1)
    w_ = torch.bmm(q, k.reshape(b, c, h * w)) * (int(c) ** (-0.5))
    w_ = torch.softmax(w_, dim=2)
    h_ = torch.bmm(v.reshape(b, c, h * w), w_.permute(0, 2, 1)).reshape(b, c, h, w)
    return x + self.proj_out(h_)


def _reference_style_modules() -> None:
    """Put taming's original layer code back for the reference-style run (it shares model.py with ours):
    bmm+softmax attention, swish as x * sigmoid(x), convolutions that keep their inputs for backward."""
    import torch
    from torch import nn

    from generator.vqgan_clip import model as M  # noqa: N812

    M.AttnBlock.forward = _bmm_attention
    M.Conv2d.forward = nn.Conv2d.forward
    def norm_swish(norm: nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
        h = norm(x)
        return h * torch.sigmoid(h)

    M.norm_swish = norm_swish


def _models(size: int):  # noqa: ANN202
    import torch

    torch.manual_seed(0)
    if size <= 64:
        from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load
        from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip_file

        vq, _, _ = load(SHIPPED_VQGAN)
        return vq, load_clip_file(SHIPPED_CLIP), "tiny VQGAN + tiny CLIP (shipped)"
    from generator.vqgan_clip.clip import create_model, encoder_from_model
    from generator.vqgan_clip.model import build
    from generator.vqgan_clip.presets import VQGAN_ARCHS

    vq = build(VQGAN_ARCHS["f16_16384"]).eval()
    clip = encoder_from_model(create_model("ViT-B-32", seed=0), "ViT-B-32", "random", torch.device("cpu"))
    return vq, clip, "f16-16384 + ViT-B-32 (random weights)"


def speed_one(size: int, style: str, iters: int, cutouts: int, threads: int) -> dict:
    """One configuration in this (fresh) process: mean wall seconds per phase over ``iters`` iterations
    after one warm-up, CPU seconds of the process per iteration, and the peak resident set."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from generator.vqgan_clip import loop as L  # noqa: N812

    if style == "reference":
        _reference_style_modules()
    vq, clip, models = _models(size)
    for p in vq.parameters():
        p.requires_grad_(False)
    phases = ("decode", "cutouts", "clip", "backward")
    if style.startswith("ours"):
        # the real thing: generator.vqgan_clip.loop.run_loop (one warm-up run, then the measured run)
        from generator.vqgan_clip.prompts import parse_story

        def params(n: int) -> L.LoopParams:
            return L.LoopParams(phases=parse_story("a red circle"), iterations=n, width=size, height=size,
                                cutouts=cutouts, cut_pow=1.0, snapshots=[], lr=0.1, seed=0,
                                grad_checkpoint=0 if style == "ours-nockpt" else None)

        L.run_loop(params(1), vq, clip)
        c0 = time.process_time()
        r = L.run_loop(params(iters), vq, clip)
        cpu = (time.process_time() - c0) / iters
        out = {k: r.timings[k] for k in phases}
        ckpt = vq.decoder.grad_checkpoint
    else:  # the notebook loop, on the same models
        g = torch.Generator().manual_seed(0)
        f = vq.downsample_factor
        z = vq.quantize.lookup(torch.randint(0, vq.n_embed, (1, size // f, size // f), generator=g)).requires_grad_(True)
        tgt = torch.nn.functional.normalize(clip.text_features(["a red circle"]).float(), dim=-1).detach()
        opt = torch.optim.Adam([z], lr=0.1)
        t: dict[str, list[float]] = {k: [] for k in phases}
        for i in range(iters + 1):
            if i == 1:
                c0 = time.process_time()
            t0 = time.perf_counter()
            zq = vq.quantize.lookup(vq.quantize.codes(z))
            img = L.to_image(vq.decode(z + (zq - z).detach()))
            t1 = time.perf_counter()
            cuts = _reference_cutouts(img, cutouts, clip.image_size, 1.0, g)
            t2 = time.perf_counter()
            loss = L.spherical_distance(clip.image_features(cuts, resize=False).float(), tgt).mean()
            t3 = time.perf_counter()
            opt.zero_grad()
            loss.backward()
            opt.step()
            t4 = time.perf_counter()
            if i > 0:  # the first iteration warms up allocators and kernels
                for k, v in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                    t[k].append(v)
        cpu = (time.process_time() - c0) / iters
        out = {k: float(np.mean(v)) for k, v in t.items()}
        ckpt = 0
    out.update({"total": sum(out[k] for k in phases), "cpu": cpu,
                "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "size": size,
                "style": style, "models": models, "n_cutouts": cutouts, "threads": torch.get_num_threads(),
                "ckpt": int(ckpt)})
    return out


def speed(args: argparse.Namespace) -> None:
    import os

    styles = ["reference", "ours"] + (["ours-nockpt"] if args.no_ckpt_row else [])
    load0 = os.getloadavg()
    runs: dict[tuple[int, str], list[dict]] = {}
    for size in args.sizes:
        for rnd in range(args.rounds):  # alternate the loops, so drifting machine load hits both alike
            for style in styles if rnd % 2 == 0 else styles[::-1]:
                if style == "ours-nockpt" and size < 256:
                    continue
                cmd = [sys.executable, __file__, "_speed_one", str(size), style, str(args.iters), str(args.cutouts),
                       str(args.threads)]
                res = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if res.returncode:
                    print(res.stderr[-2000:], file=sys.stderr)
                    raise SystemExit(f"{size} {style} failed")
                r = json.loads(res.stdout.strip().splitlines()[-1])
                runs.setdefault((size, style), []).append(r)
                print(f"  {size} {style:<12} round {rnd + 1}: {r['total']:.2f} s/it, {r['cpu']:.2f} CPU s/it, "
                      f"peak {r['peak_gib']:.2f} GiB (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    keys = ("decode", "cutouts", "clip", "backward", "total", "cpu")
    rows = []
    for rs in runs.values():
        row = dict(rs[0])
        row.update({k: float(np.mean([r[k] for r in rs])) for k in keys})
        row["peak_gib"] = max(r["peak_gib"] for r in rs)
        row["n"] = len(rs)
        rows.append(row)
    print(f"\nVQGAN+CLIP, one iteration, fp32 CPU, {rows[0]['threads']} torch threads, {args.cutouts} cutouts; "
          f"wall seconds per phase, mean of {args.iters} iterations after 1 warm-up, averaged over {args.rounds} "
          f"alternating runs of each loop; CPU = process CPU seconds per iteration; peak = max resident set")
    print(f"load average (1/5/15 min) before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print(f"{'size':>5} {'loop':<12} {'decode':>7} {'cutouts':>8} {'CLIP':>7} {'backward':>9} {'s/it':>7} "
          f"{'CPU s/it':>9} {'peak GiB':>9} {'ckpt':>5}  models")
    for r in rows:
        print(f"{r['size']:>5} {r['style']:<12} {r['decode']:7.3f} {r['cutouts']:8.3f} {r['clip']:7.3f} "
              f"{r['backward']:9.3f} {r['total']:7.3f} {r['cpu']:9.3f} {r['peak_gib']:9.2f} {r['ckpt']:>5}  {r['models']}")
    by = {(r["size"], r["style"]): r for r in rows}
    for (size, style), r in by.items():
        ref = by.get((size, "reference"))
        if style == "reference" or ref is None:
            continue
        line = (f"{size}x{size} {style} / reference-style, same run: {r['total'] / ref['total']:.2f}x wall, "
                f"{r['cpu'] / ref['cpu']:.2f}x CPU; peak {r['peak_gib']:.2f} vs {ref['peak_gib']:.2f} GiB")
        if size >= 256:
            line += (f"; goal <= 0.7x and <= 3 GiB (the nerdyrodent loop measured here: {REFERENCE_S_PER_IT} s/it, "
                     f"{REFERENCE_PEAK_GIB} GiB)")
        print(line)


# ---------------------------------------------------------------- prompt following
COLOURS = ["red", "green", "blue", "yellow", "purple"]
SHAPES4 = ["circle", "square", "triangle", "star"]


def follow_prompt(colour: str, shape: str) -> str:
    return f"a large {colour} {shape} in the centre on a white background"


def classify_shape(mask: np.ndarray) -> str:
    """circle | square | triangle | star | cross | ring | none, from the largest blob of a uint8 mask."""
    import cv2

    cnts, hier = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not cnts:
        return "none"
    i = int(np.argmax([cv2.contourArea(c) for c in cnts]))
    c = cnts[i]
    area = cv2.contourArea(c)
    if area < 12:
        return "none"
    holes = [j for j in range(len(cnts)) if hier[0][j][3] == i and cv2.contourArea(cnts[j]) > 0.15 * area]
    if holes:
        return "ring"
    hull = cv2.convexHull(c)
    solidity = area / max(cv2.contourArea(hull), 1e-6)
    peri = cv2.arcLength(c, True)
    circularity = 4 * np.pi * area / max(peri * peri, 1e-6)
    if solidity < 0.78:
        (_, _), (w, h), _ = cv2.minAreaRect(c)
        return "star" if solidity < 0.62 or circularity < 0.35 else "cross"
    verts = len(cv2.approxPolyDP(hull, 0.06 * cv2.arcLength(hull, True), True))
    if verts == 3:
        return "triangle"
    if circularity > 0.82:
        return "circle"
    if verts == 4:
        return "square"
    return "circle" if circularity > 0.75 else "square"


def dominant(img: np.ndarray) -> tuple[str, str]:
    """(dominant chromatic colour word, shape of its largest blob) of an RGB image."""
    from generator.datasets.shapes import CHROMATIC, hue_name

    big = img.reshape(-1, 3)
    names = np.array([hue_name(p) for p in big])
    counts = {c: int((names == c).sum()) for c in CHROMATIC}
    colour = max(counts, key=counts.get)
    mask = (names == colour).reshape(img.shape[:2]).astype(np.uint8) * 255
    return colour, classify_shape(mask)


FOLLOW_CONFIGS = {
    # what `gallery generate vqclip` does with the shipped models: the robust guide CLIP, total variation 3
    "ours": {"guide": True, "tv": None},
    # the notebooks' loop on the same VQGAN: the sharpest (retrieval) CLIP as the guide, no smoothness term
    "plain": {"guide": False, "tv": 0.0},
    "guide-only": {"guide": True, "tv": 0.0},
    "tv-only": {"guide": False, "tv": None},
}


def follow_one(name: str, args: argparse.Namespace, vq, judge, prompts, snaps) -> dict:  # noqa: ANN001
    from generator.vqgan_clip.clip import SHIPPED_CLIP, SHIPPED_GUIDE_CLIP, load_clip_file
    from generator.vqgan_clip.jobs import TINY_TV_WEIGHT
    from generator.vqgan_clip.loop import LoopParams, run_loop
    from generator.vqgan_clip.prompts import parse_story

    cfg = FOLLOW_CONFIGS[name]
    clip_file = args.clip or (SHIPPED_GUIDE_CLIP if cfg["guide"] else SHIPPED_CLIP)
    clip = load_clip_file(clip_file)
    tv = cfg["tv"] if cfg["tv"] is not None else (args.tv_weight if args.tv_weight is not None else TINY_TV_WEIGHT)
    scores = np.zeros((len(prompts), len(snaps)))
    hits_c = hits_s = guide_s = 0
    print(f"\n[{name}] guide CLIP {Path(clip_file).name}, total variation weight {tv}")
    print(f"{'prompt':<58} " + " ".join(f"it{k:<5}" for k in snaps) + "  colour  shape     guide's shape")
    t0 = time.monotonic()
    guide_scores = np.zeros((len(prompts), 2))
    for i, (c, s) in enumerate(prompts):
        text = follow_prompt(c, s)
        lp = LoopParams(phases=parse_story(text), iterations=args.iterations, snapshots=snaps, seed=i,
                        cutouts=args.cutouts, lr=args.lr, min_cut=args.min_cut, cut_pow=args.cut_pow, tv_weight=tv,
                        init_image=drawn_prompt(c, s) if args.start == "drawn" else None)
        r = run_loop(lp, vq, clip)
        emb = judge.encode_texts([text])[0]
        scores[i] = [float(judge.encode_images([r.snapshots[k]])[0] @ emb) for k in snaps]
        # the guide's own scores of the first and last image against the four shape words of this colour
        feats = clip.encode_images([r.snapshots[0], r.snapshots[args.iterations]])
        guide_sims = feats @ clip.encode_texts([follow_prompt(c, t) for t in SHAPES4]).T  # (2, 4)
        guide_scores[i] = guide_sims[:, SHAPES4.index(s)]
        dc, ds = dominant(r.snapshots[args.iterations])
        hits_c += dc == c
        hits_s += ds == s
        # what the guide itself reads: which of the four shape words it matches the final image to best
        gs = SHAPES4[int(np.argmax(guide_sims[1]))]
        guide_s += gs == s
        if args.save:
            import cv2

            out = Path(args.save) / name
            out.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out / f"{i:02d}-{c}-{s}.png"),
                        cv2.cvtColor(np.concatenate([r.snapshots[k] for k in snaps], 1), cv2.COLOR_RGB2BGR))
        print(f"{text:<58} " + " ".join(f"{v:6.3f}" for v in scores[i]) + f"  {dc:<7} {ds:<9} {gs}", flush=True)
    return {"name": name, "tv": tv, "clip": Path(clip_file).name, "seconds": time.monotonic() - t0,
            "start": float(scores[:, 0].mean()), "end": float(scores[:, -1].mean()),
            "rose": int((scores[:, -1] > scores[:, 0]).sum()), "hue": hits_c, "shape": hits_s,
            "guide_shape": guide_s, "guide_start": float(guide_scores[:, 0].mean()),
            "guide_end": float(guide_scores[:, 1].mean())}


def drawn_prompt(colour: str, shape: str, size: str = "large", count: int = 1, position: str = "centre",
                 layout_seed: int = 0) -> np.ndarray:
    """The follow prompt drawn by the dataset's renderer (64x64 RGB uint8) on white: with the defaults, what a
    perfect loop would reach; the other arguments draw scenes that differ from it in one respect."""
    from generator.datasets import shapes

    scene = shapes.Scene((shapes.Group(shape, colour, size, count),), "white", position=position,
                         layout_seed=layout_seed)
    return shapes.render(scene, 64)


def image01(im: np.ndarray):  # noqa: ANN201
    """RGB uint8 HxWx3 -> a (1, 3, H, W) float tensor in [0, 1], the loop's image space."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)[None].float().div(255)


def pixel_ceiling(vq, prompts, args: argparse.Namespace) -> int:  # noqa: ANN001
    """The loop's ceiling without CLIP: the same noise start (seed i), optimiser, learning rate, iterations,
    straight-through quantisation and decoder, aimed by a pixel loss at the drawn image of the prompt itself.
    How many final images the readers call the prompted colour and shape: what the VQGAN and the optimiser
    can reach when the gradient points at the right picture."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    from generator.vqgan_clip.loop import (
        clamp_to_codebook,
        image_to_uint8,
        noise_latent,
        quantise_st,
        to_image,
    )

    for p in vq.parameters():
        p.requires_grad_(False)
    side = 64 // vq.downsample_factor
    clamp = clamp_to_codebook(vq)
    hits = 0
    for i, (c, s) in enumerate(prompts):
        target = image01(drawn_prompt(c, s))
        z = noise_latent(vq, side, side, torch.Generator().manual_seed(i)).clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=args.lr)
        for _ in range(args.iterations):
            loss = F.mse_loss(to_image(vq.decode(quantise_st(vq, z))), target, reduction="sum")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            clamp(z)
        with torch.no_grad():
            hits += dominant(image_to_uint8(to_image(vq.decode(quantise_st(vq, z))))) == (c, s)
    return hits


def follow(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load
    from generator.vqgan_clip.clip import SHIPPED_JUDGE_CLIP, load_clip_file

    # the readers themselves, checked on drawn shapes first
    ok = tot = 0
    for s in SHAPES4:
        for c in COLOURS:
            ok += dominant(drawn_prompt(c, s)) == (c, s)
            tot += 1
    print(f"reader check on drawn shapes: {ok}/{tot} colour+shape read correctly")

    judge = load_clip_file(SHIPPED_JUDGE_CLIP)
    vq, _, _ = load(SHIPPED_VQGAN)
    snaps = sorted({0, args.iterations // 4, args.iterations // 2, args.iterations})
    prompts = [(c, s) for s in SHAPES4 for c in COLOURS][: args.prompts]
    n = len(prompts)
    t0 = time.monotonic()
    ceiling = pixel_ceiling(vq, prompts, args)
    print(f"the loop's ceiling (pixel loss to the drawn prompt instead of CLIP): {ceiling}/{n} colour+shape "
          f"({time.monotonic() - t0:.0f}s)")
    rows = [follow_one(name, args, vq, judge, prompts, snaps) for name in args.configs]
    start = "from noise" if args.start == "noise" else "from the drawn prompt itself"
    print(f"\n{n} prompts, {args.iterations} iterations each at 64x64 {start}, {args.cutouts} cutouts "
          f"(min {args.min_cut}), lr {args.lr}, {args.threads} thread(s); judge: the tiny CLIP of seed 1")
    print(f"| loop | guide CLIP | TV weight | judge score it 0 -> {args.iterations} | rose | hue matches | "
          f"shape matches | guide reads the shape | guide's own score it 0 -> {args.iterations} | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['clip']} | {r['tv']:g} | {r['start']:.3f} -> {r['end']:.3f} | {r['rose']}/{n} | "
              f"{r['hue']}/{n} ({100 * r['hue'] / n:.0f}%) | {r['shape']}/{n} ({100 * r['shape'] / n:.0f}%) | "
              f"{r['guide_shape']}/{n} | {r['guide_start']:.3f} -> {r['guide_end']:.3f} | {r['seconds']:.0f} |")


# what the guides reward: drawn scenes that differ from "a large COLOUR SHAPE in the centre" in one respect
REWARD_SCENES = {
    "large, centre": ("large", 1, "centre", False),
    "small, centre": ("small", 1, "centre", False),
    "three small": ("small", 3, "centre", False),
    "large, left": ("large", 1, "left", False),
    "large, other shape": ("large", 1, "centre", True),
}


def clip_files(args: argparse.Namespace, default: list[Path]) -> list[Path]:
    """The CLIP files of --clips (else ``default``); stops with their names if any is missing."""
    paths = [Path(p) for p in args.clips] if args.clips else default
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        sys.exit(f"{args.cmd}: no such CLIP file: {', '.join(missing)}")
    return paths


def rewards(args: argparse.Namespace) -> None:
    """Mean cosine of each CLIP between a follow prompt and drawn scenes that match it or differ in size,
    count, position or shape (the next of SHAPES4), over args.colours x SHAPES4 and args.layouts layouts:
    which of the words a guide can reward at all."""
    from generator.vqgan_clip.clip import SHIPPED_CLIP, SHIPPED_GUIDE_CLIP, load_clip_file

    paths = clip_files(args, [SHIPPED_CLIP, SHIPPED_GUIDE_CLIP])
    print(f"mean cosine to 'a large COLOUR SHAPE in the centre on a white background', {len(args.colours)} "
          f"colours x {len(SHAPES4)} shapes, {args.layouts} layouts each")
    print("| CLIP | " + " | ".join(REWARD_SCENES) + " |")
    print("|---" * (len(REWARD_SCENES) + 1) + "|")
    for path in paths:
        enc = load_clip_file(path)
        vals: dict[str, list[float]] = {name: [] for name in REWARD_SCENES}
        for colour in args.colours:
            for i, shape in enumerate(SHAPES4):
                text = enc.encode_texts([follow_prompt(colour, shape)])[0]
                for name, (size, count, pos, other) in REWARD_SCENES.items():
                    drawn = SHAPES4[(i + 1) % len(SHAPES4)] if other else shape
                    ims = [drawn_prompt(colour, drawn, size, count, pos, j) for j in range(args.layouts)]
                    vals[name].append(float((enc.encode_images(ims) @ text).mean()))
        print(f"| {path.name} | " + " | ".join(f"{np.mean(vals[k]):.3f}" for k in REWARD_SCENES) + " |")


def align(args: argparse.Namespace) -> None:
    """How far each guide's gradient points at the right picture: each guide drives the shipped loop (TV as
    the loop uses it) on the follow prompts; at each snapshot, the step the loop's CLIP term asks of the
    image (minus the gradient of its spherical distance over 32 cutouts, the loop's augmentations) is
    compared by cosine with the step to the drawn prompt itself (drawing minus image), which is what the
    pixel-loss ceiling follows. Near 0: the guide asks for something else than the drawing."""
    import torch

    from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load
    from generator.vqgan_clip.clip import SHIPPED_CLIP, SHIPPED_GUIDE_CLIP, load_clip_file
    from generator.vqgan_clip.jobs import TINY_TV_WEIGHT
    from generator.vqgan_clip.loop import LoopParams, make_cutouts, run_loop, spherical_distance
    from generator.vqgan_clip.prompts import parse_story

    torch.set_num_threads(args.threads)
    paths = clip_files(args, [SHIPPED_GUIDE_CLIP, SHIPPED_CLIP])
    vq, _, _ = load(SHIPPED_VQGAN)
    prompts = [(c, s) for s in SHAPES4 for c in COLOURS][: args.prompts]
    snaps = sorted({0, args.iterations // 4, args.iterations // 2, args.iterations})
    print(f"cosine between the step each guide asks of the image and the step to the drawn prompt, "
          f"{len(prompts)} prompts, the guide's own loop ({args.iterations} iterations, TV {TINY_TV_WEIGHT:g})")
    print("| guide CLIP | " + " | ".join(f"it {k}" for k in snaps) + " | all |")
    print("|---" * (len(snaps) + 2) + "|")
    for path in paths:
        clip = load_clip_file(path)
        cos: dict[int, list[float]] = {k: [] for k in snaps}
        for i, (c, s) in enumerate(prompts):
            text = follow_prompt(c, s)
            lp = LoopParams(phases=parse_story(text), iterations=args.iterations, snapshots=snaps, seed=i,
                            cutouts=8, tv_weight=TINY_TV_WEIGHT)
            r = run_loop(lp, vq, clip)
            target = image01(drawn_prompt(c, s))
            with torch.no_grad():
                emb = clip.text_features([text]).float()
            g = torch.Generator().manual_seed(1000 + i)
            for k in snaps:
                x = image01(r.snapshots[k]).requires_grad_(True)
                cuts = make_cutouts(x, 32, clip.image_size, lp.cut_pow, lp.min_cut, g, lp.augment)
                loss = spherical_distance(clip.image_features(cuts, resize=False).float(), emb).mean()
                (grad,) = torch.autograd.grad(loss, x)
                to_drawing = (target - x.detach()).flatten()
                cos[k].append(float(torch.nn.functional.cosine_similarity(-grad.flatten(), to_drawing, dim=0)))
        print(f"| {path.name} | " + " | ".join(f"{np.mean(cos[k]):.3f}" for k in snaps)
              + f" | {np.mean([v for k in snaps for v in cos[k]]):.3f} |", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_speed_one":
        size, style, iters, cutouts, threads = (int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                                                 int(sys.argv[6]))
        print(json.dumps(speed_one(size, style, iters, cutouts, threads)))
        return
    from generator.datasets.shapes import CHROMATIC

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")  # none (as `make bench` runs it): speed, then follow, with defaults
    sp = sub.add_parser("speed")
    sp.add_argument("--iters", type=int, default=3)
    sp.add_argument("--cutouts", type=int, default=32)
    sp.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    sp.add_argument("--rounds", type=int, default=2, help="alternating runs of each loop (fresh processes)")
    sp.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    sp.add_argument("--no-ckpt-row", action="store_true", help="also ours without decoder checkpointing (256)")
    fp = sub.add_parser("follow")
    fp.add_argument("--iterations", type=int, default=60)
    fp.add_argument("--prompts", type=int, default=20)
    fp.add_argument("--cutouts", type=int, default=8)
    fp.add_argument("--lr", type=float, default=0.1)
    fp.add_argument("--min-cut", type=float, default=0.4)
    fp.add_argument("--threads", type=int, default=1)
    fp.add_argument("--tv-weight", type=float, default=None, help="for the configurations with a TV term "
                    "(default: what the loop uses with the shipped VQGAN)")
    fp.add_argument("--configs", nargs="+", default=["ours", "plain"], choices=list(FOLLOW_CONFIGS))
    fp.add_argument("--cut-pow", type=float, default=1.0)
    fp.add_argument("--clip", default=None, help="the CLIP every configuration optimises against (default: "
                    "each configuration's own)")
    fp.add_argument("--save", default=None, help="write each prompt's snapshots as a PNG strip here")
    fp.add_argument("--start", choices=["noise", "drawn"], default="noise", help="drawn: start from the drawn "
                    "prompt itself (does the loop keep the right answer?)")
    rp = sub.add_parser("rewards")
    rp.add_argument("--clips", nargs="+", default=None, help="CLIP files (default: the retrieval CLIP and the "
                    "robust guide)")
    rp.add_argument("--colours", nargs="+", default=["red", "blue"], choices=CHROMATIC)
    rp.add_argument("--layouts", type=int, default=6)
    al = sub.add_parser("align")
    al.add_argument("--clips", nargs="+", default=None, help="guide CLIP files (default: the robust guide and the "
                    "retrieval CLIP)")
    al.add_argument("--iterations", type=int, default=60)
    al.add_argument("--prompts", type=int, default=20)
    al.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    runs = {"speed": speed, "follow": follow, "rewards": rewards, "align": align}
    if args.cmd is None:
        for cmd in ("speed", "follow"):
            print(f"-- bench/vqclip.py {cmd}", flush=True)
            runs[cmd](ap.parse_args([cmd]))
        return
    runs[args.cmd](args)


if __name__ == "__main__":
    main()
