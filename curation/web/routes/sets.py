"""Sets: the list, a set's page with suggestions (MMR / coverage), and its changes through
:mod:`curation.sets` (create, add, remove, move, edit, freeze)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from curation import sets
from curation.search import Hit
from curation.web.cards import cards
from curation.web.deps import CsrfForm, State
from curation.web.pages import page
from curation.web.params import as_float, as_id, as_int
from curation.web.security import Id

router = APIRouter()


@router.get("/sets", response_class=HTMLResponse)
def sets_page(request: Request) -> HTMLResponse:
    return page(request, "sets.html")


@router.post("/sets")
async def sets_create(st: State, f: CsrfForm) -> Response:
    ids = [i for i in (as_id(x, "artwork") for x in f.getlist("artwork")) if i is not None]
    cid = sets.create(st.cat, str(f.get("title") or ""), str(f.get("description") or ""), ids)
    return RedirectResponse(f"/sets/{cid}", status_code=303)


@router.get("/sets/{cid}", response_class=HTMLResponse)
def set_page(request: Request, st: State, cid: Id) -> HTMLResponse:
    from curation.select import suggest

    c = sets.show(st.cat, cid)
    ids = [it.artwork_id for it in sorted(c.items, key=lambda it: it.position)]
    p = request.query_params
    sug: list[dict[str, Any]] = []
    size = as_int(p.get("size"), "size", 1, 100) or 6
    variety = as_float(p.get("variety"), "variety")
    variety = st.settings.curation.variety if variety is None else variety
    if p.get("suggest"):
        q = (p.get("q") or "").strip() or None
        sug = cards(st, [Hit(a) for a in suggest(st.searcher, size, text=q, variety=variety, exclude=set(ids))])
    return page(request, "set.html", c=c, items=cards(st, [Hit(a) for a in ids]), sug=sug, size=size,
                variety=variety, q=p.get("q", ""), note=p.get("note"))


@router.post("/sets/{cid}/add")
async def set_add(st: State, cid: Id, f: CsrfForm) -> Response:
    ids = [as_id(x, "artwork") for x in f.getlist("artwork")]
    sets.add(st.cat, cid, [i for i in ids if i is not None])
    back = str(f.get("back") or "")
    return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else f"/sets/{cid}",
                            status_code=303)


@router.post("/sets/{cid}/remove")
async def set_remove(st: State, cid: Id, f: CsrfForm) -> Response:
    sets.remove(st.cat, cid, [as_id(f.get("artwork"), "artwork") or 0])
    return RedirectResponse(f"/sets/{cid}", status_code=303)


@router.post("/sets/{cid}/move")
async def set_move(st: State, cid: Id, f: CsrfForm) -> Response:
    sets.move(st.cat, cid, as_id(f.get("artwork"), "artwork") or 0, as_int(f.get("delta"), "delta", -1000, 1000) or 0)
    return RedirectResponse(f"/sets/{cid}", status_code=303)


@router.post("/sets/{cid}/edit")
async def set_edit(st: State, cid: Id, f: CsrfForm) -> Response:
    sets.edit(st.cat, cid, str(f.get("title") or ""), str(f.get("description") or ""))
    return RedirectResponse(f"/sets/{cid}", status_code=303)


@router.post("/sets/{cid}/freeze")
async def set_freeze(st: State, cid: Id, _f: CsrfForm) -> Response:
    sets.freeze(st.cat, cid)
    return RedirectResponse(f"/sets/{cid}", status_code=303)
