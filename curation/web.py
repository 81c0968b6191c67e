"""The curation web app (FastAPI + server-rendered Jinja templates, a little JavaScript).

Pages: the grid (filters, search box, infinite scroll), an artwork's detail (recipe, features,
family, "more like this", rating, tags, variations), the map, sets and the set builder.

Safety: loopback only unless a token (from the environment) is set; media served only by media id
from the store; templates autoescape every string; every POST needs the CSRF token of its page
(double-submit cookie) and a same-origin Origin (or Referer) header.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import numpy as np
from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BeforeValidator
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from curation import sets, works
from curation.search import Filters, Hit, Searcher, feature_ranges, feature_table
from gallery.errors import BadInput, GalleryError
from gallery.media import MediaTooLarge

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
CSRF_COOKIE = "lg_csrf"
TOKEN_COOKIE = "lg_token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
MAX_UPLOAD = 20 * 1024 * 1024
# Request limits, checked in one place each (ids: the Id type and _id; tags: clean_tags; bodies: BodyLimit).
MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32-bit on PostgreSQL; beyond this no row can exist
MAX_TAGS = 64  # tags in one request (added, removed, or in a filter)
MAX_FORM_BYTES = 1024 * 1024  # any request body but an image upload
MAX_FORM_FIELDS = 1000
MIN_TOKEN = 16



def _id_digits(v: Any) -> Any:
    """Path ids are plain ASCII digits (no "1.0", " 7 ", "٣", "1_000"), and short enough to parse."""
    if isinstance(v, str):
        if not (v.isascii() and v.isdigit()):
            raise ValueError(f"an id is a whole number 1..{MAX_ID} (digits only)")
        if len(v) > 12:
            raise ValueError(f"an id is at most {MAX_ID}")
    return v


Id = Annotated[int, BeforeValidator(_id_digits), PathParam(ge=1, le=MAX_ID)]  # every id in a path


class BodyTooLarge(BadInput):
    """A request body over its limit (answered 413 as soon as the limit is passed)."""


def body_limit(path: str) -> int:
    return MAX_UPLOAD + 64 * 1024 if path == "/search/image" else MAX_FORM_BYTES


class BodyLimit:
    """ASGI middleware: refuses a body over its limit by its Content-Length before reading it, and
    counts the bytes of a streamed body as they arrive (raising :class:`BodyTooLarge` past the limit),
    so an oversized upload is never spooled to disk whole."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope.get("path", ""))
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    n = -1
                if n < 0 or n > limit:
                    await HTMLResponse(f"request body too large (at most {limit // 1024} KiB here)"
                                       if n > limit else "bad Content-Length", status_code=413 if n > limit else 400)(
                        scope, receive, send)
                    return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"request body too large (at most {limit // 1024} KiB here)")
            return msg

        await self.app(scope, counted, send)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_token(host: str, token_env: str, environ: dict[str, str] | None = None) -> str | None:
    """The access token when serving beyond loopback (BadInput when it is missing or weak)."""
    env = os.environ if environ is None else environ
    tok = env.get(token_env, "")
    if is_loopback(host) and tok == "":
        return None
    if not tok:
        raise BadInput(f"serving on {host} (not loopback) needs an access token: set the environment variable "
                       f"{token_env} (curation.token_env) to a long random string")
    return check_token(tok, token_env)


def check_token(tok: str, token_env: str) -> str:
    """A usable access token, or BadInput saying what is wrong with it (never the token itself)."""
    if not tok.strip():
        raise BadInput(f"the token in ${token_env} is blank (only spaces): set it to a long random string")
    if tok != tok.strip() or any(c.isspace() or unicodedata.category(c).startswith("C") for c in tok):
        raise BadInput(f"the token in ${token_env} holds spaces or control characters: use a long random "
                       "string without them")
    if len(tok) < MIN_TOKEN:
        raise BadInput(f"the token in ${token_env} is too short ({len(tok)} characters; at least {MIN_TOKEN})")
    return tok


def clean_tag(raw: str) -> str:
    t = unicodedata.normalize("NFC", (raw or "").strip().lower())
    if not t or len(t) > 100 or any(unicodedata.category(c).startswith("C") for c in t):
        raise BadInput(f"tag {raw[:40]!r}: 1..100 printable characters")
    return t


def clean_tags(raws: list[str], what: str = "tags") -> list[str]:
    """Tags from a request: at most MAX_TAGS, each as :func:`clean_tag` (duplicates dropped)."""
    raws = [r for r in raws if r.strip()]
    if len(raws) > MAX_TAGS:
        raise BadInput(f"{what}: {len(raws)} given, at most {MAX_TAGS} in one request")
    return list(dict.fromkeys(clean_tag(r) for r in raws))


def _id(v: Any, what: str) -> int | None:
    """An id from a form or query field: a whole number 1..MAX_ID, or None when empty."""
    return _int(v, what, 1, MAX_ID)


def _int(v: Any, what: str, lo: int | None = None, hi: int | None = None) -> int | None:
    if v in (None, ""):
        return None
    sv = str(v).strip()
    if not (sv.isascii() and sv.removeprefix("-").isdigit()) or len(sv) > 40:  # no "1_000", "²", 10**4300
        raise BadInput(f"{what}: {sv[:40]!r} is not a whole number")
    try:
        i = int(sv)
    except (TypeError, ValueError) as e:
        raise BadInput(f"{what}: {sv[:40]!r} is not a whole number") from e
    if (lo is not None and i < lo) or (hi is not None and i > hi):
        raise BadInput(f"{what}: {i} is outside {lo}..{hi}")
    return i


def _float(v: Any, what: str) -> float | None:
    if v in (None, ""):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError) as e:
        raise BadInput(f"{what}: {str(v)[:40]!r} is not a number") from e
    if f != f:
        raise BadInput(f"{what}: not a number")
    return f


def filters_from(params: Any) -> Filters:
    ranges = {}
    for name in ("brightness", "colourfulness", "contrast", "loudness"):
        lo, hi = _float(params.get(f"{name}_min"), f"{name} min"), _float(params.get(f"{name}_max"), f"{name} max")
        if lo is not None or hi is not None:
            ranges[name] = (lo if lo is not None else float("-inf"), hi if hi is not None else float("inf"))
    kinds = [k for k in params.getlist("kind") if k] if hasattr(params, "getlist") else []
    tags = clean_tags((params.get("tag") or "").split(","), "tag filter")
    return Filters(kinds=kinds, tags=tags, min_rating=_int(params.get("min_rating"), "min rating", 0, 5),
                   model=(params.get("model") or None), ranges=ranges, since=_day(params.get("since"), "since"),
                   until=_day(params.get("until"), "until")).validate()


def _day(v: Any, what: str) -> datetime | None:
    if not v:
        return None
    try:
        return datetime.fromisoformat(str(v))
    except ValueError as e:
        raise BadInput(f"{what}: {str(v)[:40]!r} is not a date (YYYY-MM-DD)") from e


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
    app.state.gallery = st
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.autoescape = True
    templates.env.globals["urlencode"] = urlencode

    # ---- security ------------------------------------------------------------------------
    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        host_name = urlsplit("//" + request.headers.get("host", "")).hostname or ""
        if not st.token and not (is_loopback(host_name) or host_name in extra_hosts):
            return HTMLResponse("this address is not served without a token (curation.token_env)", status_code=421)
        if st.token:
            given = (request.headers.get("authorization", "").removeprefix("Bearer ").strip()
                     or request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token") or "")
            if not hmac.compare_digest(given.encode(), st.token.encode()):
                return HTMLResponse("access token required", status_code=401)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            src = request.headers.get("origin") or request.headers.get("referer")
            host = request.headers.get("host", "")
            if not src or urlsplit(src).netloc != host:
                return HTMLResponse("cross-site request refused (Origin does not match this site)", status_code=403)
        resp: Response = await call_next(request)
        csrf = getattr(request.state, "csrf", None)  # set only by a page that rendered it into its forms
        if CSRF_COOKIE not in request.cookies and csrf:
            resp.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
        if st.token and request.query_params.get("token"):
            resp.set_cookie(TOKEN_COOKIE, st.token, httponly=True, samesite="strict")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; media-src 'self'; "
                                                   "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'")
        return resp

    def csrf_token(request: Request) -> str:
        tok = request.cookies.get(CSRF_COOKIE)
        if not tok:
            tok = getattr(request.state, "csrf", None) or secrets.token_urlsafe(24)
            request.state.csrf = tok
        return tok

    async def form(request: Request) -> Any:
        try:
            f = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES)
        except (MultiPartException, StarletteHTTPException) as e:  # too many fields, a malformed body
            raise BadInput(f"form refused: {getattr(e, 'message', None) or getattr(e, 'detail', e)}") from e
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(str(f.get("csrf", "")).encode(), cookie.encode()):
            raise PermissionError("missing or wrong CSRF token: reload the page and try again")
        return f

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.update(request=request, csrf=csrf_token(request), sets_list=sets.ls(st.cat))
        return templates.TemplateResponse(request, name, ctx, status_code=status)

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

    # ---- helpers -------------------------------------------------------------------------
    def cards(hits: list[Hit]) -> list[dict[str, Any]]:
        ids = [h.id for h in hits]
        feats = feature_table(st.cat, ids, ["brightness", "loudness"])
        out = []
        arts = works.by_id(st.cat, ids)
        for h in hits:
            a = arts.get(h.id)
            if a is None:
                continue
            th = a.first_media("thumbnail", "poster", "image", "spectrogram", "pianoroll")
            out.append({"id": a.id, "title": a.title or f"#{a.id}", "kind": a.kind, "score": h.score,
                        "thumb": th.id if th else None, "rating": a.rating,
                        "brightness": feats.get(a.id, {}).get("brightness")})
        return out

    def mark_duplicates(artwork_id: int, like: list[dict[str, Any]]) -> None:
        """Flag the "more like this" cards that are near-duplicates (hash + embedding, as `curate dups`)."""
        from curation.search import feature_vectors
        from curation.select import near_duplicates

        ids = [artwork_id] + [c["id"] for c in like]
        hv = feature_vectors(st.cat, ids, "phash")
        ids = [a for a in ids if a in hv]
        if artwork_id not in ids:
            return
        groups = near_duplicates(ids, np.stack([hv[a] for a in ids]), st.searcher.index.vectors(ids),
                                 cs.dup_hash_bits, cs.dup_cosine)
        dup = next((set(g) for g in groups if artwork_id in g), set())
        for c in like:
            c["duplicate"] = c["id"] in dup

    def run_search(params: Any, offset: int = 0) -> tuple[list[dict[str, Any]], str | None]:
        q = (params.get("q") or "").strip() or None
        like = _id(params.get("like"), "like")
        k = cs.page_size
        hits = st.searcher.search(text=q, like=like, filters=filters_from(params), k=k, offset=offset)
        return cards(hits), (str(offset + k) if len(hits) == k else None)

    # ---- pages ---------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def grid(request: Request) -> HTMLResponse:
        st.refresh()
        p = request.query_params
        items, nxt = run_search(p)
        qs = [(k, v) for k, v in p.multi_items() if k != "offset"]
        return page(request, "grid.html", items=items, next_offset=nxt, qs=urlencode(qs), params=p,
                    ranges=feature_ranges(st.cat), kinds=works.kinds(st.cat),
                    text_ok=st.searcher.enc.name != "hist")

    @app.get("/grid", response_class=HTMLResponse)
    def grid_more(request: Request) -> HTMLResponse:
        p = request.query_params
        items, nxt = run_search(p, offset=_int(p.get("offset"), "offset", 0, 1_000_000) or 0)
        qs = [(k, v) for k, v in p.multi_items() if k != "offset"]
        return page(request, "_cards.html", items=items, next_offset=nxt, qs=urlencode(qs))

    @app.post("/search/image", response_class=HTMLResponse)
    async def search_image(request: Request) -> HTMLResponse:
        f = await form(request)
        up = f.get("image")
        if up is None or not hasattr(up, "read"):
            raise BadInput("choose an image file to search by")
        data = await up.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise BodyTooLarge(f"uploaded image is over {MAX_UPLOAD // 1024 // 1024} MB")
        if not data:
            raise BadInput("the uploaded image file is empty")
        hits = st.searcher.search(image=data, k=cs.page_size)
        return page(request, "grid.html", items=cards(hits), next_offset=None, qs="", params={},
                    ranges=feature_ranges(st.cat), kinds=works.kinds(st.cat), text_ok=st.searcher.enc.name != "hist",
                    note=f"matches for the uploaded image {getattr(up, 'filename', '')}")

    @app.get("/a/{artwork_id}", response_class=HTMLResponse)
    def detail(request: Request, artwork_id: Id) -> HTMLResponse:
        a = st.cat.get(artwork_id)
        if a is None:
            return page(request, "error.html", status=404, message=f"no artwork {artwork_id}")
        sr = st.searcher
        like: list[dict[str, Any]] = []
        if sr.index.has(artwork_id):
            like = cards(sr.search(like=artwork_id, k=12))
            mark_duplicates(artwork_id, like)
        parents, children = works.lineage(st.cat, artwork_id)
        from curation.generate import can_vary as _can_vary

        can_vary = _can_vary(a)
        return page(request, "detail.html", a=a, recipe=json.dumps(a.recipe, indent=2, ensure_ascii=False),
                    feats=feature_table(st.cat, [artwork_id]).get(artwork_id, {}), like=like,
                    parents=parents, children=children, tags=sorted(t.name for t in a.tags), can_vary=can_vary,
                    note=request.query_params.get("note"))

    @app.post("/a/{artwork_id}/rate")
    async def rate(request: Request, artwork_id: Id) -> Response:
        f = await form(request)
        r = _int(f.get("rating"), "rating", 0, 5)
        works.rate(st.cat, artwork_id, r)
        return RedirectResponse(f"/a/{artwork_id}", status_code=303)

    @app.post("/a/{artwork_id}/tags")
    async def tags(request: Request, artwork_id: Id) -> Response:
        f = await form(request)
        add = clean_tags(str(f.get("add") or "").split(","), "tags to add")
        remove = clean_tags([str(t) for t in f.getlist("remove")], "tags to remove")
        works.retag(st.cat, artwork_id, add, remove)
        return RedirectResponse(f"/a/{artwork_id}", status_code=303)

    @app.post("/a/{artwork_id}/vary")
    async def vary(request: Request, artwork_id: Id) -> Response:
        from curation.generate import queue_between, queue_variations

        f = await form(request)
        other = _id(f.get("other"), "other artwork")
        window = "tonight" if f.get("when") != "now" else None
        if other:
            runs = [queue_between(st.cat, artwork_id, other, _int(f.get("steps"), "steps", 2, 256) or 8,
                                  window=window)]
        else:
            runs = queue_variations(st.cat, artwork_id, _int(f.get("count"), "count", 1, 64) or 4,
                                    _float(f.get("sigma"), "sigma") or 0.3, window=window)
        note = f"queued run(s) {', '.join(map(str, runs))}" + (" for tonight" if window else "")
        return RedirectResponse(f"/a/{artwork_id}?{urlencode({'note': note})}", status_code=303)

    @app.get("/media/{media_id}")
    def media(media_id: Id) -> Response:
        m = works.media(st.cat, media_id)
        if m is None or m.broken:
            return Response("no such media", status_code=404, media_type="text/plain")
        p = st.cat.media_path(m)
        if not p.is_file():
            return Response("media missing from the store", status_code=404, media_type="text/plain")
        return FileResponse(p, media_type=m.mime, headers={"Cache-Control": "private, max-age=86400"})

    # ---- map -----------------------------------------------------------------------------
    @app.get("/map", response_class=HTMLResponse)
    def map_page(request: Request) -> HTMLResponse:
        return page(request, "map.html", axis=request.query_params.get("axis", "pca"))

    @app.get("/map.json")
    def map_json(axis: str = "pca", limit: int = 2000) -> JSONResponse:
        from curation.mapview import layout

        sr = st.searcher
        ids = [a for a in works.ok_ids(st.cat) if sr.index.has(a)][: max(1, min(limit, 20_000))]
        bright = {a: v.get("brightness") for a, v in feature_table(st.cat, ids, ["brightness"]).items()
                  if v.get("brightness") is not None}
        pts = layout(ids, sr.index.vectors(ids), axis=axis, brightness=bright)
        info = {c["id"]: c for c in cards([Hit(p["id"]) for p in pts])}
        for p in pts:
            c = info.get(p["id"], {})
            p.update(title=c.get("title", ""), thumb=c.get("thumb"), brightness=c.get("brightness"))
        return JSONResponse({"axis": axis, "points": pts})

    # ---- sets ----------------------------------------------------------------------------
    @app.get("/sets", response_class=HTMLResponse)
    def sets_page(request: Request) -> HTMLResponse:
        return page(request, "sets.html")

    @app.post("/sets")
    async def sets_create(request: Request) -> Response:
        f = await form(request)
        ids = [i for i in (_id(x, "artwork") for x in f.getlist("artwork")) if i is not None]
        cid = sets.create(st.cat, str(f.get("title") or ""), str(f.get("description") or ""), ids)
        return RedirectResponse(f"/sets/{cid}", status_code=303)

    @app.get("/sets/{cid}", response_class=HTMLResponse)
    def set_page(request: Request, cid: Id) -> HTMLResponse:
        from curation.select import suggest

        c = sets.show(st.cat, cid)
        ids = [it.artwork_id for it in sorted(c.items, key=lambda it: it.position)]
        p = request.query_params
        sug: list[dict[str, Any]] = []
        size = _int(p.get("size"), "size", 1, 100) or 6
        variety = _float(p.get("variety"), "variety")
        variety = cs.variety if variety is None else variety
        if p.get("suggest"):
            q = (p.get("q") or "").strip() or None
            sug = cards([Hit(a) for a in suggest(st.searcher, size, text=q, variety=variety, exclude=set(ids))])
        return page(request, "set.html", c=c, items=cards([Hit(a) for a in ids]), sug=sug, size=size,
                    variety=variety, q=p.get("q", ""), note=p.get("note"))

    @app.post("/sets/{cid}/add")
    async def set_add(request: Request, cid: Id) -> Response:
        f = await form(request)
        ids = [_id(x, "artwork") for x in f.getlist("artwork")]
        sets.add(st.cat, cid, [i for i in ids if i is not None])
        back = str(f.get("back") or "")
        return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else f"/sets/{cid}",
                                status_code=303)

    @app.post("/sets/{cid}/remove")
    async def set_remove(request: Request, cid: Id) -> Response:
        f = await form(request)
        sets.remove(st.cat, cid, [_id(f.get("artwork"), "artwork") or 0])
        return RedirectResponse(f"/sets/{cid}", status_code=303)

    @app.post("/sets/{cid}/move")
    async def set_move(request: Request, cid: Id) -> Response:
        f = await form(request)
        sets.move(st.cat, cid, _id(f.get("artwork"), "artwork") or 0, _int(f.get("delta"), "delta", -1000, 1000) or 0)
        return RedirectResponse(f"/sets/{cid}", status_code=303)

    @app.post("/sets/{cid}/edit")
    async def set_edit(request: Request, cid: Id) -> Response:
        f = await form(request)
        sets.edit(st.cat, cid, str(f.get("title") or ""), str(f.get("description") or ""))
        return RedirectResponse(f"/sets/{cid}", status_code=303)

    @app.post("/sets/{cid}/freeze")
    async def set_freeze(request: Request, cid: Id) -> Response:
        await form(request)
        sets.freeze(st.cat, cid)
        return RedirectResponse(f"/sets/{cid}", status_code=303)

    @app.get("/sets/{cid}/export.zip")
    def set_export(cid: Id) -> Response:
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

    return app

