"""The app factory: state, middleware (body limits, then the security guard), error pages, routers."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from curation.web.deps import App
from curation.web.pages import add_error_pages, make_templates
from curation.web.routes import artworks, editing, files, generation, maps, queries, search, sets, staff
from curation.web.security import BodyLimit, check_token, guard

ROUTERS = (search.router, artworks.router, generation.router, files.router, maps.router, sets.router,
           queries.router, editing.router, staff.router)


def create_app(settings: Any, cat: Any, encoder: Any = None, token: str | None = None,
               extra_hosts: tuple[str, ...] = ()) -> FastAPI:
    """The app. Without a token only loopback Host names are served (a DNS-rebinding page cannot
    reach it under its own name); ``extra_hosts`` adds names (e.g. the test client's)."""
    cs = settings.curation
    if token is None:
        token = os.environ.get(cs.token_env) or None
    if token is not None:
        token = check_token(token, cs.token_env)
    st = App(settings, cat, encoder, token)
    app = FastAPI(title="Latent Gallery curation", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit)
    app.middleware("http")(guard(lambda: st.token, extra_hosts))  # added last: it runs first
    app.state.gallery = st
    app.state.templates = make_templates()
    add_error_pages(app)
    for r in ROUTERS:
        app.include_router(r)
    return app
