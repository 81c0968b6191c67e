"""Importing checkpoints as users have them: per format, import time, peak memory and max-abs difference.

    .venv/bin/python bench/import_formats.py [--repeat 3] [--big-mb 256] [--no-nvidia]

Every row runs in a fresh subprocess; peak memory is the growth of resident memory during the import
(the kernel's peak-RSS mark, reset just before it, minus the RSS then, once torch and the gallery are imported). Rows:

* the reference-written fixtures of tests/fixtures/checkpoints (scripts/fixtures/make_reference_checkpoints.py):
  rosinality ``train.py`` checkpoints (torch zip and pre-1.6 legacy format), a taming VQ checkpoint written
  by PyTorch Lightning 1.0.8 itself (scripts/fixtures/make_lightning_checkpoint.py) and a stylegan2-ada-pytorch snapshot pickle; "max |diff|" is
  against the reference code's own outputs (images of rosinality's g_ema and NVIDIA's G_ema, with D's
  scores; taming's decoded images, and whether the code indices are equal);
* an NVIDIA-layout network pickle at the paper256 size (G, D, G_ema; random weights, written by the
  tests' writer of that layout, not by NVIDIA's code): time and memory only;
* a large plain state dict (``--big-mb``) in torch's zip and legacy formats and as a plain pickle,
  read by :mod:`gallery.safe_load`, beside ``torch.load(weights_only=True)`` on the same zip file
  (the ratio column is ours / torch's time).

The machine is shared: the load average is printed before and after; read ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import pickle
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "checkpoints"
sys.path.insert(0, str(ROOT))


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> float:
    """Reset the kernel's peak-RSS mark (Linux: 5 > /proc/self/clear_refs); the RSS now."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def _case(kind: str, path: str, q: mp.Queue) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from gallery import safe_load
    from generator.stylegan.importers import read_checkpoint
    from generator.vqgan_clip.checkpoints import read_state_dict
    from generator.vqgan_clip.model import build

    base = _reset_peak()
    t0 = time.perf_counter()
    diff, note = float("nan"), ""
    if kind == "rosinality":
        _cfg, G, _D, meta = read_checkpoint(Path(path))
        dt = time.perf_counter() - t0
        ref = np.load(FIXTURES / "rosinality-reference.npz")
        with torch.no_grad():
            diff = float(np.abs(G(torch.from_numpy(ref["z"])).numpy() - ref["images"]).max())
        note = meta["container"]
    elif kind == "taming":
        sd, _arch, _meta = read_state_dict(Path(path))
        from tests.vqgan_clip.test_reference_checkpoints import TAMING_SMALL

        model = build(TAMING_SMALL).eval()
        model.load_state_dict(sd, strict=True)
        dt = time.perf_counter() - t0
        ref = np.load(FIXTURES / "taming-reference.npz")
        with torch.no_grad():
            zq, _, idx = model.quantize(model.encode(torch.from_numpy(ref["x"]) * 2 - 1))
            diff = float(np.abs(model.decode(zq).numpy() - ref["decoded"]).max())
        note = "indices equal" if np.array_equal(idx.reshape(-1).numpy(), ref["indices"].reshape(-1)) else "INDICES DIFFER"
    elif kind == "nvidia-ref":
        _cfg, G, D, meta = read_checkpoint(Path(path))
        dt = time.perf_counter() - t0
        ref = np.load(FIXTURES / "nvidia-ada-reference.npz")
        with torch.no_grad():
            img = G(torch.from_numpy(ref["z"]), truncation_psi=0.7).numpy()
            scores = D(torch.from_numpy(ref["images"])).numpy()
        diff = float(np.abs(img - ref["images"]).max())
        note = f"images; D scores at batch 8 within {np.abs(scores - ref['d_scores']).max():.1e}"
    elif kind == "nvidia":
        _cfg, _G, _D, meta = read_checkpoint(Path(path))
        dt = time.perf_counter() - t0
        note = f"{meta['container']}; no reference code run here (layout only)"
    elif kind == "safe":
        obj = safe_load.read(path).obj
        dt = time.perf_counter() - t0
        note = f"{len(obj)} tensors"
    elif kind == "torch":
        obj = torch.load(path, map_location="cpu", weights_only=True)
        dt = time.perf_counter() - t0
        note = f"{len(obj)} tensors"
    else:
        raise ValueError(kind)
    q.put((dt, _status_mb("VmHWM") - base, diff, note))


def run_case(kind: str, path: Path, repeat: int) -> tuple[float, float, float, str]:
    ctx = mp.get_context("spawn")
    times, mems, out = [], [], None
    for _ in range(repeat):
        q = ctx.Queue()
        p = ctx.Process(target=_case, args=(kind, str(path), q))
        p.start()
        out = q.get(timeout=600)
        p.join()
        times.append(out[0])
        mems.append(out[1])
    times.sort()
    return times[len(times) // 2], max(mems), out[2], out[3]


def _write_nvidia(d: Path) -> Path:
    from generator.stylegan.presets import preset
    from tests.stylegan.nvidia_pickle import write_nvidia_pickle

    return write_nvidia_pickle(d / "paper256.pkl", preset("ffhq256-paper256"), d / "marker")


def _write_big(d: Path, mb: int) -> dict[str, Path]:
    import torch

    g = torch.Generator().manual_seed(0)
    n = mb * 1024 * 1024 // 4 // 64
    sd = {f"layer{i}.weight": torch.randn(n, generator=g) for i in range(64)}
    paths = {"zip": d / "big.pt", "legacy": d / "big-legacy.pt", "pickle": d / "big.pkl"}
    torch.save(sd, paths["zip"])
    torch.save(sd, paths["legacy"], _use_new_zipfile_serialization=False)
    with open(paths["pickle"], "wb") as f:
        pickle.dump(sd, f, protocol=pickle.DEFAULT_PROTOCOL)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big-mb", type=int, default=256)
    ap.add_argument("--no-nvidia", action="store_true")
    args = ap.parse_args()
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (cores: {os.cpu_count()})")
    rows = []
    with tempfile.TemporaryDirectory(prefix="lg-bench-import-") as td:
        d = Path(td)
        cases = [("rosinality train.py (torch zip)", "rosinality", FIXTURES / "rosinality-train-000001.pt"),
                 ("rosinality train.py (torch < 1.6)", "rosinality", FIXTURES / "rosinality-train-legacy.pt"),
                 ("taming, written by Lightning 1.0.8", "taming", FIXTURES / "taming-lightning1.ckpt"),
                 ("NVIDIA pkl by stylegan2-ada (mbstd 8)", "nvidia-ref", FIXTURES / "nvidia-ada-mbstd8.pkl")]
        if not args.no_nvidia:
            cases.append(("NVIDIA pkl, paper256 size", "nvidia", _write_nvidia(d)))
        big = _write_big(d, args.big_mb)
        cases += [(f"{args.big_mb} MB state dict, zip: safe_load", "safe", big["zip"]),
                  (f"{args.big_mb} MB state dict, zip: torch weights_only", "torch", big["zip"]),
                  (f"{args.big_mb} MB state dict, legacy: safe_load", "safe", big["legacy"]),
                  (f"{args.big_mb} MB state dict, plain pickle: safe_load", "safe", big["pickle"])]
        for label, kind, path in cases:
            t, mem, diff, note = run_case(kind, path, args.repeat)
            rows.append((label, path.stat().st_size / 1e6, t, mem, diff, note))
    torch_t = next((r[2] for r in rows if "torch weights_only" in r[0]), None)
    print(f"\n{'format':44s} {'file MB':>8s} {'import s':>9s} {'vs torch':>8s} {'peak +MB':>9s} "
          f"{'max |diff|':>11s}  note")
    for label, size, t, mem, diff, note in rows:
        ratio = f"{t / torch_t:.2f}x" if torch_t and "state dict" in label else ""
        dtxt = f"{diff:.2e}" if diff == diff else "-"
        print(f"{label:44s} {size:8.1f} {t:9.3f} {ratio:>8s} {mem:9.1f} {dtxt:>11s}  {note}")
    print(f"\nload average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; median of {args.repeat} "
          "runs, each in a fresh process; peak = resident memory growth during the import (VmHWM - VmRSS before)")


if __name__ == "__main__":
    main()
