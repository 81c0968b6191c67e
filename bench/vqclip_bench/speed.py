"""speed: one loop iteration of ours against the reference-style (notebook) loop, each configuration in a
fresh subprocess (``bench/vqclip.py _speed_one ...``), wall seconds per phase, CPU and peak memory."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ENTRY = Path(__file__).resolve().parents[1] / "vqclip.py"  # the script each measured subprocess runs
REFERENCE_S_PER_IT = 4.86  # nerdyrodent/VQGAN-CLIP at 256x256, f16-16384 + ViT-B-32, 32 cutouts, this machine
REFERENCE_PEAK_GIB = 4.6

def _reference_cutouts(img, n: int, size: int, cut_pow: float, g):
    """The notebook way: per-cutout slice + adaptive pooling, then kornia augmentations."""
    import kornia.augmentation as K
    import torch
    import torch.nn.functional as F

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


def _bmm_attention(self, x):
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

    from generator.vqgan_clip import model as M

    M.AttnBlock.forward = _bmm_attention
    M.Conv2d.forward = nn.Conv2d.forward
    def norm_swish(norm: nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
        h = norm(x)
        return h * torch.sigmoid(h)

    M.norm_swish = norm_swish


def _models(size: int):
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
    from generator.vqgan_clip import loop as L

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
        ckpt = r.fast_paths["checkpoint_levels"]
        out["cl"] = int(r.fast_paths["channels_last"])  # chosen per machine (generator.vqgan_clip.fastpaths)
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
        out["cl"] = 0
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
                cmd = [sys.executable, str(ENTRY), "_speed_one", str(size), style, str(args.iters), str(args.cutouts),
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
          f"alternating runs of each loop; CPU = process CPU seconds per iteration; peak = max resident set; "
          f"cl / ckpt = decoder channels-last / levels recomputed (ours: measured per machine, see docs/performance.md)")
    print(f"load average (1/5/15 min) before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print(f"{'size':>5} {'loop':<12} {'decode':>7} {'cutouts':>8} {'CLIP':>7} {'backward':>9} {'s/it':>7} "
          f"{'CPU s/it':>9} {'peak GiB':>9} {'cl':>3} {'ckpt':>5}  models")
    for r in rows:
        print(f"{r['size']:>5} {r['style']:<12} {r['decode']:7.3f} {r['cutouts']:8.3f} {r['clip']:7.3f} "
              f"{r['backward']:9.3f} {r['total']:7.3f} {r['cpu']:9.3f} {r['peak_gib']:9.2f} {r['cl']:>3} {r['ckpt']:>5}  {r['models']}")
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
