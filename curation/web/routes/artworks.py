"""An artwork: its detail page (recipe, features, family, "more like this"), rating and tags."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from curation import works
from curation.search import feature_table
from curation.web.cards import cards, mark_duplicates
from curation.web.deps import CsrfForm, State
from curation.web.pages import page
from curation.web.params import as_int
from curation.web.security import Id, clean_tags

router = APIRouter()


@router.get("/a/{artwork_id}", response_class=HTMLResponse)
def detail(request: Request, st: State, artwork_id: Id) -> HTMLResponse:
    a = st.cat.get(artwork_id)
    if a is None:
        return page(request, "error.html", status=404, message=f"no artwork {artwork_id}")
    sr = st.searcher
    like: list[dict[str, Any]] = []
    if sr.index.has(artwork_id):
        like = cards(st, sr.search(like=artwork_id, k=12))
        mark_duplicates(st, artwork_id, like)
    parents, children = works.lineage(st.cat, artwork_id)
    from curation.generate import can_vary as _can_vary

    can_vary = _can_vary(a)
    return page(request, "detail.html", a=a, recipe=json.dumps(a.recipe, indent=2, ensure_ascii=False),
                feats=feature_table(st.cat, [artwork_id]).get(artwork_id, {}), like=like,
                parents=parents, children=children, tags=sorted(t.name for t in a.tags), can_vary=can_vary,
                note=request.query_params.get("note"))


@router.post("/a/{artwork_id}/rate")
async def rate(st: State, artwork_id: Id, f: CsrfForm) -> Response:
    r = as_int(f.get("rating"), "rating", 0, 5)
    works.rate(st.cat, artwork_id, r)
    return RedirectResponse(f"/a/{artwork_id}", status_code=303)


@router.post("/a/{artwork_id}/tags")
async def tags(st: State, artwork_id: Id, f: CsrfForm) -> Response:
    add = clean_tags(str(f.get("add") or "").split(","), "tags to add")
    remove = clean_tags([str(t) for t in f.getlist("remove")], "tags to remove")
    works.retag(st.cat, artwork_id, add, remove)
    return RedirectResponse(f"/a/{artwork_id}", status_code=303)
