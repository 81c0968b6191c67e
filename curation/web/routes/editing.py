"""A curator edits a work on its page (through :mod:`catalogue.editing`, as `gallery catalogue edit` does):
title and wall text and tags, hide / unhide, delete after a confirmation page. Bad input re-renders the
form with the error (400), never a 500."""

from __future__ import annotations

import shutil
from typing import Any
from urllib.parse import quote_plus

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from catalogue import editing
from curation.web.deps import CsrfForm, State
from curation.web.pages import page
from curation.web.security import Id, clean_tags
from gallery.errors import BadInput

router = APIRouter()
FORM_FIELDS = ("title", "artist", "year", "medium", "wall_text", "tags")


def _form_of(a: Any) -> dict[str, str]:
    return {"title": a.title or "", "artist": a.artist or "", "year": "" if a.year is None else str(a.year),
            "medium": a.medium or "", "wall_text": a.wall_text or "",
            "tags": ", ".join(sorted(t.name for t in a.tags))}


def _artwork(st: State, artwork_id: int) -> Any:
    a = st.cat.get(artwork_id)
    if a is None:
        raise BadInput(f"no artwork with id {artwork_id}")
    return a


@router.get("/a/{artwork_id}/edit", response_class=HTMLResponse)
def edit_page(request: Request, st: State, artwork_id: Id) -> HTMLResponse:
    a = _artwork(st, artwork_id)
    return page(request, "edit.html", a=a, form=_form_of(a), error=None, note=request.query_params.get("note"),
                minted=editing.minted(st.cat, artwork_id))


@router.post("/a/{artwork_id}/edit", response_class=HTMLResponse)
async def edit_save(request: Request, st: State, artwork_id: Id, f: CsrfForm) -> Response:
    a = _artwork(st, artwork_id)
    form = {k: str(f.get(k) or "") for k in FORM_FIELDS}
    try:
        want = clean_tags(form["tags"].split(","), "tags")
        have = {t.name for t in a.tags}
        changed = editing.edit(st.cat, artwork_id, title=form["title"], artist=form["artist"], year=form["year"],
                               medium=form["medium"], wall_text=form["wall_text"],
                               add_tags=[t for t in want if t not in have],
                               remove_tags=sorted(have - set(want)))
    except BadInput as e:  # the form again, as typed, with what is wrong
        return page(request, "edit.html", status=400, a=a, form=form, error=str(e),
                    minted=editing.minted(st.cat, artwork_id))
    note = f"saved: {', '.join(c.replace('_', ' ') for c in changed)}" if changed else "nothing changed"
    return RedirectResponse(f"/a/{artwork_id}?note={quote_plus(note)}", status_code=303)


@router.post("/a/{artwork_id}/hide")
async def hide(st: State, artwork_id: Id, f: CsrfForm) -> Response:
    editing.hide(st.cat, [artwork_id], str(f.get("reason") or "") or None)
    return RedirectResponse(f"/a/{artwork_id}?note=hidden:+the+show+and+search+leave+it+out", status_code=303)


@router.post("/a/{artwork_id}/unhide")
async def unhide(st: State, artwork_id: Id, _f: CsrfForm) -> Response:
    editing.unhide(st.cat, [artwork_id])
    return RedirectResponse(f"/a/{artwork_id}?note=shown+again", status_code=303)


@router.get("/a/{artwork_id}/delete", response_class=HTMLResponse)
def delete_page(request: Request, st: State, artwork_id: Id) -> HTMLResponse:
    a = _artwork(st, artwork_id)
    (plan,) = editing.plan_delete(st.cat, [artwork_id])
    return page(request, "delete.html", a=a, plan=plan, done=False)


@router.post("/a/{artwork_id}/delete", response_class=HTMLResponse)
async def delete(request: Request, st: State, artwork_id: Id, f: CsrfForm) -> HTMLResponse:
    a = _artwork(st, artwork_id)
    if f.get("confirm") != "yes":
        (plan,) = editing.plan_delete(st.cat, [artwork_id])
        return page(request, "delete.html", status=400, a=a, plan=plan, done=False,
                    error="tick “yes, delete it” to confirm")
    (plan,) = editing.delete(st.cat, [artwork_id])  # refused (minted, frozen set): BadInput -> 400 page
    from gallery.results import files_root

    shutil.rmtree(files_root(st.settings) / str(artwork_id), ignore_errors=True)  # its named links would dangle
    return page(request, "delete.html", a=a, plan=plan, done=True)
