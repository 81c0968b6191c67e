"""New works from an artwork: variations of it, or the walk between it and another, queued as runs
(for tonight's window, or now) through :mod:`curation.generate`."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from curation.web.deps import CsrfForm, State
from curation.web.params import as_float, as_id, as_int
from curation.web.security import Id

router = APIRouter()


@router.post("/a/{artwork_id}/vary")
async def vary(st: State, artwork_id: Id, f: CsrfForm) -> Response:
    from curation.generate import queue_between, queue_variations

    other = as_id(f.get("other"), "other artwork")
    window = "tonight" if f.get("when") != "now" else None
    if other:
        runs = [queue_between(st.cat, artwork_id, other, as_int(f.get("steps"), "steps", 2, 256) or 8,
                              window=window)]
    else:
        runs = queue_variations(st.cat, artwork_id, as_int(f.get("count"), "count", 1, 64) or 4,
                                as_float(f.get("sigma"), "sigma") or 0.3, window=window)
    note = f"queued run(s) {', '.join(map(str, runs))}" + (" for tonight" if window else "")
    return RedirectResponse(f"/a/{artwork_id}?{urlencode({'note': note})}", status_code=303)
