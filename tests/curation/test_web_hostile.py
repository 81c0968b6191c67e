"""Hostile requests get a clear 4xx and write nothing: ids out of range or not numbers, too many or
bad tags, empty and oversized uploads (also streamed without a length), weak tokens; property-based
with Hypothesis over the form fields, ids and tags. ``LG_HYPOTHESIS_EXAMPLES`` scales the examples."""

from __future__ import annotations

import os
import re
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from curation import sets
from curation.embed import HistEncoder
from curation.web.app import ROUTERS, create_app
from curation.web.security import MAX_ID, MAX_TAGS, MAX_UPLOAD, check_token, require_token
from gallery.errors import BadInput
from tests.curation.helpers import draw, fill, png

ORIGIN = {"origin": "http://testserver"}
EXAMPLES = int(os.environ.get("LG_HYPOTHESIS_EXAMPLES", "60"))
HYP = settings(max_examples=EXAMPLES, deadline=None, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TABLES = ("artwork", "tag", "collection", "collection_item", "run", "lineage", "media")


@pytest.fixture
def hostile(settings, catalogue):
    ids = list(fill(catalogue).values())
    cid = sets.create(catalogue, "A set", artwork_ids=ids[:2])
    app = create_app(settings, catalogue, encoder=HistEncoder(), token=None, extra_hosts=("testserver",))
    with TestClient(app, raise_server_exceptions=False) as c:
        tok = re.search(r'name="csrf" value="([^"]+)"', c.get("/sets").text).group(1)
        c.ids, c.cid, c.tok, c.cat = ids, cid, tok, catalogue
        yield c


def snapshot(c: TestClient) -> tuple:
    """Every row of the tables a request could change, and the blobs in the store."""
    with c.cat.read() as s:
        rows = tuple(tuple(map(tuple, s.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all())) for t in TABLES)
    return rows, tuple(sorted(sha for sha, _ in c.cat.store.iter_blobs()))


def post(c: TestClient, url: str, data: dict, **kw):
    return c.post(url, data={**data, "csrf": c.tok}, headers=ORIGIN, follow_redirects=False, **kw)


def assert_refused(r, before, c, codes=range(400, 500)) -> None:
    assert r.status_code in codes, (r.status_code, r.text[:300])
    assert "Internal Server Error" not in r.text
    assert snapshot(c) == before, "a refused request changed the catalogue"


# ---- strategies -----------------------------------------------------------------------------------
big_ints = st.one_of(st.integers(min_value=MAX_ID + 1, max_value=2**200),
                     st.integers(max_value=0, min_value=-(2**200)))
not_numbers = st.text(min_size=1, max_size=30)


def valid_id(s: str) -> bool:
    """The rule ids follow: ASCII digits (spaces around a form value allowed), 1..MAX_ID."""
    t = s.strip()
    return t.isascii() and t.isdigit() and len(t) <= 12 and 1 <= int(t) <= MAX_ID


bad_ids = st.one_of(big_ints.map(str), not_numbers,
                    st.sampled_from(["1e3", "0x10", "1_000", "²", "٣", "1.0", "+5", "+", "-", "9" * 5000])
                    ).filter(lambda s: not valid_id(s))
bad_tag = st.one_of(st.text(min_size=101, max_size=300).filter(lambda s: len(s.strip()) > 100),
                    st.text(min_size=1, max_size=20).map(lambda s: "a" + s + "\x07"),  # control character
                    st.sampled_from(["\x00", "tag\r\nSet-Cookie: x=1", "\u200e"]))
too_many = st.integers(min_value=MAX_TAGS + 1, max_value=20_000).map(lambda n: [f"t{i}" for i in range(n)])


def id_routes(c: TestClient) -> list[tuple[str, str, dict]]:
    a = c.ids[0]
    return [("GET", "/a/{}", {}), ("GET", "/media/{}", {}), ("GET", "/sets/{}", {}),
            ("POST", "/a/{}/rate", {"rating": "3"}), ("POST", "/a/{}/tags", {"add": "x"}),
            ("POST", "/a/{}/vary", {"count": "2"}), ("POST", "/sets/{}/add", {"artwork": str(a)}),
            ("POST", "/sets/{}/edit", {"title": "t"}), ("POST", "/sets/{}/freeze", {}),
            ("GET", "/sets/{}/export.zip", {})]


# ---- properties -----------------------------------------------------------------------------------
@HYP
@given(bad=bad_ids, route=st.integers(0, 9))
def test_bad_path_ids_are_4xx_and_write_nothing(hostile, bad, route):
    c = hostile
    before = snapshot(c)
    method, url, data = id_routes(c)[route]
    path = url.format(quote(bad, safe=""))
    r = c.get(path) if method == "GET" else post(c, path, data)
    assert_refused(r, before, c)


@HYP
@given(bad=bad_ids, field=st.sampled_from(["set-add", "set-remove", "set-move", "set-create", "vary-other",
                                            "like", "offset"]))
def test_bad_ids_in_forms_and_queries_are_4xx_and_write_nothing(hostile, bad, field):
    c = hostile
    before = snapshot(c)
    a, cid = c.ids[0], c.cid
    if field == "set-add":
        r = post(c, f"/sets/{cid}/add", {"artwork": [str(c.ids[3]), bad]})
    elif field == "set-remove":
        r = post(c, f"/sets/{cid}/remove", {"artwork": bad})
    elif field == "set-move":
        r = post(c, f"/sets/{cid}/move", {"artwork": bad, "delta": "1"})
    elif field == "set-create":
        r = post(c, "/sets", {"title": "new", "artwork": [str(a), bad]})
    elif field == "vary-other":
        r = post(c, f"/a/{a}/vary", {"other": bad, "steps": "4"})
    elif field == "like":
        r = c.get("/", params={"like": bad})
    else:
        num = bad.strip().lstrip("+-")
        r = c.get("/grid", params={"offset": "-1" + num if num.isascii() and num.isdigit() else bad})
    assert_refused(r, before, c)


@HYP
@given(tags=st.one_of(too_many, st.lists(bad_tag, min_size=1, max_size=5).flatmap(
    lambda bad: st.lists(st.sampled_from(["ok", "fine"]), max_size=3).map(lambda good: good + bad))),
       where=st.sampled_from(["add", "remove", "filter"]))
def test_bad_tags_are_4xx_and_write_nothing(hostile, tags, where):
    c = hostile
    before = snapshot(c)
    a = c.ids[0]
    if where == "add":
        r = post(c, f"/a/{a}/tags", {"add": ",".join(t.replace(",", ";") for t in tags)})
    elif where == "remove":
        r = post(c, f"/a/{a}/tags", {"remove": tags})
    else:
        # (a URL holds at most a few thousand tags: the HTTP client and server cap its length)
        r = c.get("/", params={"tag": ",".join(t.replace(",", ";") for t in tags[:1500])})
    assert_refused(r, before, c)


@HYP
@given(fields=st.dictionaries(st.sampled_from(["rating", "count", "steps", "sigma", "delta", "when", "other",
                                               "title", "description", "add", "remove", "artwork", "back"]),
                              st.one_of(st.text(max_size=50), big_ints.map(str)), min_size=1, max_size=6),
       url=st.sampled_from(["/a/{a}/rate", "/a/{a}/tags", "/a/{a}/vary", "/sets", "/sets/{cid}/add",
                            "/sets/{cid}/remove", "/sets/{cid}/move", "/sets/{cid}/edit"]))
def test_arbitrary_form_fields_never_500(hostile, fields, url):
    """Any mix of fields: a success (redirect) or a clear 4xx that wrote nothing; never a 500."""
    c = hostile
    before = snapshot(c)
    r = post(c, url.format(a=c.ids[0], cid=c.cid), fields)
    assert r.status_code < 500, (r.status_code, fields, r.text[:300])
    if r.status_code >= 400:
        assert snapshot(c) == before


# ---- the cases of the issue, one by one -----------------------------------------------------------
def test_ids_beyond_64_bits_and_20000_tags(hostile):
    c = hostile
    before = snapshot(c)
    for path in (f"/a/{2**64}", f"/media/{2**64}", f"/sets/{2**64}", f"/a/{MAX_ID + 1}"):
        r = c.get(path)
        assert_refused(r, before, c, {400})
        assert "2147483647" in r.text  # says the bound
    r = post(c, f"/a/{c.ids[0]}/tags", {"add": ",".join(f"t{i}" for i in range(20_000))})
    assert_refused(r, before, c, {400})
    assert f"at most {MAX_TAGS}" in r.text
    assert c.get(f"/a/{c.ids[0]}").status_code == 200  # the id type still lets real ids through


def asgi_stream(app, path: str, chunks: int, chunk: int) -> dict:
    """POST ``chunks`` body chunks without a Content-Length straight into the ASGI app; counts how
    many it asked for."""
    import asyncio

    out = {"received": 0, "status": None}
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"origin", b"http://testserver"),
                         (b"content-type", b"application/x-www-form-urlencoded"),
                         (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}

    async def receive():
        if out["received"] >= chunks:
            await asyncio.sleep(3600)  # the client has sent everything; only a disconnect would follow
        out["received"] += 1
        return {"type": "http.request", "body": b"\0" * chunk, "more_body": out["received"] < chunks}

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 60))
    return out


def test_uploads_empty_huge_and_streamed(hostile):
    c = hostile
    before = snapshot(c)
    r = post(c, "/search/image", {}, files={"image": ("empty.png", b"", "image/png")})
    assert_refused(r, before, c, {400})
    assert "empty" in r.text
    r = post(c, "/search/image", {}, files={"image": ("huge.png", b"\0" * (MAX_UPLOAD + 1), "image/png")})
    assert_refused(r, before, c, {413})
    # A body without a length (chunked), fed to the app as a server streams it: refused as soon as
    # it passes the limit, not read to the end.
    got = asgi_stream(c.app, "/sets", chunks=200, chunk=1 << 20)  # 200 MiB offered
    assert got["status"] == 413 and snapshot(c) == before
    assert got["received"] <= 3, f"read {got['received']} MiB of a body over its 1 MiB limit"
    r = c.post("/search/image", content=b"x" * (MAX_UPLOAD + 128 * 1024),
               headers={**ORIGIN, "content-type": "multipart/form-data; boundary=b"})
    assert_refused(r, before, c, {413})
    ok = post(c, "/search/image", {}, files={"image": ("red.png", png(draw("circle", "red", "white")), "image/png")})
    assert ok.status_code == 200  # a real image still searches


def test_blank_and_short_tokens_refused_at_startup(settings, catalogue):
    env = "GALLERY_CURATE_TOKEN"
    for tok, msg in [(" " * 40, "blank"), ("\t\n  ", "blank"), (" padded-token-0123456789 ", "spaces"),
                     ("tok with space 0123456789", "spaces"), ("xq7z-k", "too short")]:
        with pytest.raises(BadInput, match=msg) as e:
            require_token("0.0.0.0", env, environ={env: tok})
        assert tok.strip() == "" or tok.strip() not in str(e.value)  # the token is never echoed
        with pytest.raises(BadInput, match=msg):
            create_app(settings, catalogue, encoder=HistEncoder(), token=tok)
    with pytest.raises(BadInput, match="blank"):  # a blank token on loopback is a mistake too
        require_token("127.0.0.1", env, environ={env: "   "})
    assert check_token("s3cret-token-0123456789", env) == "s3cret-token-0123456789"


HEADERS = ("x-content-type-options", "x-frame-options", "referrer-policy", "content-security-policy")


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token_and_a_foreign_origin(hostile):
    """Every POST route of every router the app includes (found from the routers, so a new one cannot
    forget the check) answers 403 without the page's CSRF token, with a wrong one and from another origin; every
    CSRF refusal carries the security headers, and nothing is written."""
    c = hostile
    before = snapshot(c)
    routes = sorted(r.path for router in ROUTERS for r in router.routes
                    if isinstance(r, APIRoute) and "POST" in r.methods)
    assert "/sets/{cid}/freeze" in routes and "/search/image" in routes and len(routes) >= 10
    for path in routes:
        url = path.format(artwork_id=c.ids[0], cid=c.cid, qid=1)
        for data in ({}, {"csrf": "wrong"}, {"csrf": ""}):
            r = c.post(url, data=data, headers=ORIGIN, follow_redirects=False)
            assert r.status_code == 403 and "CSRF token" in r.text, (url, data, r.status_code)
            assert all(h in r.headers for h in HEADERS), (url, dict(r.headers))
        r = c.post(url, data={"csrf": c.tok}, headers={"origin": "http://evil.example"}, follow_redirects=False)
        assert r.status_code == 403 and "cross-site" in r.text, (url, r.status_code)
    assert snapshot(c) == before


@pytest.mark.parametrize("bad", ["abc", "0", str(MAX_ID + 1), "1.0"])
def test_a_bad_path_id_is_answered_400_before_the_csrf_token_is_checked(hostile, bad):
    """The order of the checks of a POST: Origin (403), then the ids in its path (400, naming the
    parameter), then its CSRF token (403)."""
    c = hostile
    before = snapshot(c)
    for url, name in ((f"/a/{bad}/rate", "artwork_id"), (f"/sets/{bad}/freeze", "cid")):
        r = c.post(url, data={"csrf": "wrong"}, headers=ORIGIN, follow_redirects=False)
        assert r.status_code == 400 and f"path {name}:" in r.text, (url, r.status_code, r.text[:300])
        r = c.post(url, data={"csrf": c.tok}, headers={"origin": "http://evil.example"}, follow_redirects=False)
        assert r.status_code == 403 and "cross-site" in r.text
    assert snapshot(c) == before
