"""Magenta Music-VAE import figures: import time, peak memory and max-abs difference against
TensorFlow's own outputs (the reduced fixtures), then the PUBLISHED sizes (cat-mel_2bar_big,
hierdec-mel_16bar) with random weights built in torch, written as a TF1 checkpoint by the minimal
bundle writer below, imported back, compared, and timed on an 11-step interpolation (goal on CPU:
< 100 ms for 2 bars, < 300 ms for 16 bars).

    .venv/bin/python bench/musicvae_import.py [--threads 2] [--tmp /tmp] [--skip-published]

Each measurement runs in its own process so that peak memory (ru_maxrss) is that of one import.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.musicvae.crc32c import crc32c, mask
from generator.musicvae.magenta import PUBLISHED, MagentaMusicVAE
from generator.musicvae.magenta_import import CELL, ENC, FORGET_BIAS, load_magenta

FIX = ROOT / "tests" / "fixtures" / "musicvae_tf"


# ------------------------------------------------------------------ a minimal TF bundle writer


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body, restarts = bytearray(), []
    for k, v in entries:
        restarts.append(len(body))
        body += _varint(0) + _varint(len(k)) + _varint(len(v)) + k + v
    restarts = restarts or [0]
    body += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(body)


def write_tf_checkpoint(prefix: Path, tensors: dict[str, np.ndarray]) -> None:
    """TF's tensor bundle (one shard, float32, uncompressed index); enough for this benchmark."""
    entries = [(b"", b"\x08\x01\x1a\x02\x08\x01")]  # num_shards 1, version {producer 1}
    offset = 0
    with open(f"{prefix}.data-00000-of-00001", "wb") as f:
        for name in sorted(tensors):
            a = np.ascontiguousarray(tensors[name], dtype="<f4")
            dims = b"".join(b"\x12" + _varint(len(d)) + d for d in (b"\x08" + _varint(s) for s in a.shape))
            proto = (b"\x08\x01" + b"\x12" + _varint(len(dims)) + dims + b"\x20" + _varint(offset)
                     + b"\x28" + _varint(a.nbytes) + b"\x35" + struct.pack("<I", mask(crc32c(a))))
            entries.append((name.encode(), proto))
            f.write(a.tobytes())
            offset += a.nbytes
    out = bytearray()

    def put(block: bytes) -> tuple[int, int]:
        off = len(out)
        out.extend(block + b"\x00" + struct.pack("<I", mask(crc32c(block + b"\x00"))))
        return off, len(block)

    data = put(_block(entries))
    meta = put(_block([]))
    index = put(_block([(entries[-1][0], _varint(data[0]) + _varint(data[1]))]))
    footer = _varint(meta[0]) + _varint(meta[1]) + _varint(index[0]) + _varint(index[1])
    out += footer + b"\x00" * (40 - len(footer)) + struct.pack("<Q", 0xDB4775248B80FB57)
    Path(f"{prefix}.index").write_bytes(bytes(out))


def _to_tf_lstm(w_ih: torch.Tensor, w_hh: torch.Tensor, b: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    h = b.shape[0] // 4
    order = torch.cat([torch.arange(h) + h * blk for blk in (0, 2, 1, 3)])  # (i,f,g,o) <-> (i,j,f,o)
    bias = b.clone()
    bias[h:2 * h] -= FORGET_BIAS
    return torch.cat([w_ih, w_hh], 1)[order].t().numpy(), bias[order].numpy()


def tf_tensors(model: MagentaMusicVAE) -> dict[str, np.ndarray]:
    """The torch model's weights under magenta's variable names and layouts."""
    out: dict[str, np.ndarray] = {}
    enc = model.encoder

    def lstm(prefix, w_ih, w_hh, b):
        out[prefix + "kernel"], out[prefix + "bias"] = _to_tf_lstm(w_ih.detach(), w_hh.detach(), b.detach())

    def dense(prefix, lin):
        out[prefix + "kernel"] = lin.weight.detach().t().numpy()
        out[prefix + "bias"] = lin.bias.detach().numpy()

    for i in range(len(model.cfg.enc_sizes)):
        for d, s in (("fw", ""), ("bw", "_reverse")):
            lstm(ENC.format(i=i, d=d), getattr(enc, f"weight_ih_l{i}{s}"), getattr(enc, f"weight_hh_l{i}{s}"),
                 getattr(enc, f"bias_ih_l{i}{s}") + getattr(enc, f"bias_hh_l{i}{s}"))
    dense("encoder/mu/", model.mu)
    dense("encoder/sigma/", model.sigma)
    prefix = "decoder/"
    if model.cfg.hierarchical:
        dense("decoder/hierarchical_level_0/initial_state/", model.conductor_init.dense)
        for k in range(len(model.cfg.dec_sizes)):
            lstm("decoder/hierarchical_level_0/" + CELL.format(k=k), model.conductor.w_ih[k], model.conductor.w_hh[k],
                 model.conductor.b[k])
        prefix = "core_decoder/decoder/"
    dense(prefix + "z_to_initial_state/", model.decoder.init.dense)
    for k in range(len(model.cfg.dec_sizes)):
        rnn = model.decoder.rnn
        lstm(prefix + CELL.format(k=k), rnn.w_ih[k], rnn.w_hh[k], rnn.b[k])
    dense(prefix + "output_projection/", model.decoder.out)
    return out


# ------------------------------------------------------------------ measurements (child processes)


def slerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.arccos((an * bn).sum().clamp(-1, 1))
    ts = torch.linspace(0, 1, steps, dtype=a.dtype)
    return torch.stack([(torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega) for t in ts])


def child(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, _ = load_magenta(args.path, args.config)
    res = {"import_s": time.perf_counter() - t0}
    rng = np.random.default_rng(0)
    mel = torch.as_tensor(rng.integers(0, 90, (2, model.steps)))
    with torch.no_grad():
        if args.expected:
            e = np.load(args.expected)
            mu, sigma = model.encode_sigma(torch.as_tensor(e["events"]))
            ids, logits = model.run(torch.as_tensor(e["z"]))
            res["max_abs"] = max(float(np.abs(mu.numpy() - e["mu"]).max()), float(np.abs(sigma.numpy() - e["sigma"]).max()),
                                 float(np.abs(logits.numpy() - e["greedy_logits"]).max()))
            res["greedy_equal"] = bool((ids.numpy() == e["greedy_ids"]).all())
        if args.source:
            ref = torch.load(args.source, weights_only=True)
            mu, _ = model.encode_sigma(ref["events"])
            _, logits = model.run(ref["z"])
            res["max_abs"] = max(float((mu - ref["mu"]).abs().max()), float((logits - ref["logits"]).abs().max()))
        times, cpu = [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            mu, _ = model.encode_sigma(mel)
            model.decode(slerp(mu[0], mu[1], 11))
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        res["interp_ms"] = 1000 * statistics.median(times)
        res["interp_cpu_ms"] = 1000 * statistics.median(cpu)  # CPU time of all threads: less load-dependent
        t, c = time.perf_counter(), time.process_time()
        model.decode(slerp(mu[0], mu[1], 11))
        res["decode_only_ms"] = 1000 * (time.perf_counter() - t)
        res["decode_only_cpu_ms"] = 1000 * (time.process_time() - c)
    res["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def run_child(path: Path, config: str, threads: int, repeats: int, expected: Path | None = None,
              source: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path), "--config", config, "--threads", str(threads),
           "--repeats", str(repeats)]
    cmd += ["--expected", str(expected)] if expected else []
    cmd += ["--source", str(source)] if source else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def published(config: str, tmp: Path, threads: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = MagentaMusicVAE(PUBLISHED[config])
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 1.0 / np.sqrt(p.shape[-1]) if p.dim() > 1 else 0.3)
        z = torch.randn(2, model.cfg.latent)
        events = torch.as_tensor(np.random.default_rng(1).integers(0, 90, (2, model.steps)))
        mu, _ = model.encode_sigma(events)
        _, logits = model.run(z)
    t = time.perf_counter()
    tensors = tf_tensors(model)
    del model
    prefix = tmp / config / "model.ckpt"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    write_tf_checkpoint(prefix, tensors)
    size = sum(a.nbytes for a in tensors.values())
    del tensors
    write_s = time.perf_counter() - t
    torch.save({"events": events, "z": z, "mu": mu, "logits": logits}, tmp / f"{config}.ref.pt")
    res = run_child(prefix, config, threads, repeats, source=tmp / f"{config}.ref.pt")
    return res | {"file_mib": size / 2**20, "write_s": write_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", type=Path)
    ap.add_argument("--config", default="cat-mel_2bar_big")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--expected", type=Path)
    ap.add_argument("--source", type=Path)
    ap.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--skip-published", action="store_true")
    ap.add_argument("--published-repeats", type=int, default=3)
    ap.add_argument("--only", choices=list(PUBLISHED), help="published size: this config only")
    args = ap.parse_args()
    from gallery.machine import print_machine

    print_machine(unless=("--child",))  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    if args.child:
        args.path = args.child
        print(json.dumps(child(args)))
        return
    print(f"load average {os.getloadavg()[0]:.2f} / {os.cpu_count()} CPUs; torch threads {args.threads}")
    rows = []
    for config in PUBLISHED:
        for fmt, sub in (("TF1", config), ("magenta-js", config + "-js")):
            r = run_child(FIX / sub, config, args.threads, 5, expected=FIX / f"{config}_expected.npz")
            rows.append([f"{config} reduced ({fmt}) vs TensorFlow", f"{r['import_s'] * 1000:.0f} ms", f"{r['peak_mib']:.0f}",
                         f"{r['max_abs']:.1e}" + ("" if r["greedy_equal"] else " (greedy differs!)"),
                         f"{r['interp_ms']:.1f} ({r['interp_cpu_ms']:.0f} CPU)", "-"])
    if not args.skip_published:
        with tempfile.TemporaryDirectory(dir=args.tmp) as d:
            goals = {"cat-mel_2bar_big": 100, "hierdec-mel_16bar": 300}
            for config in [args.only] if args.only else PUBLISHED:
                r = published(config, Path(d), args.threads, args.published_repeats)
                rows.append([f"{config} PUBLISHED size ({r['file_mib']:.0f} MiB)", f"{r['import_s']:.2f} s",
                             f"{r['peak_mib']:.0f}", f"{r['max_abs']:.1e}",
                             f"{r['interp_ms']:.0f} ({r['interp_cpu_ms']:.0f} CPU)",
                             f"{goals[config]} ms: {'met' if r['interp_ms'] < goals[config] else 'NOT met'}"])
                print(f"  ({config}: written in {r['write_s']:.1f} s; {json.dumps(r)})", flush=True)
    header = ["model", "import", "peak MiB", "max-abs diff", "11-step interp ms (CPU ms)", "goal"]
    cells = [header] + rows
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    for j, r in enumerate(cells):
        print("  " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
        if j == 0:
            print("  " + "-+-".join("-" * w for w in widths))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
