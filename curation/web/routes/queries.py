"""Saved searches: "Save this search" from the grid, the list (run again, open in the grid, delete) and a
saved search's results in the order a programme of the show plays them (:mod:`curation.queries`)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import QueryParams

from curation import queries
from curation.search import Hit
from curation.web.cards import cards
from curation.web.deps import CsrfForm, State
from curation.web.pages import page
from curation.web.params import as_int, filters_from
from curation.web.routes.search import grid_page
from curation.web.security import Id
from gallery.errors import BadInput

router = APIRouter()
GRID_RANGES = ("brightness", "colourfulness", "contrast", "loudness")  # the ranges the grid's form takes


def grid_link(q: queries.Query) -> str | None:
    """The grid's URL for a saved search (to change it and save it again), or None when the grid's
    form cannot express one of its filters (a range of another feature)."""
    f = q.filters
    if set(f.ranges) - set(GRID_RANGES):
        return None
    p: list[tuple[str, Any]] = [("q", q.text)] if q.text else []
    p += [("kind", k) for k in f.kinds]
    p += [(k, v) for k, v in (("tag", ", ".join(f.tags)), ("model", f.model), ("min_rating", f.min_rating),
                              ("since", f.since and f.since.isoformat()), ("until", f.until and f.until.isoformat()))
          if v not in (None, "")]
    for name, (lo, hi) in f.ranges.items():
        p += [(f"{name}_{end}", v) for end, v in (("min", lo), ("max", hi)) if math.isfinite(v)]
    return "/?" + urlencode(p)


@router.post("/queries", response_class=HTMLResponse)
async def save_query(request: Request, st: State, f: CsrfForm) -> Response:
    """Save the search in the form's ``search`` field (the grid's query string) as ``name``; a refusal
    shows the grid again with the reason beside the form."""
    p = QueryParams(str(f.get("search") or ""))
    name = str(f.get("name") or "")
    try:
        limit = as_int(f.get("limit"), "limit", 1, queries.MAX_LIMIT)
        text = (p.get("q") or "").strip() or None
        if text is not None and st.searcher.enc.name == "hist":
            raise BadInput("a text search needs the CLIP model (curation.embedding: clip); this one cannot be saved")
        q = queries.save(st.cat, name, text, filters_from(p), limit, replace=f.get("replace") == "1")
    except BadInput as e:
        return grid_page(request, st, p, status=400, save_error=str(e), save_name=name[:100],
                         save_limit=str(f.get("limit") or "")[:10])
    return RedirectResponse("/queries?" + urlencode({"note": f"saved search {q.name!r}"}), status_code=303)


@router.get("/queries", response_class=HTMLResponse)
def queries_page(request: Request, st: State) -> HTMLResponse:
    rows = [{"id": r.id, "name": r.name, "about": q.describe() if q else None, "error": err,
             "grid": grid_link(q) if q else None} for r, q, err in queries.ls(st.cat)]
    return page(request, "queries.html", rows=rows, note=request.query_params.get("note"))


@router.get("/queries/{qid}", response_class=HTMLResponse)
def query_page(request: Request, st: State, qid: Id) -> HTMLResponse:
    """What the saved search gives now, in order (as a programme playing it)."""
    q = queries.get_id(st.cat, qid)
    st.refresh()
    ids = queries.run(q, st.cat, searcher=st.searcher if q.text else None)
    return page(request, "query.html", q=q, about=q.describe(), grid=grid_link(q),
                items=cards(st, [Hit(a) for a in ids]), next_offset=None, qs="")


@router.post("/queries/{qid}/delete")
async def delete_query(st: State, qid: Id, _f: CsrfForm) -> Response:
    name = queries.delete(st.cat, queries.name_of(st.cat, qid))
    return RedirectResponse("/queries?" + urlencode({"note": f"deleted saved search {name!r}"}), status_code=303)
