"""The vector index over artwork embeddings, kept in step with the catalogue.

faiss was chosen over hnswlib and brute-force numpy (bench/curation.py has the figures): an exact
flat inner-product index below ``ivf_threshold`` vectors (exact, and a few ms at 50k), an IVF index
above it (k-means lists, ``nprobe`` probed per query), which builds in tens of seconds at 1M on two
cores where HNSW graphs take many minutes. The index lives in ``curation.index_dir`` beside a
``.json`` stamp of the feature rows it was built from; a missing or stale index is rebuilt.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from catalogue.models import Feature

log = logging.getLogger(__name__)
logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # it logs every CPU-feature probe at INFO


@dataclass
class Stamp:
    """What the index was built from: enough to notice any added, changed or removed embedding."""

    name: str
    model_sha256: str
    count: int
    max_created: str
    id_sum: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class VectorIndex:
    """Inner-product (cosine on L2-normalised vectors) top-k search with artwork ids."""

    def __init__(self, ids: np.ndarray, vecs: np.ndarray, *, backend: str = "faiss", ivf_threshold: int = 50_000,
                 nprobe: int = 24, seed: int = 0) -> None:
        self.ids = np.ascontiguousarray(ids, dtype=np.int64)
        self.vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if self.vecs.ndim != 2 or len(self.ids) != len(self.vecs):
            raise ValueError(f"ids {self.ids.shape} and vectors {self.vecs.shape} do not match")
        self.dim = int(self.vecs.shape[1]) if len(self.vecs) else 0
        self.backend = backend
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        self.seed = seed
        self._pos = {int(a): i for i, a in enumerate(self.ids)}
        self._faiss: Any = None
        if backend == "faiss" and len(self.ids):
            self._build_faiss()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def kind(self) -> str:
        if self.backend != "faiss" or self._faiss is None:
            return "numpy-flat"
        return "faiss-ivf" if len(self) >= self.ivf_threshold else "faiss-flat"

    def _build_faiss(self) -> None:
        import faiss

        n, d = self.vecs.shape
        if n < self.ivf_threshold:
            idx = faiss.IndexFlatIP(d)
        else:
            nlist = int(min(65536, n // 39, max(16, np.sqrt(n))))  # sqrt(n): k-means stays seconds at 1M
            quant = faiss.IndexFlatIP(d)
            idx = faiss.IndexIVFFlat(quant, d, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(self.seed)
            sample = self.vecs[rng.choice(n, size=min(n, nlist * 40), replace=False)]
            idx.cp.seed = self.seed
            idx.train(sample)
            idx.nprobe = min(self.nprobe, nlist)
        idx.add(self.vecs)
        self._faiss = idx

    def has(self, artwork_id: int) -> bool:
        return int(artwork_id) in self._pos

    def vector(self, artwork_id: int) -> np.ndarray:
        return self.vecs[self._pos[int(artwork_id)]]

    def vectors(self, artwork_ids: list[int]) -> np.ndarray:
        return self.vecs[[self._pos[int(a)] for a in artwork_ids]] if artwork_ids else np.zeros((0, self.dim),
                                                                                               np.float32)

    def search(self, q: np.ndarray, k: int, allowed: set[int] | None = None,
               exclude: set[int] | None = None) -> list[tuple[int, float]]:
        """Top-k (artwork id, cosine) for one query vector, best first; ``allowed`` restricts the ids."""
        q = np.asarray(q, np.float32).reshape(1, -1)
        if len(self) == 0 or k <= 0:
            return []
        if q.shape[1] != self.dim:
            raise ValueError(f"query has {q.shape[1]} dimensions, the index {self.dim}")
        exclude = exclude or set()
        if allowed is not None:
            pos = [self._pos[a] for a in allowed if a in self._pos and a not in exclude]
            if not pos:
                return []
            # A filtered search scores the allowed vectors exactly (cheap when filters are selective).
            if len(pos) <= max(20_000, len(self) // 4):
                pos_a = np.asarray(pos, np.int64)
                return self._top(pos_a, self.vecs[pos_a] @ q[0], k)
        want = k + len(exclude)
        while True:
            kk = min(len(self), want)
            if self._faiss is not None:
                scores, pos_b = _search_one_thread(self._faiss, q, kk)
                keep = pos_b[0] >= 0
                cand = list(zip(self.ids[pos_b[0][keep]].tolist(), scores[0][keep].tolist(), strict=True))
            else:
                s = self.vecs @ q[0]
                top = self._top(np.arange(len(self)), s, kk)
                cand = top
            out = [(int(a), float(sc)) for a, sc in cand
                   if a not in exclude and (allowed is None or a in allowed)]
            if len(out) >= k or kk >= len(self) or want > 16 * (k + len(exclude)) + 1024:
                return out[:k]
            want *= 4

    def _top(self, pos: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(scores))
        part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        part = part[np.lexsort((self.ids[pos[part]], -scores[part]))]
        return [(int(self.ids[pos[i]]), float(scores[i])) for i in part]

    # ---- persistence -------------------------------------------------------------------------
    def save(self, directory: Path, stamp: Stamp) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        base = directory / stamp.name
        tmp_npz = base.with_suffix(".npz.tmp")
        with open(tmp_npz, "wb") as f:
            np.savez(f, ids=self.ids, vecs=self.vecs)
        os.replace(tmp_npz, base.with_suffix(".npz"))
        if self._faiss is not None and self.kind == "faiss-ivf":
            import faiss

            faiss.write_index(self._faiss, str(base.with_suffix(".faiss.tmp")))
            os.replace(base.with_suffix(".faiss.tmp"), base.with_suffix(".faiss"))
        meta = {"stamp": stamp.as_dict(), "kind": self.kind, "dim": self.dim}
        base.with_suffix(".json.tmp").write_text(json.dumps(meta, indent=1))
        os.replace(base.with_suffix(".json.tmp"), base.with_suffix(".json"))

    @classmethod
    def load(cls, directory: Path, stamp: Stamp, **kw: Any) -> VectorIndex | None:
        """The saved index when its stamp matches ``stamp``; None when missing, stale or unreadable."""
        base = directory / stamp.name
        try:
            meta = json.loads(base.with_suffix(".json").read_text())
            if meta.get("stamp") != stamp.as_dict():
                log.info("index %s is stale: rebuilding", stamp.name)
                return None
            with np.load(base.with_suffix(".npz")) as z:
                ids, vecs = z["ids"], z["vecs"]
        except (OSError, ValueError, KeyError) as e:
            log.info("index %s missing or unreadable (%s): rebuilding", stamp.name, e)
            return None
        if meta.get("kind") == "faiss-ivf" and kw.get("backend", "faiss") == "faiss":
            import faiss

            try:
                fi = faiss.read_index(str(base.with_suffix(".faiss")))
            except RuntimeError as e:
                log.info("index %s: faiss file unreadable (%s): rebuilding", stamp.name, e)
                return None
            obj = cls(ids[:0], vecs[:0], **kw)
            obj.ids, obj.vecs, obj.dim = ids, vecs, int(vecs.shape[1])
            obj._pos = {int(a): i for i, a in enumerate(ids)}
            fi.nprobe = min(obj.nprobe, fi.nlist)
            obj._faiss = fi
            return obj
        return cls(ids, vecs, **kw)


def _search_one_thread(index: Any, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One query on one OpenMP thread: on a shared 2-core machine, faiss's thread team spinning up for
    a single query costs far more than it saves (bench/curation.py: p50 56 ms -> 1.7 ms at 100k)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(q, k)
    finally:
        faiss.omp_set_num_threads(before)


# ---- the catalogue side ---------------------------------------------------------------------
def stamp_of(cat: Any, name: str, model_sha256: str) -> Stamp:
    q = select(func.count(), func.max(Feature.created), func.coalesce(func.sum(Feature.artwork_id), 0)).where(
        Feature.name == name, Feature.model_sha256 == model_sha256, Feature.vector.is_not(None))
    with cat.read() as s:
        n, mx, idsum = s.execute(q).one()
    return Stamp(name=name, model_sha256=model_sha256, count=int(n), max_created=str(mx), id_sum=int(idsum))


def load_embeddings(cat: Any, name: str, model_sha256: str) -> tuple[np.ndarray, np.ndarray]:
    q = (select(Feature.artwork_id, Feature.vector, Feature.dims)
         .where(Feature.name == name, Feature.model_sha256 == model_sha256, Feature.vector.is_not(None))
         .order_by(Feature.artwork_id))
    with cat.read() as s:
        rows = s.execute(q).all()
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    dims = {r.dims for r in rows}
    if len(dims) != 1:
        raise ValueError(f"feature {name!r} has vectors of several sizes {sorted(dims)}: re-run `gallery curate index`")
    ids = np.fromiter((r.artwork_id for r in rows), np.int64, len(rows))
    vecs = np.frombuffer(b"".join(r.vector for r in rows), np.float32).reshape(len(rows), -1).copy()
    return ids, vecs


_CACHE: dict[tuple[str, str], tuple[Stamp, VectorIndex]] = {}
_LOCK = threading.Lock()


def get_index(settings: Any, cat: Any, name: str, model_sha256: str) -> VectorIndex:
    """The index of one embedding: from memory or disk when current, else rebuilt from the catalogue."""
    cs = settings.curation
    stamp = stamp_of(cat, name, model_sha256)
    key = (cat.url, f"{name}:{model_sha256}")
    kw = {"backend": cs.index_backend, "ivf_threshold": cs.ivf_threshold, "nprobe": cs.ivf_nprobe,
          "seed": settings.seed}
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        directory = settings.path(cs.index_dir)
        idx = VectorIndex.load(directory, stamp, **kw)
        if idx is None:
            ids, vecs = load_embeddings(cat, name, model_sha256)
            idx = VectorIndex(ids, vecs, **kw)
            if len(idx):
                idx.save(directory, stamp)
        _CACHE[key] = (stamp, idx)
        return idx
