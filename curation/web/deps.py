"""What the routes depend on: the app's state (settings, catalogue, the searcher) and the checked form
of a POST (see :mod:`curation.web.security`)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData

from curation.search import Searcher
from curation.web.security import csrf_form


class App:
    """Holds the settings, catalogue and a lazily loaded searcher (the encoder loads once)."""

    def __init__(self, settings: Any, cat: Any, encoder: Any = None, token: str | None = None) -> None:
        self.settings, self.cat, self._enc, self.token = settings, cat, encoder, token
        self._lock = threading.Lock()
        self._searcher: Searcher | None = None
        self._refreshed = float("-inf")

    @property
    def searcher(self) -> Searcher:
        with self._lock:
            if self._searcher is None:
                from curation.embed import load_encoder
                from curation.indexer import index_catalogue

                enc = self._enc or load_encoder(self.settings)
                index_catalogue(self.cat, enc)
                self._searcher = Searcher(self.settings, self.cat, enc)
            return self._searcher

    def refresh(self, every_s: float = 10.0) -> None:
        """Index artworks added since the app started (at most every ``every_s`` seconds)."""
        import time

        from curation.indexer import index_catalogue

        sr = self.searcher
        now = time.monotonic()
        if now - self._refreshed < every_s:
            return
        self._refreshed = now
        from curation.generate import link_lineage

        link_lineage(self.cat)  # results of queued runs the scheduler has finished since
        index_catalogue(self.cat, sr.enc)


async def get_state(request: Request) -> App:
    return request.app.state.gallery


State = Annotated[App, Depends(get_state)]
CsrfForm = Annotated[FormData, Depends(csrf_form)]  # every POST route takes its form through this
