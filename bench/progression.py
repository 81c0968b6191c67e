"""Progressions that move: figures of issue 20 (the uncanny's snapshots and video, VQGAN+CLIP videos).

- uncanny: one run of the amplified uncanny (shipped tiny-faces64, 8 faces, lr 0.002, batch 8, 200
  steps, 9 snapshots). The fixed faces are rendered at every step; the old schedule (a snapshot every
  25 steps) and the new one (equal shares of the path the faces travel) are read off the same run.
  Printed: the mean change (grey levels, mean absolute difference of the 8 faces) between consecutive
  snapshots, and of the two videos (old: cross-fades of 18 frames between snapshots plus a held
  last snapshot; new: constant speed along the path, 18 frames per snapshot interval) the change
  between consecutive frames: mean, and per quarter of the video, and the share of still frames
  (change below 0.1 grey level), and how straight the motion is (``straightness``). Goal: no snapshot interval after the first below half of the first.
- vqclip: a 200-iteration progression with the shipped tiny models (64x64, 16 cutouts, seed 0): the
  frames of its video (every iteration, and with --stride), against the old slideshow of the four
  snapshots held one second each; per video: frames, seconds at 12 fps, change between consecutive
  frames (mean, 95th percentile, max), the share of still frames and the straightness. Writes the videos' frames as a
  contact sheet PNG under --out for a look.

    .venv/bin/python bench/progression.py [--only uncanny,vqclip] [--out /tmp/progression] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

STILL = 0.1  # grey levels: a frame that changes less than this from the one before stands still


def table(title: str, head: list[str], rows: list[list[object]]) -> None:
    print(f"\n{title}")
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    for r in [head, *rows]:
        print("  ".join(str(x).rjust(n) for x, n in zip(r, w, strict=True)))


def change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def frame_changes(frames: list[np.ndarray]) -> np.ndarray:
    return np.array([change(a, b) for a, b in zip(frames[:-1], frames[1:], strict=True)])


def straightness(frames: list[np.ndarray]) -> str:
    """Mean of |f[t+2] - f[t]| / (|f[t+1] - f[t]| + |f[t+2] - f[t+1]|) over moving frames: 1 when the
    motion goes one way, 0.5 or less when it shimmers back and forth."""
    r = []
    for a, b, c in zip(frames[:-2], frames[1:-1], frames[2:], strict=True):
        den = change(a, b) + change(b, c)
        if den > STILL:
            r.append(change(a, c) / den)
    return f"{np.mean(r):.2f}" if r else "-"


def describe(name: str, frames: list[np.ndarray], fps: int) -> list[object]:
    ch = frame_changes(frames)
    q = np.array_split(ch, 4)
    return [name, len(ch) + 1, f"{(len(ch) + 1) / fps:.1f}", f"{ch.mean():.3f}",
            " / ".join(f"{x.mean():.3f}" for x in q), f"{np.percentile(ch, 95):.2f}", f"{ch.max():.2f}",
            f"{(ch < STILL).mean():.0%}", straightness(frames)]


def to8(fr: np.ndarray) -> np.ndarray:
    return np.clip(fr + 0.5, 0, 255).astype(np.uint8)


def bench_uncanny(quick: bool) -> None:
    from generator.stylegan.checkpoints import SHIPPED, load
    from generator.stylegan.uncanny import along_path, amplify, even_steps

    torch.set_num_threads(1)
    m = load(SHIPPED["tiny-faces64"])
    steps = 80 if quick else 200
    every = steps // 8
    t0 = time.perf_counter()
    run = amplify(m.G, m.D, list(range(8)), steps, every, lr=0.002, batch=8, seed=0)
    secs = time.perf_counter() - t0
    tr = run.trace
    imgs = dict(zip(tr.steps, tr.images, strict=True))
    old = even_steps(steps, every)
    new = [s.step for s in run.snapshots]
    rows = []
    for name, sel in (("old: every 25 steps" if not quick else f"old: every {every}", old), ("new: path", new)):
        ch = [change(imgs[a], imgs[b]) for a, b in zip(sel[:-1], sel[1:], strict=True)]
        rows.append([name, " ".join(map(str, sel)), " ".join(f"{c:.1f}" for c in ch),
                     f"{min(ch[1:]) / ch[0]:.2f}"])
    table(f"uncanny: change between consecutive snapshots (tiny-faces64, 8 faces, {steps} steps, run {secs:.0f} s "
          f"with every step rendered)", ["schedule", "snapshot steps", "mean change", "min later / first"], rows)
    hold, fps = 18, 24
    old_frames: list[np.ndarray] = []
    snaps = [imgs[s].astype(np.float32) for s in old]
    for a, b in zip(snaps, snaps[1:] + [snaps[-1]], strict=True):
        old_frames += [a + (b - a) * (k / hold) for k in range(hold)]
    path = tr.path()
    new_frames = list(along_path(tr.images, path, hold * (len(new) - 1) + 1))
    table("uncanny video: change between consecutive frames (grey levels; 24 fps, 18 frames per snapshot)",
          ["video", "frames", "s", "mean", "by quarter", "p95", "max", "still", "straight"],
          [describe("old cross-fade", [to8(f) for f in old_frames], fps),
           describe("new constant speed", [to8(f) for f in new_frames], fps)])


def bench_vqclip(quick: bool, out: Path, stride: int) -> None:
    import cv2

    from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load
    from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip_file
    from generator.vqgan_clip.jobs import TINY_TV_WEIGHT
    from generator.vqgan_clip.loop import LoopParams, run_loop
    from generator.vqgan_clip.prompts import parse_story

    torch.set_num_threads(1)
    clip = load_clip_file(SHIPPED_CLIP, device="cpu")
    vqgan, _, _ = load(SHIPPED_VQGAN)
    iters = 60 if quick else 200
    snaps = [0, iters // 5, iters // 2, iters]
    frames: list[np.ndarray] = []
    lp = LoopParams(phases=parse_story("a large red circle in the centre on a yellow background"), iterations=iters,
                    snapshots=snaps, seed=0, cutouts=16, tv_weight=TINY_TV_WEIGHT, frame_every=1)
    t0 = time.perf_counter()
    res = run_loop(lp, vqgan, clip, on_frame=lambda it, fr: frames.append(fr))
    secs = time.perf_counter() - t0
    fps = 12
    slideshow = [res.snapshots[s] for s in sorted(res.snapshots) for _ in range(fps)]
    strided = frames[::stride] + ([frames[-1]] if iters % stride else [])
    rows = [describe(f"old slideshow ({len(snaps)} snapshots x 1 s)", slideshow, fps),
            describe("new: every iteration", frames, fps)]
    if stride > 1:
        rows.append(describe(f"new: every {stride} iterations", strided, fps))
    table(f"vqclip video: {iters} iterations at 64x64 (run {secs:.0f} s); change between consecutive frames "
          "(grey levels)", ["video", "frames", "s at 12 fps", "mean", "by quarter", "p95", "max", "still", "straight"],
          rows)
    out.mkdir(parents=True, exist_ok=True)
    pick = frames[:: max(1, len(frames) // 20)][:20]
    sheet = np.concatenate([np.concatenate(pick[r * 10:(r + 1) * 10], axis=1) for r in range(len(pick) // 10)], axis=0)
    sheet = cv2.resize(sheet, (sheet.shape[1] * 2, sheet.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(out / "vqclip-frames.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"every {max(1, len(frames) // 20)}th frame of the new video: {out / 'vqclip-frames.png'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="uncanny,vqclip")
    ap.add_argument("--out", type=Path, default=Path("/tmp/progression-bench"))
    ap.add_argument("--stride", type=int, default=4, help="also the vqclip video of every N-th iteration")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    only = set(a.only.split(","))
    if "uncanny" in only:
        bench_uncanny(a.quick)
    if "vqclip" in only:
        bench_vqclip(a.quick, a.out, a.stride)


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
