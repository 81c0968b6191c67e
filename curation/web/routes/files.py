"""Files: media by id from the store (never by path), and a set exported as a zip."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from curation import sets, works
from curation.web.deps import State
from curation.web.security import Id

router = APIRouter()


@router.get("/media/{media_id}")
def media(st: State, media_id: Id) -> Response:
    m = works.media(st.cat, media_id)
    if m is None or m.broken:
        return Response("no such media", status_code=404, media_type="text/plain")
    p = st.cat.media_path(m)
    if not p.is_file():
        return Response("media missing from the store", status_code=404, media_type="text/plain")
    return FileResponse(p, media_type=m.mime, headers={"Cache-Control": "private, max-age=86400"})


@router.get("/sets/{cid}/export.zip")
def set_export(st: State, cid: Id) -> Response:
    from curation.export import export_set

    c = sets.show(st.cat, cid)
    tmp = Path(tempfile.mkdtemp(prefix="lg-export-"))
    try:
        p = export_set(st.cat, cid, tmp / f"set-{cid}.zip", as_zip=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a failed export leaves no temp folder behind
        raise
    return FileResponse(p, media_type="application/zip", filename=f"set-{c.id}.zip",
                        background=BackgroundTask(shutil.rmtree, tmp, True))
