"""The grid: filters and text search, the next page of an infinite scroll, search by an uploaded image."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from curation import works
from curation.search import feature_ranges
from curation.web.cards import cards, run_search
from curation.web.deps import CsrfForm, State
from curation.web.pages import page
from curation.web.params import as_int
from curation.web.security import MAX_UPLOAD, BodyTooLarge
from gallery.errors import BadInput

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def grid(request: Request, st: State) -> HTMLResponse:
    st.refresh()
    return grid_page(request, st, request.query_params)


def grid_page(request: Request, st: State, p: Any, status: int = 200, **extra: Any) -> HTMLResponse:
    """The grid for the query string ``p``, with its "Save this search" form (``extra``: the form's
    error and name when a save was refused)."""
    items, nxt = run_search(st, p)
    qs = urlencode([(k, v) for k, v in p.multi_items() if k != "offset"])
    return page(request, "grid.html", status=status, items=items, next_offset=nxt, qs=qs, params=p,
                ranges=feature_ranges(st.cat), kinds=works.kinds(st.cat),
                text_ok=st.searcher.enc.name != "hist", save_qs=qs, **extra)


@router.get("/grid", response_class=HTMLResponse)
def grid_more(request: Request, st: State) -> HTMLResponse:
    p = request.query_params
    items, nxt = run_search(st, p, offset=as_int(p.get("offset"), "offset", 0, 1_000_000) or 0)
    qs = [(k, v) for k, v in p.multi_items() if k != "offset"]
    return page(request, "_cards.html", items=items, next_offset=nxt, qs=urlencode(qs))


@router.post("/search/image", response_class=HTMLResponse)
async def search_image(request: Request, st: State, f: CsrfForm) -> HTMLResponse:
    up = f.get("image")
    if up is None or not hasattr(up, "read"):
        raise BadInput("choose an image file to search by")
    data = await up.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise BodyTooLarge(f"uploaded image is over {MAX_UPLOAD // 1024 // 1024} MB")
    if not data:
        raise BadInput("the uploaded image file is empty")
    hits = st.searcher.search(image=data, k=st.settings.curation.page_size)
    return page(request, "grid.html", items=cards(st, hits), next_offset=None, qs="", params={},
                ranges=feature_ranges(st.cat), kinds=works.kinds(st.cat), text_ok=st.searcher.enc.name != "hist",
                note=f"matches for the uploaded image {getattr(up, 'filename', '')}")
