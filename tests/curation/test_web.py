"""The web app through FastAPI's test client: pages, escaping, CSRF, tokens, media by id, sets, map."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from fastapi.testclient import TestClient

from curation import sets
from curation.embed import HistEncoder
from curation.web.app import create_app
from curation.web.security import require_token
from gallery.errors import BadInput
from tests.curation.helpers import draw, fill, image_draft, png

ORIGIN = {"origin": "http://testserver"}
EVIL = "<script>alert('x')</script>"


@pytest.fixture
def client(settings, catalogue):
    ids = fill(catalogue)
    ids["evil"] = catalogue.add(image_draft(draw("circle", "green", "black"), EVIL,
                                            recipe={"generator": "test", "note": EVIL}, tags=["<b>bold</b>"]))
    app = create_app(settings, catalogue, encoder=HistEncoder(), token=None, extra_hosts=("testserver",))
    with TestClient(app) as c:
        c.ids = ids
        yield c


def csrf(c: TestClient, url: str = "/sets") -> str:
    r = c.get(url)
    m = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert m, "page has no CSRF field"
    return m.group(1)


def test_grid_filters_and_infinite_scroll(client, settings):
    r = client.get("/")
    assert r.status_code == 200 and r.text.count('class="card"') == 11
    bright = client.get("/", params={"brightness_min": "0.6"})
    n_white = sum(1 for k in client.ids if isinstance(k, tuple) and k[2] in ("white", "yellow"))
    assert bright.text.count('class="card"') == n_white
    settings.curation.page_size = 4
    r = client.get("/")
    m = re.search(r'data-next="([^"]+)"', r.text)
    assert r.text.count('class="card"') == 4 and m
    more = client.get(m.group(1).replace("&amp;", "&"))
    assert more.status_code == 200 and more.text.count('class="card"') == 4
    assert client.get("/", params={"min_rating": "9"}).status_code == 400
    assert client.get("/", params={"until": "2000-01-01"}).text.count('class="card"') == 0
    assert client.get("/", params={"since": "2000-01-01"}).text.count('class="card"') == 4
    bad = client.get("/", params={"since": "<i>soon</i>"})
    assert bad.status_code == 400 and "is not a date" in bad.text and "<i>soon" not in bad.text


def test_user_strings_are_escaped(client):
    aid = client.ids["evil"]
    page = client.get(f"/a/{aid}").text
    assert EVIL not in page and "&lt;script&gt;alert(" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    grid = client.get("/", params={"tag": "<b>bold</b>"}).text
    assert EVIL not in grid and "&lt;script&gt;" in grid


def test_posts_need_csrf_and_same_origin(client, catalogue):
    aid = client.ids[("circle", "red", "white")]
    tok = csrf(client, f"/a/{aid}")
    assert client.post(f"/a/{aid}/rate", data={"rating": "4", "csrf": tok}).status_code == 403  # no Origin
    r = client.post(f"/a/{aid}/rate", data={"rating": "4", "csrf": tok}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    assert client.post(f"/a/{aid}/rate", data={"rating": "4", "csrf": "wrong"}, headers=ORIGIN).status_code == 403
    assert catalogue.get(aid).rating is None
    r = client.post(f"/a/{aid}/rate", data={"rating": "4", "csrf": tok}, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and catalogue.get(aid).rating == 4
    r = client.post(f"/a/{aid}/tags", data={"add": "Favourite, warm", "csrf": tok}, headers=ORIGIN)
    assert sorted(t.name for t in catalogue.get(aid).tags) == ["circle", "favourite", "red", "warm"]
    client.post(f"/a/{aid}/tags", data={"remove": ["warm"], "csrf": tok}, headers=ORIGIN)
    assert "warm" not in {t.name for t in catalogue.get(aid).tags}
    assert client.post(f"/a/{aid}/rate", data={"rating": "7", "csrf": tok}, headers=ORIGIN).status_code == 400


def test_media_only_by_id(client, catalogue):
    art = catalogue.get(client.ids[("circle", "red", "white")])
    m = art.first_media("image")
    r = client.get(f"/media/{m.id}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == catalogue.media_path(m).read_bytes()
    assert client.get("/media/99999").status_code == 404
    assert client.get("/media/..%2F..%2Fcatalogue.sqlite").status_code in (400, 404)
    assert client.get("/media/" + m.sha256).status_code in (400, 404)


def test_loopback_only_answers_loopback_names(settings, catalogue):
    with TestClient(create_app(settings, catalogue, encoder=HistEncoder())) as c:
        assert c.get("/sets", headers={"host": "evil.example:8765"}).status_code == 421  # DNS rebinding
        assert c.get("/sets", headers={"host": "127.0.0.1:8765"}).status_code == 200
        assert c.get("/sets", headers={"host": "localhost:8765"}).status_code == 200


def test_token_required_beyond_loopback(settings, catalogue):
    with pytest.raises(BadInput, match="needs an access token"):
        require_token("0.0.0.0", "GALLERY_CURATE_TOKEN", environ={})
    with pytest.raises(BadInput, match="too short"):
        require_token("192.168.1.5", "GALLERY_CURATE_TOKEN", environ={"GALLERY_CURATE_TOKEN": "abc"})
    assert require_token("127.0.0.1", "X", environ={}) is None
    tok = "s3cret-token-0123456789"
    with TestClient(create_app(settings, catalogue, encoder=HistEncoder(), token=tok)) as c:
        assert c.get("/").status_code == 401
        assert c.get("/", headers={"authorization": "Bearer nope"}).status_code == 401
        assert c.get("/", headers={"authorization": f"Bearer {tok}"}).status_code == 200
        assert c.get("/sets", params={"token": tok}).status_code == 200
        assert c.get("/sets").status_code == 200  # the cookie set by the first visit


def test_set_builder_suggestions_and_export(client, catalogue):
    tok = csrf(client)
    r = client.post("/sets", data={"title": "Warm <things>", "csrf": tok}, headers=ORIGIN, follow_redirects=False)
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/sets/{cid}", params={"suggest": "1", "size": "4", "variety": "0.7"}).text
    assert "Warm &lt;things&gt;" in page
    suggested = re.findall(r'name="artwork" value="(\d+)" checked', page)
    assert len(suggested) == 4 and len(set(suggested)) == 4
    client.post(f"/sets/{cid}/add", data={"artwork": suggested, "csrf": tok}, headers=ORIGIN)
    assert sets.as_dict(sets.show(catalogue, cid))["items"] == [int(s) for s in suggested]
    client.post(f"/sets/{cid}/move", data={"artwork": suggested[2], "delta": "-2", "csrf": tok}, headers=ORIGIN)
    assert sets.as_dict(sets.show(catalogue, cid))["items"][0] == int(suggested[2])
    z = client.get(f"/sets/{cid}/export.zip")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert "manifest.json" in names and "contact_sheet.png" in names and len(names) >= 2 + 4
    client.post(f"/sets/{cid}/freeze", data={"csrf": tok}, headers=ORIGIN)
    r = client.post(f"/sets/{cid}/add", data={"artwork": [str(client.ids['evil'])], "csrf": tok}, headers=ORIGIN)
    assert r.status_code == 400 and "frozen" in r.text


def test_map_points_and_brightness_axis(client):
    pca = client.get("/map.json").json()["points"]
    assert len(pca) == 11 and all(0 <= p["x"] <= 1 and 0 <= p["y"] <= 1 for p in pca)
    br = client.get("/map.json", params={"axis": "brightness"}).json()["points"]
    by_x = sorted(br, key=lambda p: p["x"])
    assert [p["brightness"] for p in by_x] == sorted(p["brightness"] for p in br)
    assert by_x[0]["x"] == 0.0 and by_x[-1]["x"] == 1.0
    assert client.get("/map.json", params={"axis": "nope"}).status_code == 400
    assert client.get("/map").status_code == 200


def test_search_by_uploaded_image(client):
    tok = csrf(client, "/")
    r = client.post("/search/image", files={"image": ("q.png", png(draw("square", "blue", "black", 80)), "image/png")},
                    data={"csrf": tok}, headers=ORIGIN)
    first = re.search(r'class="card" data-id="(\d+)"', r.text)
    assert r.status_code == 200 and int(first.group(1)) == client.ids[("square", "blue", "black")]
    bad = client.post("/search/image", files={"image": ("q.png", b"nope", "image/png")}, data={"csrf": tok},
                      headers=ORIGIN)
    assert bad.status_code == 400 and "not a readable image" in bad.text


def test_variations_from_the_detail_page(client, catalogue, monkeypatch):
    from catalogue.models import Run
    from generator import registry

    monkeypatch.setitem(registry.KINDS, "test.latent",
                        registry.JobKind("test.latent", "tests.curation.test_core:render_latent"))
    a = catalogue.add(image_draft(draw("circle", "red", "grey"), "A", recipe={"job_kind": "test.latent",
                                                                             "latent": [0.1, 0.2, 0.3]}))
    b = catalogue.add(image_draft(draw("circle", "blue", "grey"), "B", recipe={"job_kind": "test.latent",
                                                                              "latent": [0.3, 0.2, 0.1]}))
    assert 'id="vary-form"' not in client.get(f"/a/{client.ids[('circle', 'red', 'white')]}").text
    page = client.get(f"/a/{a}").text
    assert 'id="vary-form"' in page
    tok = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post(f"/a/{a}/vary", data={"count": "2", "sigma": "0.2", "csrf": tok}, headers=ORIGIN)
    assert r.status_code == 200 and "queued run(s) 1, 2 for tonight" in r.text
    r = client.post(f"/a/{a}/vary", data={"other": str(b), "steps": "4", "when": "now", "csrf": tok},
                    headers=ORIGIN)
    assert "queued run(s) 3" in r.text
    with catalogue.read() as s:
        runs = [s.get(Run, i) for i in (1, 2, 3)]
    assert [r.window for r in runs] == ["tonight", "tonight", None]
    assert runs[2].spec["job"]["parents"] == [[a, "between"], [b, "between"]]
    r = client.post(f"/a/{a}/vary", data={"other": str(a), "csrf": tok}, headers=ORIGIN)
    assert r.status_code == 400 and "two different artworks" in r.text


def test_detail_flags_near_duplicates(client, catalogue):
    src = client.ids[("circle", "red", "white")]
    copy = catalogue.add(image_draft(draw("circle", "red", "white", size=72, offset=1), "a near copy"))
    client.app.state.gallery.refresh(every_s=0)
    page = client.get(f"/a/{src}").text
    cards = re.findall(r'class="card" data-id="(\d+)".*?</div>\s*</div>', page, re.S)
    assert str(copy) in cards
    block = page[page.index(f'data-id="{copy}"'):]
    assert "≈ duplicate" in block[:block.index("</div>\n</div>")]
    far = client.ids[("square", "blue", "black")]
    fblock = page[page.index(f'data-id="{far}"'):] if f'data-id="{far}"' in page else ""
    assert "≈ duplicate" not in fblock[:fblock.find("</div>\n</div>")]
