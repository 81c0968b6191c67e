"""StyleGAN benchmark: training throughput, walk rendering speed and memory, tiny-model quality, uncanny.

Sections (``--only`` picks some):
- train:   images/s of the training loop (tiny-faces64), 1 thread vs 2 threads (the obvious default).
- walk:    frames/s of rendering a walk at 64 px (tiny, shipped weights) and 256 px (FFHQ-256 config:
           style 512, 8 mapping layers, channel multiplier 2; random weights), batch 1 and 8, each in a
           fresh subprocess for its peak memory (ru_maxrss). Ours ("scale input, one shared conv, scale
           output"; at batch > 1 the large late blocks run one image at a time) side by side with the
           obvious alternative, rosinality's fused grouped convolution (per-sample weights, groups=batch,
           the whole batch through every block), and ours batched throughout ("ours-batched"). Issue goals
           at 256: >= 1.5 x 1.19 img/s at batch 1, >= 2 img/s at batch 8, <= half of 5.4 GiB; tiny walk >= 60 frames/s.
- quality: an attribute classifier trained on real procedural faces; its held-out accuracy; the
           total-variation distance between the attribute distributions of real and generated faces (goal
           <= 0.15) and k-NN (k=3) precision/recall in the classifier's feature space.
- uncanny: the frozen discriminator's mean score per snapshot (it must fall).

    .venv/bin/python bench/stylegan.py [--only train,walk,quality,uncanny] [--quick] [--threads N]
                                       [--models tiny,ffhq256]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
import torch.nn.functional as F

from generator.datasets.faces import ATTRIBUTES, make_faces
from generator.stylegan import model as sgm
from generator.stylegan.checkpoints import SHIPPED, load
from generator.stylegan.presets import preset


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


# ---- the alternative: rosinality-style fused grouped modulated convolution -------------------------------
def grouped_forward(self, x, w, noise_mode="const", gain=1.0):
    n, c, h, wd = x.shape
    styles = self.affine(w)
    weight = self.weight.unsqueeze(0) * styles[:, None, :, None, None]
    weight = weight * (weight.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    out_c = weight.shape[1]
    x = x.reshape(1, n * c, h, wd)
    if self.up == 2:
        wt = weight.transpose(1, 2).reshape(n * c, out_c, 3, 3)
        x = F.conv_transpose2d(x, wt, stride=2, groups=n)
        x = sgm.fir(x, self.resample_filter, (1, 1, 1, 1), gain=4.0)
    else:
        x = F.conv2d(x, weight.reshape(n * out_c, c, 3, 3), padding=1, groups=n)
    x = x.reshape(n, out_c, x.shape[-2], x.shape[-1])
    if noise_mode == "const":
        x = x + self.noise_const * self.noise_strength
    clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
    return sgm.bias_lrelu(x, self.bias, sgm.SQRT2 * gain, clamp)


def walk_worker(which: str, impl: str, batch: int, frames: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    if impl == "grouped":
        sgm.SynthesisLayer.forward = grouped_forward
    if impl in ("grouped", "ours-batched"):  # the whole batch through every block, as rosinality's does
        sgm.SynthesisNetwork.micro_batch_above = 1 << 62
    if which == "tiny":
        G = load(SHIPPED["tiny-faces64"]).G
    else:
        torch.manual_seed(0)
        G = sgm.Generator(preset("ffhq256")).eval().requires_grad_(False)
    z = torch.randn(frames, G.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        G(z[:batch], truncation_psi=0.7)  # warm-up
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, frames, batch):
            G(z[i:i + batch], truncation_psi=0.7)
        dt, dc = time.perf_counter() - t, time.process_time() - c
    applied = getattr(G.synthesis, "_batch1_applied", None)  # batch 1: the variant measured for this machine
    return {"fps": frames / dt, "cpu_fps": frames / dc, "fast": applied[1] if applied and impl == "ours" else "",
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench_walk(quick: bool, threads: int, models: tuple[str, ...] = ("tiny", "ffhq256")) -> None:
    rows = []
    for which, frames in (("tiny", 64 if quick else 256), ("ffhq256", 8 if quick else 16)):
        if which not in models:
            continue
        for batch in (1, 8):
            for impl in ("ours", "ours-batched", "grouped") if batch > 1 else ("ours", "grouped"):
                n = max(frames, batch * 2)
                out = subprocess.run([sys.executable, __file__, "--walk-worker",
                                      json.dumps([which, impl, batch, n, threads])],
                                     capture_output=True, text=True, timeout=1800)
                if out.returncode != 0:
                    rows.append([which, batch, impl, "failed", "", out.stderr.strip().splitlines()[-1][:60]])
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                label = f"{impl} ({r['fast']})" if r.get("fast") else impl
                rows.append([f"{which} ({64 if which == 'tiny' else 256} px)", batch, label, f"{r['fps']:.2f}",
                             f"{r['cpu_fps']:.2f}", f"{r['peak_mib']:.0f}"])
    table(f"walk rendering (truncation 0.7, {threads} thread(s); wall time suffers from other users of the "
          "CPU, CPU time does not; peak = process max RSS; ours (on|off) at batch 1: the variant the calibration "
          "chose, on = shared conv, off = modulated weights)",
          ["model", "batch", "conv", "frames/s wall", "frames per CPU-s", "peak MiB"], rows)


def bench_train(quick: bool) -> None:
    from generator.stylegan.train import train

    rows = []
    steps = 10 if quick else 40
    for threads in (1, 2):
        torch.set_num_threads(threads)
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            train("tiny-faces64", Path(d), steps=2, dataset_size=256)  # warm-up (allocations, mkldnn)
            t = time.perf_counter()
            r = train("tiny-faces64", Path(d), steps=2 + steps, resume=True)
            dt = time.perf_counter() - t
        rows.append(["tiny-faces64", threads, steps, f"{steps / dt:.2f}", f"{(r.images_seen - 16) / dt:.1f}"])
    table("training throughput (batch 8, lazy R1 every 8, includes checkpoint + grid at the end)",
          ["preset", "threads", "steps", "steps/s", "images/s"], rows)


# ---- quality ---------------------------------------------------------------------------------------------
CAT = list(ATTRIBUTES)


class AttrNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 24, 3, 2, 1), torch.nn.ReLU(), torch.nn.Conv2d(24, 48, 3, 2, 1), torch.nn.ReLU(),
            torch.nn.Conv2d(48, 64, 3, 2, 1), torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 3, 1, 1), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())
        self.heads = torch.nn.ModuleList(torch.nn.Linear(256, len(ATTRIBUTES[a])) for a in CAT)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = self.body(x)
        return [h(f) for h in self.heads]


def _prep(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    return F.avg_pool2d(x, 2)  # 32 x 32 is plenty for these attributes


def _predict(net: AttrNet, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    preds, feats = [], []
    with torch.no_grad():
        for i in range(0, len(x), 256):
            f = net.features(x[i:i + 256])
            feats.append(f)
            preds.append(torch.stack([h(f).argmax(1) for h in net.heads], 1))
    return torch.cat(preds).numpy(), torch.cat(feats).numpy()


def knn_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkaanniemi et al. (2019): the share of fakes inside the real manifold (k-NN balls), and vice versa."""
    def radii(x: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        return np.sort(d, axis=1)[:, k]

    def inside(a: np.ndarray, b: np.ndarray, rb: np.ndarray) -> float:
        d = np.linalg.norm(a[:, None] - b[None], axis=2)
        return float((d <= rb[None]).any(axis=1).mean())

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def bench_quality(quick: bool, weights: Path) -> None:
    torch.set_num_threads(1)
    n_train, n_eval = (1500, 500) if quick else (4000, 1000)
    tr = make_faces(n_train, seed=100)
    ev = make_faces(n_eval, seed=101)
    xt, xe = _prep(tr.images), _prep(ev.images)
    yt = torch.stack([torch.from_numpy(tr.labels[a]) for a in CAT], 1)
    torch.manual_seed(0)
    net = AttrNet()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    epochs = 4 if quick else 8
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            outs = net(xt[idx])
            loss = sum(F.cross_entropy(o, yt[idx, j]) for j, o in enumerate(outs))
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    pe, fe = _predict(net, xe)
    acc = {a: float((pe[:, j] == ev.labels[a]).mean()) for j, a in enumerate(CAT)}
    m = load(weights)
    from generator.stylegan.render import render, z_to_ws

    z = torch.randn(n_eval, m.G.z_dim, generator=torch.Generator().manual_seed(7))
    fake = render(m.G, z_to_ws(m.G, z, 1.0), batch=64)
    pf, ff = _predict(net, _prep(fake))
    rows = []
    tvs = []
    for j, a in enumerate(CAT):
        k = len(ATTRIBUTES[a])
        p = np.bincount(pe[:, j], minlength=k) / len(pe)
        q = np.bincount(pf[:, j], minlength=k) / len(pf)
        tv = 0.5 * np.abs(p - q).sum()
        tvs.append(tv)
        rows.append([a, f"{acc[a]:.3f}", f"{tv:.3f}", " ".join(f"{v:.2f}" for v in p), " ".join(f"{v:.2f}" for v in q)])
    prec, rec = knn_precision_recall(fe, ff, 3)
    table(f"quality of tiny-faces64 ({m.meta.get('step')} steps): classifier trained {epochs} epochs on {n_train} "
          f"real faces ({time.perf_counter() - t0:.0f} s); {n_eval} held-out real vs {n_eval} generated (psi 1)",
          ["attribute", "accuracy", "TV(real,gen)", "real distribution", "generated distribution"], rows)
    print(f"mean TV {np.mean(tvs):.3f} (goal <= 0.15), max TV {np.max(tvs):.3f}; "
          f"k-NN (k=3) precision {prec:.3f}, recall {rec:.3f}")


def bench_uncanny(quick: bool, weights: Path) -> None:
    from generator.stylegan.uncanny import amplify

    torch.set_num_threads(1)
    m = load(weights)
    steps = 40 if quick else 120
    snaps = amplify(m.G, m.D, list(range(16)), steps, steps // 8, lr=0.002, batch=8, schedule="even").snapshots
    table(f"uncanny: frozen D's mean score of 16 fixed faces per snapshot (lr 0.002, batch 8, {steps} steps)",
          ["step", "D score"], [[s.step, f"{s.d_score:.3f}"] for s in snaps])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="train,walk,quality,uncanny")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--weights", type=Path, default=SHIPPED["tiny-faces64"],
                    help="tiny weights for quality and uncanny (default: the shipped ones)")
    ap.add_argument("--models", default="tiny,ffhq256", help="walk: which models (tiny, ffhq256)")
    ap.add_argument("--walk-worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.walk_worker:
        print(json.dumps(walk_worker(*json.loads(a.walk_worker))))
        return
    only = set(a.only.split(","))
    if "train" in only:
        bench_train(a.quick)
    if "walk" in only:
        bench_walk(a.quick, a.threads, tuple(a.models.split(",")))
    if "quality" in only:
        bench_quality(a.quick, a.weights)
    if "uncanny" in only:
        bench_uncanny(a.quick, a.weights)


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine(unless=("--walk-worker",))  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
