"""Server-rendered pages: the Jinja templates (autoescaped), :func:`page`, and the error pages every
refusal is answered with."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from curation import sets
from curation.web.security import BodyTooLarge, csrf_token
from gallery.errors import BadInput, GalleryError
from gallery.media import MediaTooLarge

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.autoescape = True
    templates.env.globals["urlencode"] = urlencode
    return templates


def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    """A template rendered with the page's CSRF token and the list of sets (for the menus)."""
    st = request.app.state.gallery
    ctx.update(request=request, csrf=csrf_token(request), sets_list=sets.ls(st.cat))
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status)


def add_error_pages(app: FastAPI) -> None:
    """Bad input 400 (413 for a body over its limit), bad path/query values 400, media over its limit
    413, a failure of the gallery 500, a refused change (CSRF) 403: each an error page saying why."""

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput) -> HTMLResponse:
        return page(request, "error.html", status=413 if isinstance(exc, BodyTooLarge) else 400, message=str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_param(request: Request, exc: RequestValidationError) -> HTMLResponse:
        parts = []
        for e in exc.errors()[:3]:
            where = " ".join(str(x) for x in e.get("loc", ()))
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return page(request, "error.html", status=400, message="; ".join(parts) or "invalid request")

    @app.exception_handler(MediaTooLarge)
    async def too_large(request: Request, exc: MediaTooLarge) -> HTMLResponse:
        return page(request, "error.html", status=413, message=str(exc))

    @app.exception_handler(GalleryError)
    async def failure(request: Request, exc: GalleryError) -> HTMLResponse:
        return page(request, "error.html", status=500, message=str(exc))

    @app.exception_handler(PermissionError)
    async def forbidden(request: Request, exc: PermissionError) -> HTMLResponse:
        return page(request, "error.html", status=403, message=str(exc))
