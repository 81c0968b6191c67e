"""Music-VAE figures: held-out reconstruction accuracy of the tiny presets beside the published ones,
interpolation smoothness (latent slerp vs naive event-space crossfade), and the latency of an
11-step 16-bar interpolation on this CPU (goal < 100 ms).

    .venv/bin/python bench/musicvae.py [--data-dir gallery-data] [--pairs 20] [--threads 2]

Held-out windows come from the corpus split by piece (parsed once, cached under data_dir), read the
way each checkpoint was trained (its corpus sources; repeats played out for tiny-16bar). Beside each
model: latent-free baselines (always 'no event', repeat the previous event, repeat the previous bar,
a bigram + bar-position language model) and the same model decoding another melody's z.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PUBLISHED = {2: (0.99, 0.95, "2-bar flat (Roberts et al. 2018)"),
             16: (0.92, 0.81, "16-bar hierarchical (Roberts et al. 2018)")}


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    cells = [header] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for j, r in enumerate(cells):
        print("  " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if j == 0:
            print("  " + "-+-".join("-" * w for w in widths))


def changes(seq: np.ndarray) -> np.ndarray:
    """Events changed between neighbouring steps of an interpolation [S, T]."""
    return (seq[1:] != seq[:-1]).sum(1)


def naive(a: np.ndarray, b: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Event-space crossfade: step t takes b's event at a random fraction t of the positions."""
    order = rng.permutation(len(a))
    out = []
    for t in np.linspace(0, 1, steps):
        take = np.zeros(len(a), dtype=bool)
        take[order[: int(round(t * len(a)))]] = True
        out.append(np.where(take, b, a))
    return np.stack(out)


def towards_b(seq: np.ndarray, b: np.ndarray) -> float:
    """Share of neighbouring steps whose distance to melody b does not grow (steady progress)."""
    d = (seq != b[None]).sum(1)
    return float((d[1:] <= d[:-1]).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-heldout", type=int, default=1000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from gallery.config import load_settings
    from generator.musicvae.jobs import decode_latents, encode_events, interpolation_latents, load_model
    from generator.musicvae.train import baselines, evaluate, evaluate_wrong_z, training_data

    settings = load_settings(None, overrides={"data_dir": args.data_dir} if args.data_dir else None)
    rng = np.random.default_rng(0)
    acc_rows, smooth_rows = [], []
    heldout = {}
    for bars in (2, 16):
        loaded = load_model(settings, bars)
        info = loaded.info
        data, _report = training_data(settings, bars, sources=info.get("sources") or None,
                                     play_repeats=bool(info.get("play_repeats", False)))
        h = data["heldout"]
        if len(h) > args.max_heldout:
            h = h[rng.choice(len(h), args.max_heldout, replace=False)]
        heldout[bars] = h
        t0 = time.perf_counter()
        res = evaluate(loaded.model, h)
        tf, smp, name = PUBLISHED[bars]
        acc_rows.append([f"{loaded.preset} ({info.get('steps', '?')} steps, {info.get('train_seconds', '?')} s)",
                         len(h), res["tf_acc"], res["sampled_acc"], name, tf, smp])
        print(f"evaluated {loaded.preset} on {len(h)} held-out windows ({len(data['heldout'])} in all, "
              f"{len(data['train'])} training) in {time.perf_counter() - t0:.1f} s")
        wrong = evaluate_wrong_z(loaded.model, h)
        acc_rows.append([f"  same model, another melody's z ({bars}-bar)", len(h), wrong["tf_acc"],
                         wrong["sampled_acc"], "", "", ""])
        for bname, b in baselines(data["train"], h).items():
            acc_rows.append([f"  baseline: {bname} ({bars}-bar)", len(h), b["tf_acc"], b["sampled_acc"], "", "", ""])
        lat, nai, prog_l, prog_n, gaps = [], [], [], [], []
        for _ in range(args.pairs):
            i, j = rng.choice(len(h), 2, replace=False)
            z = interpolation_latents(loaded, h[i], h[j], 11)
            seq = decode_latents(loaded, z, 0.0, 0)  # 11 decoded steps, ends = reconstructions of a, b
            lat.append(changes(seq))
            prog_l.append(towards_b(seq, seq[-1]))
            gaps.append(((seq[0] != h[i]).sum() + (seq[-1] != h[j]).sum()) / 2)
            nseq = naive(h[i], h[j], 11, rng)
            nai.append(changes(nseq))
            prog_n.append(towards_b(nseq, nseq[-1]))
        for label, ch, pr, gap in (("latent slerp (model)", lat, prog_l, float(np.mean(gaps))),
                                   ("naive event crossfade", nai, prog_n, 0.0)):
            c = np.concatenate(ch)
            smooth_rows.append([f"{bars}-bar {label}", float(c.mean()), int(c.max()),
                                float(np.mean([x.sum() for x in ch])), float(np.mean(pr)), gap])

    table("Held-out reconstruction accuracy (per 16th-note step, z = encoder mean; sampled = greedy free-running)",
          ["model", "windows", "teacher-forced", "sampled", "published", "pub. TF", "pub. sampled"], acc_rows)
    table(f"Interpolation smoothness: {args.pairs} held-out pairs, 11 steps (events changed between neighbours;"
          " end gap: events by which the model's ends differ from the real melodies)",
          ["interpolation", "mean changed/step", "max changed/step", "total changed", "steady progress",
           "end gap (events)"],
          smooth_rows)

    from generator.musicvae.train import ATTRIBUTES

    attr_rows = []
    for bars in (2, 16):
        loaded = load_model(settings, bars)
        h = heldout[bars][:: max(1, len(heldout[bars]) // 100)][:100]
        mu = torch.as_tensor(encode_events(loaded, h), dtype=torch.float32)
        for name, fn in ATTRIBUTES.items():
            if name not in loaded.attributes:
                continue
            row = [f"{bars}-bar {name}", len(h)]
            for amount in (-2, -1, 0, 1, 2):
                ev = loaded.model.decode(mu + amount * loaded.attributes[name], 0.0).numpy()
                row.append(float(np.mean([fn(e) for e in ev])))
            attr_rows.append(row)
    table("Attribute vectors: mean attribute of held-out melodies decoded from z + k * vector "
          "(density: onsets per bar; pitch: mean MIDI pitch)",
          ["attribute", "melodies", "k=-2", "k=-1", "k=0", "k=+1", "k=+2"], attr_rows)

    loaded = load_model(settings, 16)
    a, b = heldout[16][0], heldout[16][1]
    lat_rows = []
    for label, batched in (("batched (one decode of 11 codes)", True), ("one code at a time", False)):
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            z = interpolation_latents(loaded, a, b, 11)
            if batched:
                decode_latents(loaded, z, 0.0, 0)
            else:
                for k in range(11):
                    decode_latents(loaded, z[k:k + 1], 0.0, 0)
            times.append((time.perf_counter() - t0) * 1000)
        lat_rows.append([label, statistics.median(times), min(times), "yes" if statistics.median(times) < 100 else "no"])
    table(f"Latency of an 11-step 16-bar interpolation (encode 2 + slerp + greedy decode), {args.threads} threads, ms",
          ["decoding", "median ms", "best ms", "< 100 ms"], lat_rows)


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
