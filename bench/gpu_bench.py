"""The GPU figures of issue 28, one section per call (bench/gpu_check.sh runs them all, within minutes).

    .venv/bin/python bench/gpu_bench.py stylegan  [--preset ffhq1024] [--frames 120] [--batch 1]
    .venv/bin/python bench/gpu_bench.py vqclip    [--size 512] [--cutouts 64] [--iters 10]
    .venv/bin/python bench/gpu_bench.py train     [--preset ffhq256] [--steps 20]
    .venv/bin/python bench/gpu_bench.py show      [--size 3840x2160] [--frames 240]
    add --dry-run to any: the same code on the CPU at tiny sizes (it checks the script, measures nothing)

stylegan: frames/s of the synthesis network at batch 1 (random weights, truncation 0.7, uint8 frames
copied back to the host as a live show would), the batch-1 fast path measured for this GPU.
vqclip:   seconds per iteration (and it/s) of ours (generator.vqgan_clip.loop.run_loop, bf16 CLIP
          autocast on CUDA) beside the reference-style notebook loop (bench/vqclip_bench/speed.py's),
          f16-16384 + ViT-B-32 random weights, each in a fresh process; peak GPU memory.
train:    StyleGAN2 training kimg/s (generator.stylegan.train.train, random data set of the preset).
show:     the show's GL crossfade and video playback frame times at 4K (installation.render, offscreen).
Every section prints the machine line (gallery.machine) and one JSON line of results at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _device(dry: bool):
    import torch

    if dry:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --dry-run to check the script on the CPU")
    return torch.device("cuda")


def _sync(dev) -> None:
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize()


def stylegan(a: argparse.Namespace) -> dict:
    import torch

    from generator.stylegan import model as sgm
    from generator.stylegan.presets import StyleGANConfig, preset

    dev = _device(a.dry_run)
    cfg = (StyleGANConfig(resolution=32, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32)
           if a.dry_run else preset(a.preset))
    torch.manual_seed(0)
    G = sgm.Generator(cfg).eval().requires_grad_(False).to(dev)
    z = torch.randn(a.frames + a.batch, G.z_dim, generator=torch.Generator().manual_seed(1)).to(dev)
    with torch.no_grad():
        sgm.to_uint8(G(z[:a.batch], truncation_psi=0.7))  # warm-up: cuDNN, the batch-1 calibration
        _sync(dev)
        t = time.perf_counter()
        for i in range(0, a.frames, a.batch):
            sgm.to_uint8(G(z[i:i + a.batch], truncation_psi=0.7))  # to the host: what a live show needs
        _sync(dev)
        dt = time.perf_counter() - t
    applied = getattr(G.synthesis, "_batch1_applied", None)
    return {"section": "stylegan", "resolution": cfg.resolution, "batch": a.batch, "frames": a.frames,
            "fps": a.frames / dt, "goal_fps": 60, "batch1_fast_path": applied[1] if applied else None,
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None}


def vqclip_one(size: int, style: str, iters: int, cutouts: int, dry: bool) -> dict:
    """One loop in this (fresh) process: seconds per iteration after one warm-up iteration."""
    import torch

    from bench.vqclip_bench import speed as S
    from generator.vqgan_clip import loop as L

    dev = _device(dry)
    if style == "reference":
        S._reference_style_modules()
    if dry:
        vq, clip, _ = S._models(64)
    else:
        from generator.vqgan_clip.clip import create_model, encoder_from_model
        from generator.vqgan_clip.model import build
        from generator.vqgan_clip.presets import VQGAN_ARCHS

        torch.manual_seed(0)
        vq = build(VQGAN_ARCHS["f16_16384"]).eval()
        clip = encoder_from_model(create_model("ViT-B-32", seed=0), "ViT-B-32", "random", dev)
    vq = vq.to(dev).requires_grad_(False)
    from generator.vqgan_clip.prompts import parse_story

    if style == "ours":
        def params(n: int) -> L.LoopParams:
            return L.LoopParams(phases=parse_story("a red circle"), iterations=n, width=size, height=size,
                                cutouts=cutouts, snapshots=[], lr=0.1, seed=0)

        L.run_loop(params(1), vq, clip, device=dev)
        _sync(dev)
        t = time.perf_counter()
        r = L.run_loop(params(iters), vq, clip, device=dev)
        _sync(dev)
        dt, extra = time.perf_counter() - t, {"fast_paths": r.fast_paths}
    else:  # the notebook loop (bench/vqclip_bench/speed.py's reference-style), on the same models and device
        g = torch.Generator().manual_seed(0)
        f = vq.downsample_factor
        idx = torch.randint(0, vq.n_embed, (1, size // f, size // f), generator=g).to(dev)
        z = vq.quantize.lookup(idx).requires_grad_(True)
        tgt = torch.nn.functional.normalize(clip.text_features(["a red circle"]).float(), dim=-1).detach().to(dev)
        opt = torch.optim.Adam([z], lr=0.1)
        for i in range(iters + 1):
            if i == 1:
                _sync(dev)
                t = time.perf_counter()
            zq = vq.quantize.lookup(vq.quantize.codes(z))
            img = L.to_image(vq.decode(z + (zq - z).detach()))
            cuts = S._reference_cutouts(img, cutouts, clip.image_size, 1.0, g)
            loss = L.spherical_distance(clip.image_features(cuts, resize=False).float(), tgt).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(dev)
        dt, extra = time.perf_counter() - t, {}
    peak = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None
    return {"style": style, "s_per_it": dt / iters, "it_per_s": iters / dt, "peak_gib": peak, **extra}


def vqclip(a: argparse.Namespace) -> dict:
    size, cutouts = (64, 4) if a.dry_run else (a.size, a.cutouts)
    rows = {}
    for style in ("reference", "ours"):
        cmd = [sys.executable, __file__, "_vqclip_one", str(size), style, str(a.iters), str(cutouts),
               "1" if a.dry_run else "0"]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
        if res.returncode:
            print(res.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"vqclip {style} failed")
        rows[style] = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"  {style:<10} {rows[style]['s_per_it']:.3f} s/it ({rows[style]['it_per_s']:.2f} it/s), "
              f"peak {rows[style]['peak_gib']} GiB", flush=True)
    return {"section": "vqclip", "size": size, "cutouts": cutouts, "iters": a.iters, **rows,
            "speedup": rows["reference"]["s_per_it"] / rows["ours"]["s_per_it"], "goal_speedup": 2.0}


def train(a: argparse.Namespace) -> dict:
    from generator.stylegan.train import train as run_train

    dev = _device(a.dry_run)
    name = "tiny-faces64" if a.dry_run else a.preset
    steps = 2 if a.dry_run else a.steps
    with tempfile.TemporaryDirectory() as d:
        size = 64 if a.dry_run else 512
        run_train(name, Path(d), steps=2, dataset_size=size, device=dev)  # warm-up: data set, cuDNN, allocator
        _sync(dev)
        t = time.perf_counter()
        r = run_train(name, Path(d), steps=2 + steps, resume=True, device=dev)
        _sync(dev)
        dt = time.perf_counter() - t
    from generator.stylegan.presets import preset

    imgs = steps * preset(name).batch
    return {"section": "train", "preset": name, "steps": steps, "batch": preset(name).batch,
            "kimg_per_s": imgs / 1000 / dt, "images_per_s": imgs / dt, "final_step": r.step,
            "note": "includes the checkpoint and sample grid written at the end"}


def show(a: argparse.Namespace) -> dict:
    import numpy as np

    from bench.installation_bench import crossfades
    from bench.installation_bench import show as show_bench

    w, h = (320, 180) if a.dry_run else tuple(int(v) for v in a.size.lower().split("x"))
    frames = 10 if a.dry_run else a.frames
    for mod in (crossfades, show_bench):  # the benches draw at their module's screen size
        mod.W, mod.H = w, h
    off, err = crossfades.crossfades_offscreen(frames)
    out = {"section": "show", "size": f"{w}x{h}", "frames": frames, "goal_fps": 60, "crossfade": {}, "video": {}}
    for name, (wall, _cpu) in off.items():
        out["crossfade"][name] = {"p50_ms": float(np.percentile(np.array(wall) * 1000, 50)),
                                  "fps": len(wall) / float(np.sum(wall)), "max_error": err.get(name)}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "v.mp4"
        show_bench.make_video(path, (w, h), seconds=max(2.0, frames / 60 + 1), fps=60)
        for name, (times, late) in show_bench.gl_videos(path, frames, {"exact": False}, fps=60.0).items():
            out["video"][name] = {"p50_ms": float(np.percentile(np.array(times) * 1000, 50)),
                                  "fps_drawing": len(times) / float(np.sum(times)), "late_frames": late}
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_vqclip_one":
        size, style, iters, cutouts, dry = sys.argv[2:7]
        print(json.dumps(vqclip_one(int(size), style, int(iters), int(cutouts), dry == "1")))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("section", choices=["stylegan", "vqclip", "train", "show"])
    ap.add_argument("--dry-run", action="store_true", help="the same code on the CPU at tiny sizes")
    ap.add_argument("--preset", default=None)
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", default=None)
    ap.add_argument("--cutouts", type=int, default=64)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    a = ap.parse_args()
    defaults = {"stylegan": {"preset": "ffhq1024", "frames": 120}, "train": {"preset": "ffhq256"},
                "vqclip": {"size": "512"}, "show": {"size": "3840x2160", "frames": 240}}
    for k, v in defaults.get(a.section, {}).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.section == "vqclip":
        a.size = int(a.size)
    if a.dry_run:
        a.frames = min(a.frames or 4, 4) if a.section == "stylegan" else a.frames
        a.iters = min(a.iters, 2)
    t = time.perf_counter()
    out = {"stylegan": stylegan, "vqclip": vqclip, "train": train, "show": show}[a.section](a)
    out.update({"dry_run": a.dry_run, "seconds": round(time.perf_counter() - t, 1)})
    print(json.dumps(out))


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine(unless=("_vqclip_one",))  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
