"""StyleGAN on your own images (`gallery train stylegan --data`): ADA against none at small data sizes,
transfer against scratch, training speed on CPU.

At 64 px, on seeded subsets of 200, 1,000 and all images of a registered dataset (by default ``emoji64``:
``gallery dataset emoji --name emoji64 --resolution 64``):

- ada:      KID after the same number of images shown (``--kimg`` thousand), with ADA and without
            (the paper's headline: ADA wins when data is scarce);
- transfer: on the largest subset, from the shipped ``tiny-faces64`` (``--source``) against from scratch:
            KID every ``--kimg / --chunks`` thousand images (a run continued in chunks is the same run, bit
            for bit), and the images shown until the transfer run reaches the scratch run's final KID;
- speed:    training images/s on CPU with 1 and 2 threads (ADA on, p = 0.5: the augmentations cost too).

KID here: against up to ``--kid-images`` images of the *whole* dataset (not the subset trained on), on the
tiny CLIP's image features (generator.stylegan.kid), x 1e3; comparable between these runs only.
(Their runs are short: ``--ada-kimg`` sets how fast p may move; with the default 20, p hardly moves in
runs of a few kimg; pass about ``--kimg / 4`` to let ADA act within a short run.)

    .venv/bin/python bench/stylegan_data.py -c config.yaml [--dataset emoji64] [--kimg 2] [--only ada,transfer,speed]

The machine load (os.getloadavg) is printed with every table: on a shared CPU the speeds are noisy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from generator.stylegan.model import Generator
from generator.stylegan.presets import StyleGANConfig
from generator.stylegan.train_data import DataOptions, train_on_data
from generator.stylegan.transfer import data_config


class Subset:
    """The first ``n`` of a seeded permutation of a dataset, with ImageDataset's reading interface."""

    def __init__(self, ds: Any, n: int, seed: int = 0) -> None:
        self.ds, self.folder, self.resolution = ds, ds.folder, ds.resolution
        self.pick = np.sort(np.random.default_rng(seed).permutation(len(ds))[:n])
        self.index = {**ds.index, "data_sha256": f"{ds.index['data_sha256']}[subset {n} seed {seed}]"}

    def __len__(self) -> int:
        return len(self.pick)

    def batch(self, indices: Any) -> np.ndarray:
        return self.ds.batch(self.pick[np.asarray(indices, np.int64)])


def load_avg() -> str:
    a, b, c = os.getloadavg()
    return f"load {a:.2f} {b:.2f} {c:.2f} on {os.cpu_count()} cores"


class Judge:
    """KID of a run's G_ema against the whole dataset."""

    def __init__(self, ds: Any, n: int) -> None:
        from generator.stylegan.kid import KidFeatures

        self.f = KidFeatures("cpu")
        self.n = n
        pick = np.sort(np.random.default_rng(123).choice(len(ds), min(n, len(ds)), replace=False))
        self.real = np.concatenate([self.f.of_uint8(ds.batch(pick[i:i + 256])) for i in range(0, len(pick), 256)])

    def __call__(self, checkpoint: Path) -> float:
        from generator.stylegan.kid import kid

        s = torch.load(checkpoint, map_location="cpu", weights_only=True)
        G = Generator(StyleGANConfig.from_dict(s["config"])).eval()
        G.load_state_dict(s["G_ema"])
        g = torch.Generator().manual_seed(7)
        feats = []
        with torch.no_grad():
            for i in range(0, self.n, 100):
                z = torch.randn([min(100, self.n - i), s["config"]["z_dim"]], generator=g)
                feats.append(self.f.of_tensor(G(z, noise_mode="const")))
        return kid(np.concatenate(feats), self.real, subsets=20, subset_size=1000)


def steps_for(kimg: float, batch: int) -> int:
    return max(1, round(kimg * 1000 / batch))


QUIET = {"kid_every_s": 0.0, "grid_every_s": 1e9, "checkpoint_every_s": 1e9}


def bench_ada(ds: Any, sizes: list[int], args: argparse.Namespace, judge: Judge, work: Path) -> None:
    steps = steps_for(args.kimg, data_config(64).batch)
    print(f"\n## ADA vs none: KID x1e3 after {args.kimg} kimg ({steps} steps), lower is better ({load_avg()})")
    print("| images | no ADA | ADA | ADA final p | ADA / none |\n|---:|---:|---:|---:|---:|")
    for n in sizes:
        sub = Subset(ds, n)
        row = {False: (float("nan"), float("nan")), True: (float("nan"), float("nan"))}
        for ada in args.variants:
            r = train_on_data(sub, f"subset{n}", work / f"ada{int(ada)}-{n}",
                              DataOptions(steps=steps, ada=ada, ada_kimg=args.ada_kimg, seed=args.seed, **QUIET))
            row[ada] = (judge(r.checkpoint) * 1e3, r.ada_p)
        print(f"| {n} | {row[False][0]:.2f} | {row[True][0]:.2f} | {row[True][1]:.3f} | "
              f"{row[True][0] / row[False][0]:.2f} |", flush=True)


def bench_transfer(ds: Any, n: int, args: argparse.Namespace, judge: Judge, work: Path) -> None:
    from generator.stylegan.transfer import transfer_source

    src = transfer_source(args.source, 64)
    batch = src.cfg.batch
    total = steps_for(args.kimg, batch)
    cuts = sorted({max(1, round(total * (i + 1) / args.chunks)) for i in range(args.chunks)})
    curves: dict[str, list[tuple[float, float]]] = {}
    for label, source in (("scratch", None), (f"from {args.source}", src)):
        run = work / f"transfer-{label.replace(' ', '_')}"
        curve = []
        for i, cut in enumerate(cuts):
            opts = DataOptions(steps=cut, seed=args.seed, ada_kimg=args.ada_kimg, **QUIET)
            r = train_on_data(Subset(ds, n), f"subset{n}", run, opts, source=source if i == 0 else None, cont=i > 0)
            curve.append((r.images_seen / 1000, judge(r.checkpoint) * 1e3))
        curves[label] = curve
    target = curves["scratch"][-1][1]
    print(f"\n## Transfer vs scratch on {n} images: KID x1e3 by kimg ({load_avg()})")
    print("| kimg | " + " | ".join(curves) + " |\n|---:|" + "---:|" * len(curves))
    for i in range(len(cuts)):
        print(f"| {curves['scratch'][i][0]:.2f} | " + " | ".join(f"{c[i][1]:.2f}" for c in curves.values()) + " |")
    tr = curves[f"from {args.source}"]
    reach = next((k for k, v in tr if v <= target), None)
    print(f"scratch's final KID {target:.2f} after {curves['scratch'][-1][0]:.2f} kimg; the transfer run reaches it "
          + (f"after {reach:.2f} kimg ({reach / curves['scratch'][-1][0]:.2f} x the images)" if reach is not None
             else "not within the run"))


def bench_speed(ds: Any, args: argparse.Namespace, work: Path) -> None:
    print(f"\n## Training speed on CPU, ADA at p = 1 (every augmentation, the worst case), 64 px, batch "
          f"{data_config(64).batch} ({load_avg()})")
    print("| threads | images/s | vs 1 thread |\n|---:|---:|---:|")
    base = None
    for threads in (1, 2):
        torch.set_num_threads(threads)
        # warm-up: 4 steps (one ADA interval) with a target every r_t exceeds and a fast ada_kimg: p = 1
        run = work / f"speed{threads}"
        train_on_data(ds, "speed", run, DataOptions(steps=4, ada_target=-1.0, ada_kimg=1e-3, seed=args.seed, **QUIET))
        t = time.perf_counter()
        r = train_on_data(ds, "speed", run, DataOptions(steps=4 + args.speed_steps, **QUIET), cont=True)
        assert r.ada_p == 1.0
        rate = (r.images_seen - 4 * data_config(64).batch) / (time.perf_counter() - t)
        base = base or rate
        print(f"| {threads} | {rate:.1f} | {rate / base:.2f} |", flush=True)
    torch.set_num_threads(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-c", "--config", type=Path, default=None)
    ap.add_argument("--dataset", default="emoji64")
    ap.add_argument("--kimg", type=float, default=2.0, help="thousands of images shown per run")
    ap.add_argument("--ada-kimg", type=float, default=20.0, help="ADA speed: kimg for p to go 0 -> 1")
    ap.add_argument("--chunks", type=int, default=4, help="KID measurements along the transfer runs")
    ap.add_argument("--sizes", default="200,1000,all")
    ap.add_argument("--ada-variants", default="none,ada",
                    help="which of the ADA table's runs to make (none, ada or both): two processes, one each, use "
                         "both cores for a long comparison")
    ap.add_argument("--kid-images", type=int, default=1000)
    ap.add_argument("--source", default="tiny-faces64")
    ap.add_argument("--speed-steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="ada,transfer,speed")
    args = ap.parse_args()
    args.variants = [{"none": False, "ada": True}[v.strip()] for v in args.ada_variants.split(",")]
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    from catalogue import open_catalogue
    from gallery.config import load_settings
    from generator.stylegan.cli_data import open_dataset

    torch.set_num_threads(1)
    settings = load_settings(args.config)
    cat = open_catalogue(settings)
    ds = open_dataset(settings, cat, args.dataset)
    sizes = [len(ds) if s == "all" else min(int(s), len(ds)) for s in args.sizes.split(",")]
    print(f"# StyleGAN on {args.dataset!r}: {len(ds)} images at {ds.resolution} px; {args.kimg} kimg per run; "
          f"torch {torch.__version__}; {load_avg()}")
    only = set(args.only.split(","))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-stylegan-data-") as td:
        work = Path(td)
        judge = Judge(ds, args.kid_images) if only & {"ada", "transfer"} else None
        if "ada" in only:
            bench_ada(ds, sizes, args, judge, work)
        if "transfer" in only:
            bench_transfer(ds, max(sizes), args, judge, work)
        if "speed" in only:
            bench_speed(ds, args, work)
    print(f"\n{time.perf_counter() - t0:.0f} s in all; {load_avg()}")


if __name__ == "__main__":
    main()
