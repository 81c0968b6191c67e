"""Curation benchmark: top-50 query latency (p50/p95, one query at a time, as a curator types) and
index build time, for the vector index the gallery uses (faiss: flat below the IVF threshold, IVF
above) beside brute-force numpy, exact faiss flat and hnswlib, on synthetic embeddings.

Synthetic embeddings are clustered (a mixture of Gaussians on the unit sphere, like the embeddings
of a real catalogue, which come in families) at the tiny CLIP's width (96) and ViT-B-32's (512).
Queries are held-out points near the data (as text embeddings land near matching images). Recall
is the share of the exact top 50 each method returns. Goal (issue 9): p95 < 20 ms at 1M.

    nice -n 10 .venv/bin/python bench/curation.py [--sizes 10000 100000 1000000] [--dims 96 512]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.index import VectorIndex


def clustered(n: int, dim: int, seed: int, clusters: int = 2000, spread: float = 0.6) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres; the noise has norm about ``spread`` whatever the
    width (cosine to the centre about 0.85, as for CLIP embeddings of related images)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        v = centres[rng.integers(0, clusters, m)] + (spread / np.sqrt(dim)) * rng.standard_normal(
            (m, dim)).astype(np.float32)
        out[s:s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def brute(vecs: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    """The obvious alternative: score everything, partial sort."""
    s = vecs @ q
    top = np.argpartition(-s, k)[:k]
    return ids[top[np.argsort(-s[top])]].tolist()


def timed(fn, queries):
    lat, res = [], []
    fn(queries[0])  # warm-up
    for q in queries:
        t = time.perf_counter()
        res.append(fn(q))
        lat.append((time.perf_counter() - t) * 1000)
    return np.percentile(lat, 50), np.percentile(lat, 95), res


def recall(exact: list[set[int]], got: list[list[int]]) -> float:
    return float(np.mean([len(e & set(g)) / len(e) for e, g in zip(exact, got, strict=True)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--dims", type=int, nargs="+", default=[96, 512])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--hnsw-max", type=int, default=100_000, help="skip hnswlib above this size (build time)")
    ap.add_argument("--nprobe", type=int, default=24)
    a = ap.parse_args()
    import faiss
    import hnswlib
    from threadpoolctl import threadpool_limits

    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads; top {a.k}; {a.queries} queries; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'dim':>4} {'n':>9}  {'method':<22} {'build s':>8} {'p50 ms':>8} {'p95 ms':>8} {'recall':>7}")
    for dim in a.dims:
        for n in a.sizes:
            data = clustered(n + a.queries, dim, seed=n + dim)
            vecs, queries = data[:n], data[n:]
            ids = np.arange(1, n + 1, dtype=np.int64)
            rows = []

            p50, p95, res = timed(lambda q, v=vecs, i=ids: brute(v, i, q, a.k), queries)
            exact = [set(r) for r in res]
            rows.append(("numpy brute force", 0.0, p50, p95, 1.0))
            with threadpool_limits(1):  # BLAS threads fight the rest of a busy machine
                p50, p95, _ = timed(lambda q, v=vecs, i=ids: brute(v, i, q, a.k), queries)
            rows.append(("numpy brute, 1 thread", 0.0, p50, p95, 1.0))
            for label, thr in (("faiss flat (exact)", n + 1), (f"faiss IVF nprobe {a.nprobe}", 1)):
                if label.startswith("faiss flat") and n > 1_000_000:
                    continue
                t = time.perf_counter()
                idx = VectorIndex(ids, vecs, backend="faiss", ivf_threshold=max(thr, 1), nprobe=a.nprobe)
                build = time.perf_counter() - t
                p50, p95, res = timed(lambda q, idx=idx: [i for i, _ in idx.search(q, a.k)], queries)
                rows.append((f"{label} [{idx.kind}]", build, p50, p95, recall(exact, res)))
                del idx
                gc.collect()
            if n <= a.hnsw_max:
                t = time.perf_counter()
                h = hnswlib.Index(space="ip", dim=dim)
                h.init_index(max_elements=n, ef_construction=100, M=16, random_seed=0)
                h.add_items(vecs, ids)
                h.set_ef(max(64, a.k))
                build = time.perf_counter() - t
                p50, p95, res = timed(lambda q, h=h: h.knn_query(q, k=a.k)[0][0].tolist(), queries)
                rows.append(("hnswlib M16 ef64", build, p50, p95, recall(exact, res)))
                del h
            else:
                rows.append(("hnswlib M16 ef64", float("nan"), float("nan"), float("nan"), float("nan")))
            for m, b, p50, p95, r in rows:
                bs = "skipped" if b != b else f"{b:8.2f}"
                ps = ("", "") if p50 != p50 else (f"{p50:8.2f}", f"{p95:8.2f}")
                print(f"{dim:>4} {n:>9}  {m:<22} {bs:>8} {ps[0]:>8} {ps[1]:>8} {'' if r != r else f'{r:7.3f}':>7}",
                      flush=True)
            del vecs, data
            gc.collect()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    text_encoder_latency()


def text_encoder_latency(runs: int = 30) -> None:
    """The other half of a text query: the CLIP text tower (the shipped tiny model, or the configured one)."""
    from gallery.config import load_settings
    from gallery.errors import GalleryError

    try:
        from generator.vqgan_clip.clip import load_clip

        enc = load_clip(load_settings(None, environ={}), device="cpu")
    except (ImportError, GalleryError) as e:
        print(f"CLIP text encoding: not measured ({e})")
        return
    prompts = [f"a {c} {s}" for c in ("red", "blue", "green") for s in ("circle", "square", "star")]
    enc.encode_texts(prompts[:1])
    lat = []
    for i in range(runs):
        t = time.perf_counter()
        enc.encode_texts([prompts[i % len(prompts)]])
        lat.append((time.perf_counter() - t) * 1000)
    print(f"CLIP text encoding ({enc.name}, dim {enc.dim}, CPU): p50 {np.percentile(lat, 50):.2f} ms, "
          f"p95 {np.percentile(lat, 95):.2f} ms")


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
