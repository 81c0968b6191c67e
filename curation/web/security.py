"""Every safety check of the curation web app, in one place.

- **Host / loopback**: without a token only loopback Host names are served (421), so a DNS-rebinding
  page cannot reach the app under its own name (:func:`guard`).
- **Token**: beyond loopback an access token (from the environment) is required on every request, as a
  Bearer header, a cookie or a ``?token=`` (401); a weak token is refused at start (:func:`check_token`).
- **Origin**: every request but GET/HEAD/OPTIONS needs a same-origin Origin (or Referer) header (403).
- **CSRF**: every POST carries the token of its page in its form (double-submit cookie), checked by the
  :func:`csrf_form` dependency every POST route declares (403).
- **Limits**: bodies (:class:`BodyLimit`, 413 as soon as a limit is passed), form fields, ids (the
  :data:`Id` type and :func:`curation.web.params.as_id`), tags (:func:`clean_tags`); per artwork tags in
  :data:`curation.works.MAX_TAGS_PER_ARTWORK`.
- **Headers**: nosniff, no framing, same-origin referrers and a content security policy on every answer.

Media are served only by media id from the store, and templates autoescape every string.
"""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Path as PathParam
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import BeforeValidator, TypeAdapter, ValidationError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from gallery.errors import BadInput
from gallery.tokens import LOOPBACK_NAMES, MIN_TOKEN, check_token, is_loopback, require_token  # noqa: F401 - shared

CSRF_COOKIE = "lg_csrf"
TOKEN_COOKIE = "lg_token"
MAX_UPLOAD = 20 * 1024 * 1024
# Request limits, checked in one place each (ids: the Id type and params.as_id; tags: clean_tags;
# bodies: BodyLimit).
MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32-bit on PostgreSQL; beyond this no row can exist
MAX_TAGS = 64  # tags in one request (added, removed, or in a filter)
MAX_FORM_BYTES = 1024 * 1024  # any request body but an image upload
MAX_FORM_FIELDS = 1000
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; media-src 'self'; "
                                "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"),
}


# ---- ids and tags ----------------------------------------------------------------------------------
def _id_digits(v: Any) -> Any:
    """Path ids are plain ASCII digits (no "1.0", " 7 ", "٣", "1_000"), and short enough to parse."""
    if isinstance(v, str):
        if not (v.isascii() and v.isdigit()):
            raise ValueError(f"an id is a whole number 1..{MAX_ID} (digits only)")
        if len(v) > 12:
            raise ValueError(f"an id is at most {MAX_ID}")
    return v


Id = Annotated[int, BeforeValidator(_id_digits), PathParam(ge=1, le=MAX_ID)]  # every id in a path
_PATH_ID = TypeAdapter(Id)


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


# ---- bodies ----------------------------------------------------------------------------------------
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


# ---- hosts and tokens ------------------------------------------------------------------------------
Dispatch = Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]


def guard(token_of: Callable[[], str | None], extra_hosts: tuple[str, ...] = ()) -> Dispatch:
    """The HTTP middleware every request passes: Host (without a token), token, Origin of a change; on
    the way out the CSRF and token cookies and the security headers."""

    async def dispatch(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        token = token_of()
        host_name = urlsplit("//" + request.headers.get("host", "")).hostname or ""
        if not token and not (is_loopback(host_name) or host_name in extra_hosts):
            return HTMLResponse("this address is not served without a token (curation.token_env)", status_code=421)
        if token:
            given = (request.headers.get("authorization", "").removeprefix("Bearer ").strip()
                     or request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token") or "")
            if not hmac.compare_digest(given.encode(), token.encode()):
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
        if token and request.query_params.get("token"):
            resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        for k, v in SECURITY_HEADERS.items():
            resp.headers[k] = v
        return resp

    return dispatch


# ---- CSRF ------------------------------------------------------------------------------------------
def csrf_token(request: Request) -> str:
    """The CSRF token a page renders into its forms (the guard sets its cookie on the way out)."""
    tok = request.cookies.get(CSRF_COOKIE)
    if not tok:
        tok = getattr(request.state, "csrf", None) or secrets.token_urlsafe(24)
        request.state.csrf = tok
    return tok


async def csrf_form(request: Request) -> FormData:
    """Dependency of every POST route: its form, once the ids in its path are valid (a bad id is a 400
    before the body is read, as FastAPI's own validation answers it) and its CSRF token matches the
    cookie (403)."""
    errors = []
    for name, raw in request.path_params.items():  # every path parameter of a POST route is an Id
        try:
            _PATH_ID.validate_python(raw)
        except ValidationError as e:
            errors += [{**err, "loc": ("path", name, *err["loc"])} for err in e.errors()]
    if errors:
        raise RequestValidationError(errors)
    try:
        f = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES)
    except (MultiPartException, StarletteHTTPException) as e:  # too many fields, a malformed body
        raise BadInput(f"form refused: {getattr(e, 'message', None) or getattr(e, 'detail', e)}") from e
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(str(f.get("csrf", "")).encode(), cookie.encode()):
        raise PermissionError("missing or wrong CSRF token: reload the page and try again")
    return f
