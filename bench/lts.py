"""Latent Timbre Synthesis figures: phase recovery speed and quality beside librosa, VAE reconstruction.

    .venv/bin/python bench/lts.py [--seconds 10] [--threads 2] [--corpus DIR] [--checkpoint PATH]

1. Phase recovery at the reference settings (44.1 kHz, hop 128, 48 bins/octave x 8 octaves = 384 bins)
   on harmonic test audio (notes with eight harmonics, a new pitch every 0.25 s), optionally on a file
   of yours (--audio), and on frames the shipped VAE decodes (what generation actually inverts). Real-time factor =
   seconds of audio per second of compute (wall clock, frames given; our time includes building the
   transform). Spectral convergence (SC) = ||S - |CQT(y)||| / ||S||, in each method's own CQT, and for
   every method also in librosa's CQT against librosa's frames of the original (one yardstick for all).
2. Frame VAE: reconstruction error on the held-out files of the corpus (the checkpoint's own split)
   beside PCA with the same number of dimensions fitted on the same training frames.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/numba-cache")

from generator.datasets.sounds import harmonic_test_audio as harmonic


def compare(spec, S_lib: np.ndarray, S_ours: np.ndarray, n: int, repeats: int, lib_iters=(1, 8, 32),
            ours=(("random", 32), ("locked", 0), ("locked", 1), ("locked", 2), ("locked", 4), ("locked", 8))
            ) -> list[tuple]:
    """librosa's Griffin-Lim on S_lib and our recovery on S_ours (n samples); SC in each CQT and librosa's."""
    import librosa

    from generator.lts import cqt as cqt_mod
    from generator.lts.phase import recover, spectral_convergence

    dur = n / spec.sr
    kw = {"sr": spec.sr, "hop_length": spec.hop, "fmin": spec.fmin, "n_bins": spec.n_bins, "bins_per_octave": spec.bins_per_octave}
    gkw = {k: v for k, v in kw.items() if k != "n_bins"}

    def lib_sc(y: np.ndarray) -> float:
        A = np.abs(librosa.cqt(np.asarray(y, dtype=np.float32)[:n], **kw))[:, : S_lib.shape[1]]
        return float(np.linalg.norm(S_lib - A) / np.linalg.norm(S_lib))

    def best_time(fn) -> tuple[float, object]:
        best, out = float("inf"), None
        for _ in range(repeats):
            cqt_mod.clear_cache()
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        return best, out

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        librosa.griffinlim_cqt(S_lib[:, :300], n_iter=1, **gkw)  # numba warm-up
        for it in lib_iters:
            t, y = best_time(lambda it=it: librosa.griffinlim_cqt(S_lib, n_iter=it, random_state=0, length=n, **gkw))
            sc = lib_sc(y)
            rows.append((f"librosa griffinlim_cqt, {it} it", dur / t, sc, sc))
        for init, it in ours:
            t, y = best_time(lambda init=init, it=it: recover(S_ours, spec, n_iter=it, init=init, seed=0))
            label = f"ours: {'phase-locked init' if init == 'locked' else 'random init'} + {it} FGLA it"
            rows.append((label, dur / t, spectral_convergence(S_ours, y, spec), lib_sc(y)))
        if S_lib.shape[1] == S_ours.shape[1] + 1 and not np.array_equal(S_lib[:, : S_ours.shape[1]], S_ours):
            # our recovery fed librosa's own frames (its last frame is the wrap of the first)
            S_in = np.ascontiguousarray(S_lib[:, : S_ours.shape[1]])
            t, y = best_time(lambda: recover(S_in, spec, n_iter=4, init="locked", seed=0))
            rows.append(("ours on librosa's frames: locked + 4 it", dur / t, float("nan"), lib_sc(y)))
    return rows


def signal_case(x: np.ndarray, spec) -> tuple[np.ndarray, np.ndarray, int]:
    """Frames of a signal in librosa's CQT and ours (length padded to a whole, fast number of frames)."""
    import librosa
    import torch

    from generator.lts import cqt as cqt_mod

    m = cqt_mod.frames_for(len(x), spec.hop)
    n = m * spec.hop
    x = np.pad(x, (0, n - len(x))).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        S_lib = np.abs(librosa.cqt(x, sr=spec.sr, hop_length=spec.hop, fmin=spec.fmin, n_bins=spec.n_bins,
                                   bins_per_octave=spec.bins_per_octave))
    S_ours = cqt_mod.get_cqt(spec, m).magnitude(torch.from_numpy(x)).numpy()
    return S_lib, S_ours, n


def decoded_case(checkpoint: Path, seconds: float) -> tuple:
    """Frames the VAE decodes along a trajectory between two anchors: what generation inverts."""
    from generator.lts import cqt as cqt_mod
    from generator.lts import synth
    from generator.lts.checkpoints import load

    loaded = load(checkpoint)
    names = loaded.anchors["names"]
    a, b = synth.source_latents(loaded, names[0]), synth.source_latents(loaded, names[-1])
    spec = loaded.preset.cqt
    m = cqt_mod.frames_for(int(seconds * spec.sr), spec.hop)
    z = synth.between_trajectory(a.latents, b.latents, np.linspace(0, 1, m))
    S = synth.decode(loaded, z)
    return spec, S, f"{names[0]} -> {names[-1]}", m * spec.hop


def librosa_frames(S: np.ndarray) -> np.ndarray:
    """librosa's CQT of n samples has 1 + n // hop frames: the periodic frames plus the first again."""
    return np.concatenate([S, S[:, :1]], axis=1)


def vae_table(checkpoint: Path, corpus: Path) -> list[tuple]:
    import torch

    from generator.lts.checkpoints import load
    from generator.lts.train import evaluate, load_frames, split_files

    loaded = load(checkpoint)
    info = loaded.info
    files = sorted(corpus.glob("*.wav"))
    by_name = {p.stem: p for p in files}
    names = info["files"]
    missing = [nm for nm in names if nm not in by_name]
    if missing:
        raise SystemExit(f"corpus {corpus} lacks {len(missing)} training files of the checkpoint, e.g. {missing[:3]}")
    fs = load_frames([by_name[nm] for nm in names], loaded.preset, loaded.preset.train.max_frames)
    held = split_files(len(fs.names), loaded.preset.train.held_out)
    test = held[fs.file_index]
    train_x, test_x = fs.frames[~test], fs.frames[test]
    k = loaded.model.latent
    vae_tr, vae_te = evaluate(loaded.model, train_x), evaluate(loaded.model, test_x)
    # PCA with the same number of dimensions, in the same normalised log domain
    with torch.no_grad():
        ytr = loaded.model.normalise(torch.from_numpy(train_x)).double()
        yte = loaded.model.normalise(torch.from_numpy(test_x)).double()
    mu = ytr.mean(0)
    _, _, v = torch.linalg.svd(ytr - mu, full_matrices=False)
    basis = v[:k].T

    def pca_eval(y: torch.Tensor, x: np.ndarray) -> tuple[float, float]:
        rec = (y - mu) @ basis @ basis.T + mu
        mse = float(torch.mean((rec - y) ** 2))
        mag = loaded.model.denormalise(rec.float())
        xt = torch.from_numpy(x)
        return mse, float(torch.linalg.norm(mag - xt) / torch.linalg.norm(xt))

    p_tr, p_te = pca_eval(ytr, train_x), pca_eval(yte, test_x)
    return [(f"frame VAE {loaded.preset.name} ({loaded.preset.cqt.n_bins}->{loaded.model.hidden}->{k})",
             vae_tr["mse"], vae_te["mse"], vae_te["spectral_convergence"], len(test_x)),
            (f"PCA, {k} components", p_tr[0], p_te[0], p_te[1], len(test_x))]


ALL = ((1, 8, 32), (("random", 32), ("locked", 0), ("locked", 1), ("locked", 2), ("locked", 4), ("locked", 8)))
FEW = ((8, 32), (("locked", 0), ("locked", 2), ("locked", 4), ("locked", 8)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="best of N timings")
    ap.add_argument("--checkpoint", type=Path, default=Path(__file__).resolve().parents[1] / "generator/weights/lts/tiny.pt")
    ap.add_argument("--corpus", type=Path, default=None, help="folder of the corpus WAVs the checkpoint was trained on "
                    "(default: build the project corpus under /tmp/lts-bench-corpus)")
    ap.add_argument("--audio", type=Path, default=None, help="also time a sound file of yours")
    ap.add_argument("--skip-vae", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"# torch threads {args.threads}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    from generator.lts.presets import PRESETS

    spec = PRESETS["reference"].cqt
    cases = [(f"{args.seconds:g} s harmonic test audio, reference CQT (384 bins, hop 128, 44.1 kHz)", spec,
              *signal_case(harmonic(int(args.seconds * spec.sr)), spec), ALL)]
    if args.audio is not None:
        from generator.datasets.sounds import read_audio

        x = read_audio(args.audio, spec.sr)[: int(args.seconds * spec.sr)]
        cases.append((f"{args.audio.name} ({len(x) / spec.sr:.1f} s), reference CQT", spec, *signal_case(x, spec), FEW))
    if args.checkpoint.is_file():
        dspec, S, label, n = decoded_case(args.checkpoint, args.seconds)
        cases.append(((f"VAE-decoded frames {label} ({args.checkpoint.name}, {dspec.n_bins} bins), "
                      f"{n / dspec.sr:.1f} s; both methods get the same frames"), dspec, librosa_frames(S), S, n, FEW))
    for title, sp, S_lib, S_ours, n, which in cases:
        print(f"\n## Phase recovery: {title}\n")
        print(f"| {'method':44s} | {'x real time':>11s} | {'SC (own CQT)':>12s} | {'SC (librosa CQT)':>16s} |")
        print(f"|{'-' * 46}|{'-' * 13}|{'-' * 14}|{'-' * 18}|")
        for label, rtf, sc_own, sc_lib in compare(sp, S_lib, S_ours, n, args.repeats, *which):
            print(f"| {label:44s} | {rtf:11.2f} | {sc_own:12.4f} | {sc_lib:16.4f} |", flush=True)
    if args.skip_vae:
        return
    corpus = args.corpus
    if corpus is None:
        from generator.datasets.sounds import build_corpus

        corpus = build_corpus(Path("/tmp/lts-bench-corpus"))[0].parent
    print(f"\n## Frame VAE reconstruction ({args.checkpoint.name}; held-out files of {corpus})\n")
    print(f"| {'model':36s} | {'train MSE':>9s} | {'held-out MSE':>12s} | {'held-out SC':>11s} | {'frames':>7s} |")
    print(f"|{'-' * 38}|{'-' * 11}|{'-' * 14}|{'-' * 13}|{'-' * 9}|")
    for label, tr, te, sc, nf in vae_table(args.checkpoint, corpus):
        print(f"| {label:36s} | {tr:9.4f} | {te:12.4f} | {sc:11.3f} | {nf:7d} |")
    print("\nMSE: per bin, on standardised log1p magnitudes; SC: of the decoded magnitudes.")


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
