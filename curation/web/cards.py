"""Artworks as the cards of a grid: search results, "more like this" (with near-duplicates marked)."""

from __future__ import annotations

from typing import Any

import numpy as np

from curation import works
from curation.search import Hit, feature_table
from curation.web.deps import App
from curation.web.params import as_id, filters_from


def cards(st: App, hits: list[Hit]) -> list[dict[str, Any]]:
    ids = [h.id for h in hits]
    feats = feature_table(st.cat, ids, ["brightness", "loudness"])
    out = []
    arts = works.by_id(st.cat, ids)
    for h in hits:
        a = arts.get(h.id)
        if a is None:
            continue
        th = a.first_media("thumbnail", "poster", "image", "spectrogram", "pianoroll")
        out.append({"id": a.id, "title": a.title or f"#{a.id}", "kind": a.kind, "score": h.score,
                    "thumb": th.id if th else None, "rating": a.rating, "status": a.status,
                    "brightness": feats.get(a.id, {}).get("brightness")})
    return out


def mark_duplicates(st: App, artwork_id: int, like: list[dict[str, Any]]) -> None:
    """Flag the "more like this" cards that are near-duplicates (hash + embedding, as `curate dups`)."""
    from curation.search import feature_vectors
    from curation.select import near_duplicates

    cs = st.settings.curation
    ids = [artwork_id] + [c["id"] for c in like]
    hv = feature_vectors(st.cat, ids, "phash")
    ids = [a for a in ids if a in hv]
    if artwork_id not in ids:
        return
    groups = near_duplicates(ids, np.stack([hv[a] for a in ids]), st.searcher.index.vectors(ids),
                             cs.dup_hash_bits, cs.dup_cosine)
    dup = next((set(g) for g in groups if artwork_id in g), set())
    for c in like:
        c["duplicate"] = c["id"] in dup


def run_search(st: App, params: Any, offset: int = 0) -> tuple[list[dict[str, Any]], str | None]:
    """One page of cards for the grid's query string, and the offset of the next page (None at the end)."""
    q = (params.get("q") or "").strip() or None
    like = as_id(params.get("like"), "like")
    k = st.settings.curation.page_size
    hits = st.searcher.search(text=q, like=like, filters=filters_from(params), k=k, offset=offset)
    return cards(st, hits), (str(offset + k) if len(hits) == k else None)
