"""Fine-tuning a VQGAN on a real image collection: does it reconstruct the collection better, and how fast.

    .venv/bin/python bench/vqgan_data.py [--glyphs N] [--steps 300] [--batch 8] [--threads 1 2] [--speed-steps 20]
                                         [--data-dir DIR]

Builds the Noto colour emoji dataset at 64 px (`gallery dataset emoji --name emoji64 --resolution 64`; the first
``--glyphs`` glyphs, all by default) in a scratch data directory (or uses ``--data-dir``'s, if it has one), then:

quality: the shipped tiny VQGAN (trained on procedural shapes) fine-tuned for ``--steps`` steps
(`gallery train vqgan --data emoji64`, its defaults: batch 8, lr 2e-4, perceptual 0.2, whole 64 px images, random
flips); reconstruction MSE (images in [0, 1]) and PSNR of the held-out emoji (a seeded tenth, at most 64, never
trained on) before and after, with the share of codes used and the codes' perplexity.

speed: training steps per second on the CPU with 1 and 2 torch threads (``--speed-steps`` steps each, after one
warm-up step, separate runs), with the load average before and after: the machine is shared, so read the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def build_emoji(config: Path, glyphs: int | None) -> dict:
    args = [sys.executable, "-m", "gallery.cli", "--config", str(config), "dataset", "emoji", "--name", "emoji64",
            "--resolution", "64", "--json"] + (["--limit", str(glyphs)] if glyphs else [])
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if r.returncode:
        sys.exit(f"building the emoji dataset failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout)


def report_quality(q: dict, batch: int, took: float) -> None:
    b, f = q["before"], q["after"]
    print(f"quality: tiny-shapes fine-tuned {q['steps']} steps (batch {batch}, 1 thread, {took:.0f}s, "
          f"load {load()}), on {q['eval_n']} held-out emoji")
    print(f"{'model':<24}{'MSE':>10}{'PSNR dB':>10}{'codes used':>12}{'perplexity':>12}")
    for name, m in (("tiny-shapes (start)", b), (f"fine-tuned {q['steps']} steps", f)):
        print(f"{name:<24}{m['mse']:>10.5f}{m['psnr_db']:>10.2f}{m['codes_used']:>12.3f}{m['perplexity']:>12.1f}")
    print(f"MSE after / before: {f['mse'] / b['mse']:.3f}; PSNR gain {f['psnr_db'] - b['psnr_db']:+.2f} dB")
    print(f"samples: {q['run']}/samples (top row: emoji, bottom: reconstructions)\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--glyphs", type=int, default=None, help="only the first N glyphs of the font (default: all)")
    ap.add_argument("--steps", type=int, default=300, help="0: the speed table only")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--speed-steps", type=int, default=20)
    ap.add_argument("--data-dir", type=Path, default=None)
    a = ap.parse_args()
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU

    import torch

    from catalogue import open_catalogue
    from catalogue.datasets import get_dataset
    from gallery.config import load_settings
    from generator.vqgan_clip.finetune import FinetuneConfig, finetune

    with tempfile.TemporaryDirectory(prefix="bench-vqgan-data-") as tmp:
        data_dir = a.data_dir or Path(tmp) / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        config = Path(tmp) / "config.yaml"
        config.write_text(f"data_dir: {data_dir}\ncatalogue:\n  fsync: false\n")
        settings = load_settings(config, environ={})
        cat = open_catalogue(settings)
        print(f"load average (1/5/15 min) at the start: {load()} on {os.cpu_count()} cores")
        if get_dataset(cat, "emoji64") is None:
            t0 = time.monotonic()
            res = build_emoji(config, a.glyphs)
            print(f"built emoji64: {res['counts']['kept']} images kept of {res['counts']['files']} glyphs "
                  f"in {time.monotonic() - t0:.0f}s")
        row = get_dataset(cat, "emoji64")
        print(f"dataset emoji64: {row.count} images at {row.resolution} px\n")

        torch.set_num_threads(1)
        t0 = time.monotonic()
        if a.steps:
            q = finetune(settings, cat, FinetuneConfig(data="emoji64", name="bench-quality", steps=a.steps,
                                                       batch=a.batch, checkpoint_every=a.steps), device="cpu")
            report_quality(q, a.batch, time.monotonic() - t0)
        print(f"speed: steps/s on the CPU (batch {a.batch}, 64 px, {a.speed_steps} steps after a warm-up)")
        print(f"{'threads':>8}{'steps/s':>10}{'images/s':>10}{'ratio':>8}  load before -> after")
        base = None
        for th in a.threads:
            torch.set_num_threads(th)
            before = load()
            cfg = {"data": "emoji64", "batch": a.batch, "checkpoint_every": 10_000,
                   "name": f"bench-speed-{th}-{os.getpid()}"}
            finetune(settings, cat, FinetuneConfig(steps=1, **cfg), device="cpu")  # warm-up
            r = finetune(settings, cat, FinetuneConfig(steps=1 + a.speed_steps, **cfg), device="cpu")
            sps = r["steps_per_second"]
            base = base or sps
            print(f"{th:>8}{sps:>10.2f}{sps * a.batch:>10.1f}{sps / base:>8.2f}  {before} -> {load()}")
        cat.close()


if __name__ == "__main__":
    main()
