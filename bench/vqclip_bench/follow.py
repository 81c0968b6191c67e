"""follow: do the loop's images follow the prompts? Each configuration's loop from noise (or the drawn
prompt), scored by an independent judge CLIP and the readers, beside the loop's pixel-loss ceiling."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.vqclip_bench.reading import COLOURS, SHAPES4, dominant, drawn_prompt, follow_prompt, image01

FOLLOW_CONFIGS = {
    # what `gallery generate vqclip` does with the shipped models: the robust guide CLIP, total variation 3
    "ours": {"guide": True, "tv": None},
    # the notebooks' loop on the same VQGAN: the sharpest (retrieval) CLIP as the guide, no smoothness term
    "plain": {"guide": False, "tv": 0.0},
    "guide-only": {"guide": True, "tv": 0.0},
    "tv-only": {"guide": False, "tv": None},
}


def follow_one(name: str, args: argparse.Namespace, vq, judge, prompts, snaps) -> dict:
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

def pixel_ceiling(vq, prompts, args: argparse.Namespace) -> int:
    """The loop's ceiling without CLIP: the same noise start (seed i), optimiser, learning rate, iterations,
    straight-through quantisation and decoder, aimed by a pixel loss at the drawn image of the prompt itself.
    How many final images the readers call the prompted colour and shape: what the VQGAN and the optimiser
    can reach when the gradient points at the right picture."""
    import torch
    import torch.nn.functional as F

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
