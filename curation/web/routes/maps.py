"""The map: every indexed artwork laid out in 2-D (PCA or a feature axis), as a page and as JSON."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from curation import works
from curation.search import Hit, feature_table
from curation.web.cards import cards
from curation.web.deps import State
from curation.web.pages import page

router = APIRouter()


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request) -> HTMLResponse:
    return page(request, "map.html", axis=request.query_params.get("axis", "pca"))


@router.get("/map.json")
def map_json(st: State, axis: str = "pca", limit: int = 2000) -> JSONResponse:
    from curation.mapview import layout

    sr = st.searcher
    ids = [a for a in works.ok_ids(st.cat) if sr.index.has(a)][: max(1, min(limit, 20_000))]
    bright = {a: v.get("brightness") for a, v in feature_table(st.cat, ids, ["brightness"]).items()
              if v.get("brightness") is not None}
    pts = layout(ids, sr.index.vectors(ids), axis=axis, brightness=bright)
    info = {c["id"]: c for c in cards(st, [Hit(p["id"]) for p in pts])}
    for p in pts:
        c = info.get(p["id"], {})
        p.update(title=c.get("title", ""), thumb=c.get("thumb"), brightness=c.get("brightness"))
    return JSONResponse({"axis": axis, "points": pts})
