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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.vqclip_bench.follow import FOLLOW_CONFIGS, follow
from bench.vqclip_bench.guides import align, rewards
from bench.vqclip_bench.speed import speed, speed_one


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
    from gallery.machine import print_machine

    print_machine(unless=("_speed_one",))  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
