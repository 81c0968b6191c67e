"""rewards and align: what a guide CLIP can reward at all, and where its gradient points."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench.vqclip_bench.reading import COLOURS, SHAPES4, drawn_prompt, follow_prompt, image01

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
