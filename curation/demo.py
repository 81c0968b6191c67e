"""`gallery demo` step: index the catalogue, then make a set of 6 by a text query with suggestions
(maximal marginal relevance), and export it (media, manifest, contact sheet)."""

from __future__ import annotations

from typing import Any

DEMO_QUERY = "a large red circle"


def demo_step(dc: Any) -> dict[str, Any]:
    from curation import sets
    from curation.embed import load_encoder
    from curation.export import export_set
    from curation.indexer import index_catalogue
    from curation.search import Searcher
    from curation.select import suggest

    enc = load_encoder(dc.settings)
    rep = index_catalogue(dc.catalogue, enc)
    sr = Searcher(dc.settings, dc.catalogue, enc)
    variety = dc.settings.curation.variety
    # Text needs CLIP; with the colour-histogram fallback the set covers the catalogue instead.
    query = DEMO_QUERY if enc.name != "hist" else None
    ids = suggest(sr, 6, text=query, variety=variety)
    if not ids:
        return {"set": None, "reason": "no indexed artworks", "skipped": len(rep.skipped)}
    how = f"query {query!r}" if query else "coverage (no CLIP model: colour histograms)"
    cid = sets.create(dc.catalogue, f"Demo: {query or 'the whole catalogue'}",
                      f"suggested by {how}, variety {variety}", ids,
                      extra={"suggested": {"query": query, "variety": variety, "embedding": enc.name}})
    retitled = retitle_first(dc.catalogue, first_visual(dc.catalogue, ids))
    out = export_set(dc.catalogue, cid, dc.out_dir / "curation" / f"set-{cid}", overwrite=True)
    sets.freeze(dc.catalogue, cid)  # final: the minting step mints the newest frozen set
    from curation.cli import write_map_png

    map_png = write_map_png(sr, dc.out_dir / "curation" / "map-brightness.png")
    return {"set": cid, "artworks": ids, "retitled": retitled, "query": query, "embedding": enc.name, "indexed": len(rep.indexed),
            "export": str(out), "map": str(map_png)}


DEMO_WALL_TEXT = {
    "title": "Study in Red, Evening",
    "artist": "Latent Gallery demo",
    "year": 2026,
    "medium": "Made with the bundled tiny models",
    "wall_text": "The first work of the demo set, chosen by a text search. A curator retitled it and wrote "
                 "this paragraph: the label on the wall, the set's export and the token metadata all read it.",
}


def first_visual(cat: Any, ids: list[int]) -> int:
    """The set's first work that has a picture of its own (its label is what the preview shows)."""
    from catalogue.models import VISUAL_KINDS

    return next((i for i in ids if (a := cat.get(i)) is not None and a.kind in VISUAL_KINDS), ids[0])


def retitle_first(cat: Any, artwork_id: int) -> dict[str, Any]:
    """As a curator would: give the set's first work a title and wall text (before it is exported and minted)."""
    from catalogue.editing import edit

    edit(cat, artwork_id, **DEMO_WALL_TEXT, claim_title=True)
    return {"artwork": artwork_id, "title": DEMO_WALL_TEXT["title"]}
