"""StyleGAN3 benchmark: frames/s of StyleGAN3-T at 256 px beside StyleGAN2 at 256 px (CPU, batch 1; GPU rows
when torch sees a GPU), and the import of the reference-made fixtures (time, peak memory, max-abs difference).

Networks have random weights in published configurations:
- sg3-t-256-c16k: StyleGAN3-T, 256 px, z/w 512, 2 mapping layers, channel_base 16384 / channel_max 512 (the
  ``--cbase=16384`` of NVIDIA's README for 256 px runs); sg3-t-256-c32k: train.py's default channel_base 32768.
- sg3-r-256: StyleGAN3-R (channel_base 65536, channel_max 1024, 1x1 convolutions, radial filters); only with
  ``--with-r`` (slow on CPU).
- sg2-256-paper256: StyleGAN2 stylegan2-ada "paper256" (channel_base 16384); sg2-256-f: config F (32768).
Each row runs in a fresh subprocess (its peak RSS is its own), warms up with one frame, then times
``--frames`` frames; frames/s is given by wall time and by the process's CPU time (the machine is shared:
the load average is printed beside every row, and the CPU-time rate is the steadier figure).

    .venv/bin/python bench/stylegan3.py [--frames 3] [--threads 1] [--with-r] [--only speed,import]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIX = ROOT / "tests" / "fixtures" / "stylegan3"


def build(name: str):
    from generator.stylegan.model import Generator
    from generator.stylegan.presets import PRESETS
    from generator.stylegan.sg3_model import SG3Config, SG3Generator

    if name == "sg3-t-256-c16k":
        return SG3Generator(SG3Config(resolution=256, channel_base=16384))
    if name == "sg3-t-256-c32k":
        return SG3Generator(SG3Config(resolution=256, channel_base=32768))
    if name == "sg3-r-256":
        return SG3Generator(SG3Config(resolution=256, channel_base=65536, channel_max=1024, conv_kernel=1,
                                      use_radial_filters=True))
    if name == "sg2-256-paper256":
        return Generator(PRESETS["ffhq256-paper256"])
    if name == "sg2-256-f":
        return Generator(PRESETS["ffhq256"])
    raise SystemExit(f"unknown row {name}")


def run_row(name: str, device: str, frames: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    G = build(name).eval().requires_grad_(False).to(device)
    built = time.perf_counter() - t0
    ws = G.mapping(torch.randn(frames + 1, G.z_dim, device=device), truncation_psi=0.7)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    with torch.no_grad():
        G.synthesis(ws[:1], noise_mode="const")
        sync()
        w0, c0 = time.perf_counter(), time.process_time()
        for i in range(1, frames + 1):
            G.synthesis(ws[i:i + 1], noise_mode="const")
        sync()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    params = sum(p.numel() for p in G.parameters())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_peak = torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else None
    return {"row": name, "device": device, "params_M": round(params / 1e6, 1), "build_s": round(built, 1),
            "fps_wall": round(frames / wall, 3), "fps_cpu": round(frames / cpu, 3) if device == "cpu" else None,
            "peak_rss_MiB": round(peak), "gpu_peak_MiB": None if gpu_peak is None else round(gpu_peak),
            "load": [round(x, 1) for x in os.getloadavg()]}


def import_row(variant: str) -> dict:
    import numpy as np
    import torch

    from generator.stylegan.sg3_import import read_sg3

    t0 = time.perf_counter()
    _, G, D, _ = read_sg3(FIX / f"sg3{variant}-64.pkl")
    took = time.perf_counter() - t0
    e = np.load(FIX / f"sg3{variant}-64-expected.npz")
    with torch.no_grad():
        diff = max(float((G.synthesis(torch.from_numpy(e[w])) - torch.from_numpy(e[k])).abs().max())
                   for k, w in (("img1", "ws1"), ("img7", "ws7"), ("imgp", "wplus")))
        dd = float((D(torch.from_numpy(e["img1"])) - torch.from_numpy(e["d1"])).abs().max())
    return {"row": f"import sg3{variant}-64.pkl", "import_s": round(took, 3),
            "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "max_abs_img": diff, "max_abs_D": dd}


def sub(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False,
                         env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    if out.returncode:
        return {"row": args[1], "error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--with-r", action="store_true")
    ap.add_argument("--only", default="speed,import")
    ap.add_argument("--row", help=argparse.SUPPRESS)
    ap.add_argument("--import-row", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    a = ap.parse_args()
    from gallery.machine import print_machine

    print_machine(unless=("--row", "--import-row"))  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    if a.row:
        print(json.dumps(run_row(a.row, a.device, a.frames, a.threads)))
        return
    if a.import_row:
        print(json.dumps(import_row(a.import_row)))
        return
    print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} cores; torch threads {a.threads}")
    only = set(a.only.split(","))
    if "import" in only:
        rows = [sub(["--import-row", v]) for v in ("t", "r")]
        table("import of the reference-made fixtures (64 px, safe reader)",
              ["file", "import s", "peak RSS MiB", "max|img - ref|", "max|D - ref|"],
              [[r["row"], r.get("import_s"), r.get("peak_rss_MiB"), r.get("max_abs_img", r.get("error")),
                r.get("max_abs_D")] for r in rows])
    if "speed" in only:
        import torch

        names = ["sg3-t-256-c16k", "sg2-256-paper256", "sg3-t-256-c32k", "sg2-256-f"] + (
            ["sg3-r-256"] if a.with_r else [])
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        res = {(n, d): sub(["--row", n, "--device", d, "--frames", str(a.frames), "--threads", str(a.threads)])
               for d in devices for n in names}
        rows = []
        for n in names:
            c = res[(n, "cpu")]
            g = res.get((n, "cuda"), {})
            rows.append([n, c.get("params_M"), c.get("fps_wall", c.get("error")), c.get("fps_cpu"),
                         c.get("peak_rss_MiB"), g.get("fps_wall", "" if not g else g.get("error")),
                         g.get("gpu_peak_MiB", ""), c.get("load")])
        table(f"256 px, batch 1, {a.frames} frames after one warm-up (CPU: {a.threads} thread(s))",
              ["network", "params M", "CPU fps (wall)", "CPU fps (cpu time)", "peak RSS MiB", "GPU fps",
               "GPU peak MiB", "load after row"], rows)
        for sg3, sg2 in (("sg3-t-256-c16k", "sg2-256-paper256"), ("sg3-t-256-c32k", "sg2-256-f")):
            x, y = res[(sg3, "cpu")], res[(sg2, "cpu")]
            if x.get("fps_cpu") and y.get("fps_cpu"):
                print(f"{sg3} / {sg2}: {x['fps_cpu'] / y['fps_cpu']:.2f}x the frame rate (CPU time)")
        if len(devices) == 1:
            print("GPU rows empty: torch sees no GPU on this machine")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
