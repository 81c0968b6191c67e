"""A curator edits a work in the web app (TestClient): wall text and tags, bad input re-rendered (never a
500), CSRF, hide / unhide (hidden works marked in lists), delete with a confirmation step, refusals;
the set export carries the wall text."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from catalogue import editing
from catalogue.models import Mint
from curation import sets
from curation.export import export_set
from tests.curation.helpers import fill, web_client

ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def client(settings, catalogue):
    with web_client(settings, catalogue) as c:
        yield c


def csrf(c: TestClient, url: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', c.get(url).text)
    assert m, "page has no CSRF field"
    return m.group(1)


def form(**kw: str) -> dict[str, str]:
    return {"title": "Red circle", "artist": "", "year": "", "medium": "", "wall_text": "", "tags": "", **kw}


def test_edit_form_saves_wall_text_and_tags(client, catalogue):
    aid = client.ids[("circle", "red", "white")]
    page = client.get(f"/a/{aid}/edit")
    assert page.status_code == 200 and 'id="edit-form"' in page.text and 'value="red circle on white"' in page.text
    tok = csrf(client, f"/a/{aid}/edit")
    r = client.post(f"/a/{aid}/edit", headers=ORIGIN, follow_redirects=False, data=form(
        csrf=tok, title="Red <sun>", artist="M. Curator", year="2026", medium="pigment on screen",
        wall_text="A red disc, low on a white sky.", tags="circle, warm"))
    assert r.status_code == 303 and r.headers["location"].startswith(f"/a/{aid}?note=saved")
    a = catalogue.get(aid)
    assert (a.title, a.artist, a.year, a.medium) == ("Red <sun>", "M. Curator", 2026, "pigment on screen")
    assert a.wall_text == "A red disc, low on a white sky." and editing.curator_titled(a)
    assert sorted(t.name for t in a.tags) == ["circle", "warm"]  # "red" removed, "warm" added
    detail = client.get(f"/a/{aid}").text
    assert "M. Curator · 2026 · pigment on screen" in detail and "A red disc, low on a white sky." in detail
    assert "Red &lt;sun&gt;" in detail and "Red <sun>" not in detail


@pytest.mark.parametrize(("fields", "why"), [
    ({"title": ""}, "title: must not be empty"),
    ({"title": "x" * 301}, "title: too long"),
    ({"year": "20266"}, "year: 20266 is outside 1000..2200"),
    ({"year": "soon"}, "year: &#39;soon&#39; is not a year"),
    ({"artist": "tab\there"}, "artist: a control character (U+0009)"),
    ({"tags": "ok, " + "x" * 101}, "tag"),
])
def test_bad_input_re_renders_the_form(client, catalogue, fields, why):
    aid = client.ids[("circle", "red", "white")]
    before = editing.wall_text_of(catalogue.get(aid))
    tok = csrf(client, f"/a/{aid}/edit")
    r = client.post(f"/a/{aid}/edit", headers=ORIGIN, data=form(csrf=tok, **{"medium": "Typed medium", **fields}))
    assert r.status_code == 400 and 'id="edit-form"' in r.text and why in r.text
    assert 'value="Typed medium"' in r.text  # what was typed is kept
    assert editing.wall_text_of(catalogue.get(aid)) == before


def test_edit_needs_csrf_and_known_ids(client, catalogue):
    aid = client.ids[("circle", "red", "white")]
    tok = csrf(client, f"/a/{aid}/edit")
    assert client.post(f"/a/{aid}/edit", data=form(csrf=tok, title="X")).status_code == 403  # no Origin
    assert client.post(f"/a/{aid}/edit", headers=ORIGIN, data=form(csrf="wrong", title="X")).status_code == 403
    assert client.post(f"/a/{aid}/delete", headers=ORIGIN, data={"csrf": "wrong", "confirm": "yes"}).status_code == 403
    assert catalogue.get(aid).title == "red circle on white"
    r = client.post("/a/99999/edit", headers=ORIGIN, data=form(csrf=tok))
    assert r.status_code == 400 and "no artwork with id 99999" in r.text
    assert client.get("/a/99999/edit").status_code == 400
    assert client.get("/a/abc/edit").status_code == 400


def test_hide_unhide_marked_in_lists(client, catalogue):
    aid = client.ids[("circle", "red", "white")]
    other = client.ids[("circle", "red", "black")]
    cid = sets.create(catalogue, "Reds", "", [aid, other])
    tok = csrf(client, f"/a/{aid}/edit")
    r = client.post(f"/a/{aid}/hide", headers=ORIGIN, data={"csrf": tok, "reason": "too bright"},
                    follow_redirects=False)
    assert r.status_code == 303 and catalogue.get(aid).status == "hidden"
    assert catalogue.get(aid).status_reason == "too bright"
    assert 'id="status-note"' in client.get(f"/a/{aid}").text
    grid = client.get("/").text
    assert f'data-id="{aid}"' not in grid  # the default grid shows works that are shown
    hidden = client.get("/", params={"status": "hidden"}).text
    assert f'data-id="{aid}"' in hidden and 'class="status-mark">hidden' in hidden
    setpage = client.get(f"/sets/{cid}").text
    assert re.search(rf'class="card hidden" data-id="{aid}"', setpage)
    assert client.get("/", params={"status": "gone"}).status_code == 400
    assert 'id="unhide-form"' in client.get(f"/a/{aid}/edit").text
    r = client.post(f"/a/{aid}/unhide", headers=ORIGIN, data={"csrf": tok}, follow_redirects=False)
    assert r.status_code == 303 and catalogue.get(aid).status == "ok"
    catalogue.set_status(other, "quarantined", "missing blob")
    r = client.post(f"/a/{other}/unhide", headers=ORIGIN, data={"csrf": tok})
    assert r.status_code == 400 and "quarantined" in r.text


def test_delete_asks_then_deletes_and_refuses_minted(client, catalogue):
    aid = client.ids[("circle", "red", "white")]
    keep = client.ids[("circle", "red", "black")]
    cid = sets.create(catalogue, "Reds", "", [keep, aid, client.ids[("square", "red", "white")]])
    ask = client.get(f"/a/{aid}/delete")
    assert ask.status_code == 200 and 'id="delete-form"' in ask.text and "Reds" in ask.text
    tok = csrf(client, f"/a/{aid}/delete")
    r = client.post(f"/a/{aid}/delete", headers=ORIGIN, data={"csrf": tok})  # not confirmed
    assert r.status_code == 400 and "to confirm" in r.text and catalogue.get(aid) is not None
    r = client.post(f"/a/{aid}/delete", headers=ORIGIN, data={"csrf": tok, "confirm": "yes"})
    assert r.status_code == 200 and 'id="deleted"' in r.text and catalogue.get(aid) is None
    assert sets.as_dict(sets.show(catalogue, cid))["items"] == [keep, client.ids[("square", "red", "white")]]
    assert client.get(f"/a/{aid}").status_code == 404
    # minted: the page says why and offers no button; a forged POST is refused (400, not 500)
    sets.freeze(catalogue, cid)
    with catalogue.write() as s:
        s.add(Mint(collection_id=cid, artwork_id=keep, chain_id=31337, contract="0x" + "cd" * 20, token_id=3))
    ask = client.get(f"/a/{keep}/delete").text
    assert 'id="refused"' in ask and "token 3 on chain 31337" in ask and 'id="delete-form"' not in ask
    r = client.post(f"/a/{keep}/delete", headers=ORIGIN, data={"csrf": tok, "confirm": "yes"})
    assert r.status_code == 400 and "minted" in r.text and catalogue.get(keep) is not None
    r = client.post(f"/a/{keep}/edit", headers=ORIGIN, data=form(csrf=tok, title="Renamed"))
    assert r.status_code == 400 and "is minted" in r.text and 'id="minted"' in r.text
    assert 'id="minted"' in client.get(f"/a/{keep}/edit").text
    assert 'id="minted"' not in client.get(f"/a/{client.ids[('square', 'red', 'white')]}/edit").text


def test_set_export_carries_wall_text(catalogue, tmp_path):
    ids = fill(catalogue)
    a = ids[("circle", "red", "white")]
    editing.edit(catalogue, a, artist="M. Curator", year=2024, medium="screen", wall_text="Low sun.")
    cid = sets.create(catalogue, "Export", "", [a, ids[("square", "red", "white")]])
    out = export_set(catalogue, cid, tmp_path / "out")
    items = json.loads((out / "manifest.json").read_text())["items"]
    assert items[0]["artist"] == "M. Curator" and items[0]["year"] == 2024 and items[0]["wall_text"] == "Low sun."
    assert items[1]["artist"] == "" and items[1]["year"] is None
