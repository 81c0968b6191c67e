"""Saved searches in the web app (TestClient): save from the grid, list, run again, delete; bad input
shows the grid again with the reason (never a 500); CSRF as every other form."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from catalogue.models import SavedQuery
from curation import queries
from tests.curation.helpers import web_client

ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def client(settings, catalogue):
    with web_client(settings, catalogue) as c:
        yield c


def _form(c: TestClient, url: str) -> tuple[str, str]:
    """The grid page's CSRF token and the query string its "Save this search" form carries."""
    r = c.get(url)
    assert r.status_code == 200
    tok = re.search(r'name="csrf" value="([^"]+)"', r.text)
    search = re.search(r'name="search" value="([^"]*)"', r.text)
    assert tok and search, "the grid has no save form"
    return tok.group(1), search.group(1).replace("&amp;", "&")


def test_save_list_run_delete(client, catalogue):
    dark = sorted((v for k, v in client.ids.items() if k[2] == "black"), reverse=True)
    tok, search = _form(client, "/?" + urlencode({"brightness_max": "0.35", "kind": "image"}))
    assert "brightness_max=0.35" in search
    r = client.post("/queries", data={"csrf": tok, "search": search, "name": "Night pieces"}, headers=ORIGIN,
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/queries?")
    q = queries.get(catalogue, "Night pieces")
    assert q.filters.kinds == ["image"] and q.filters.ranges["brightness"][1] == 0.35 and q.limit is None
    assert queries.resolve(catalogue, "Night pieces") == dark

    page = client.get(r.headers["location"]).text
    assert "saved search &#39;Night pieces&#39;" in page and "Night pieces" in page
    grid = re.search(r'href="(/\?[^"]+)" class="grid-link"', page).group(1).replace("&amp;", "&")
    assert client.get(grid).text.count('class="card"') == len(dark)  # the link re-runs it in the grid
    run = client.get(f"/queries/{q.id}")
    assert run.status_code == 200
    assert [int(x) for x in re.findall(r'class="card" data-id="(\d+)"', run.text)] == dark

    # Two at most, replacing the first: the run page follows.
    r = client.post("/queries", data={"csrf": tok, "search": search, "name": "night pieces", "limit": "2",
                                      "replace": "1"}, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303
    assert [int(x) for x in re.findall(r'class="card" data-id="(\d+)"', client.get(f"/queries/{q.id}").text)] == \
        dark[:2]

    r = client.post(f"/queries/{q.id}/delete", data={"csrf": tok}, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and queries.names(catalogue) == []
    assert client.get(f"/queries/{q.id}").status_code == 400
    assert client.post(f"/queries/{q.id}/delete", data={"csrf": tok}, headers=ORIGIN).status_code == 400


@pytest.mark.parametrize(("fields", "why"), [
    ({"name": ""}, "needs a name"),
    ({"name": "a/b"}, "only letters, digits"),
    ({"name": "x" * 101}, "too long"),
    ({"name": "Ok", "limit": "0"}, "limit: 0 is outside 1..10000"),
    ({"name": "Ok", "limit": "ten"}, "is not a whole number"),
    ({"name": "Taken"}, "exists already"),
])
def test_bad_input_shows_the_grid_again_with_the_reason(client, catalogue, fields, why):
    queries.save(catalogue, "Taken", None)
    tok, search = _form(client, "/?tag=red")
    r = client.post("/queries", data={"csrf": tok, "search": search, **fields}, headers=ORIGIN)
    assert r.status_code == 400, r.text
    err = re.search(r'<p class="error" id="save-error">([^<]*)</p>', r.text)
    assert err and why in err.group(1).replace("&#39;", "'")
    assert 'id="grid"' in r.text  # the grid, not a bare error page
    assert queries.names(catalogue) == ["Taken"]


def test_bad_search_fields_and_csrf_are_refused(client, catalogue):
    tok, _ = _form(client, "/")
    r = client.post("/queries", data={"csrf": tok, "search": "since=soon", "name": "Soon"}, headers=ORIGIN)
    assert r.status_code == 400 and "is not a date" in r.text
    r = client.post("/queries", data={"csrf": tok, "search": "q=a+red+circle", "name": "Words"}, headers=ORIGIN)
    assert r.status_code == 400 and "needs the CLIP model" in r.text  # colour histograms: no text search
    r = client.post("/queries", data={"csrf": tok, "search": "", "name": "All"})  # no Origin
    assert r.status_code == 403
    r = client.post("/queries", data={"csrf": "wrong", "search": "", "name": "All"}, headers=ORIGIN)
    assert r.status_code == 403
    assert client.get("/queries/0").status_code == 400 and client.get("/queries/x").status_code == 400
    assert queries.names(catalogue) == []


def test_a_hand_edited_bad_row_is_listed_with_the_reason_and_can_be_deleted(client, catalogue):
    q = queries.save(catalogue, "Edited", None)
    with catalogue.write() as s:
        s.execute(update(SavedQuery).where(SavedQuery.id == q.id).values(filters={"since": "yesterday"}))
    page = client.get("/queries")
    assert page.status_code == 200 and "is not a date" in page.text
    r = client.get(f"/queries/{q.id}")
    assert r.status_code == 400 and "saved query &#39;Edited&#39; is not valid" in r.text
    tok = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post(f"/queries/{q.id}/delete", data={"csrf": tok}, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and queries.names(catalogue) == []


def test_names_and_texts_are_escaped(client, catalogue):
    queries.save(catalogue, "Plain", "<script>alert(1)</script>")
    page = client.get("/queries").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
