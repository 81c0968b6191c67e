"""Choosing sets: maximal marginal relevance for a query, farthest-point coverage of the whole
catalogue (exploration, then exploitation), and near-duplicate groups."""

from __future__ import annotations

from typing import Any

import numpy as np

from gallery.errors import BadInput


def mmr(query: np.ndarray | None, ids: list[int], vecs: np.ndarray, size: int, variety: float = 0.5,
        relevance: np.ndarray | None = None) -> list[int]:
    """Maximal marginal relevance: each pick maximises (1-variety)*relevance - variety*max-similarity
    to the picks so far. variety 0 is the plain ranking; 1 spreads out as far as possible.

    ``relevance`` overrides the cosine to ``query``; with neither, falls back to farthest-point coverage.
    """
    if not 0.0 <= variety <= 1.0:
        raise BadInput(f"variety must be between 0 (relevance) and 1 (variety), got {variety}")
    if size < 1:
        raise BadInput(f"set size must be at least 1, got {size}")
    n = len(ids)
    if n == 0:
        return []
    vecs = np.asarray(vecs, np.float32)
    if relevance is None:
        if query is None:
            return coverage(ids, vecs, size)
        relevance = vecs @ np.asarray(query, np.float32)
    rel = np.asarray(relevance, np.float64)
    size = min(size, n)
    chosen: list[int] = []
    max_sim = np.full(n, -np.inf)
    available = np.ones(n, bool)
    order_key = np.asarray(ids)
    for _ in range(size):
        if chosen:
            score = (1.0 - variety) * rel - variety * max_sim
        else:
            score = rel.copy()
        score[~available] = -np.inf
        best = score.max()
        tied = np.flatnonzero(score == best)
        pick = int(tied[np.argmin(order_key[tied])])  # deterministic: lowest id wins a tie
        chosen.append(pick)
        available[pick] = False
        max_sim = np.maximum(max_sim, vecs @ vecs[pick])
    return [int(ids[i]) for i in chosen]


def coverage(ids: list[int], vecs: np.ndarray, size: int) -> list[int]:
    """Farthest-point sampling: start at the item nearest the centre, then always take the item
    farthest (cosine) from everything taken so far: a set that covers the whole catalogue."""
    n = len(ids)
    if size < 1:
        raise BadInput(f"set size must be at least 1, got {size}")
    if n == 0:
        return []
    vecs = np.asarray(vecs, np.float32)
    centre = vecs.mean(axis=0)
    first = int(np.argmax(vecs @ centre))
    chosen = [first]
    min_dist = 1.0 - vecs @ vecs[first]
    min_dist[first] = -np.inf
    for _ in range(min(size, n) - 1):
        pick = int(np.argmax(min_dist))
        chosen.append(pick)
        min_dist = np.minimum(min_dist, 1.0 - vecs @ vecs[pick])
        min_dist[chosen] = -np.inf
    return [int(ids[i]) for i in chosen]


def _pack_bits(bits: np.ndarray) -> np.ndarray:
    """(N, 64) 0/1 -> (N,) uint64."""
    b = (np.asarray(bits) > 0.5).astype(np.uint8)
    return np.packbits(b, axis=1).view(">u8").ravel().astype(np.uint64)


def _popcount64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(axis=-1)


def near_duplicates(ids: list[int], hashes: np.ndarray | None = None, vecs: np.ndarray | None = None,
                    max_bits: int = 6, min_cosine: float = 0.97, block: int = 512,
                    confirm_cosine: float = 0.9) -> list[list[int]]:
    """Groups (lists of ids, each of two or more, sorted) of near-duplicates: a perceptual hash within
    ``max_bits`` bits, or embeddings at least ``min_cosine`` alike. Pairs join into groups (union-find).

    The hash sees luminance only, so two colour variants of one layout hash alike; when embeddings are
    given too, a hash match must also be ``confirm_cosine`` alike in the embedding."""
    n = len(ids)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    if vecs is not None:
        vecs = np.asarray(vecs, np.float32)
    if hashes is not None and n:
        packed = _pack_bits(hashes)
        for s in range(0, n, block):
            d = _popcount64(packed[s:s + block, None] ^ packed[None, :])
            for i, j in zip(*np.nonzero(d <= max_bits), strict=True):
                if s + i < j and (vecs is None or float(np.dot(vecs[s + i], vecs[j])) >= confirm_cosine):
                    union(s + int(i), int(j))
    if vecs is not None and n:
        v = np.asarray(vecs, np.float32)
        for s in range(0, n, block):
            sim = v[s:s + block] @ v.T
            for i, j in zip(*np.nonzero(sim >= min_cosine), strict=True):
                if s + i < j:
                    union(s + int(i), int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(int(ids[i]))
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def suggest(searcher: Any, size: int, text: str | None = None, like: int | None = None,
            variety: float = 0.5, filters: Any = None, pool: int = 200,
            exclude: set[int] | None = None) -> list[int]:
    """A suggested set of ``size``: MMR over the ``pool`` best matches of a query, or coverage of
    everything that passes the filters when there is no query."""
    from curation.search import filtered_ids

    if not 0.0 <= variety <= 1.0:
        raise BadInput(f"variety must be between 0 (relevance) and 1 (variety), got {variety}")
    idx = searcher.index
    exclude = exclude or set()
    if text is None and like is None:
        ids = [a for a in filtered_ids(searcher.cat, filters or _no_filters()) if idx.has(a) and a not in exclude]
        return coverage(ids, idx.vectors(ids), size) if ids else []
    hits = searcher.search(text=text, like=like, filters=filters, k=max(pool, size))
    hits = [h for h in hits if h.id not in exclude]
    ids = [h.id for h in hits]
    rel = np.asarray([h.score for h in hits], np.float64)
    return mmr(None, ids, idx.vectors(ids), size, variety, relevance=rel)


def _no_filters() -> Any:
    from curation.search import Filters

    return Filters()
