"""Saved queries (curation.queries): save / ls / get / delete, filters checked when saved and loaded,
resolving to artwork ids (filters newest first; text by CLIP as `gallery curate search`), the CLI
(`curate search --save`, `curate query ...`) and the show's resolver wired by the front door."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from catalogue.models import SavedQuery, utcnow
from curation import queries
from curation.embed import HistEncoder
from curation.search import Filters, Searcher
from gallery.errors import BadInput
from tests.curation.helpers import fill


def test_names_are_checked():
    assert queries.check_name("  Night pieces_2-b ") == "Night pieces_2-b"
    assert queries.check_name("Été") == "Été"
    for bad, why in [("", "needs a name"), ("   ", "needs a name"), ("x" * 101, "too long"),
                     ("a/b", "only letters"), ("<script>", "only letters"), ("tab\there", "only letters")]:
        with pytest.raises(BadInput, match=why):
            queries.check_name(bad)


def test_save_list_get_replace_delete(catalogue):
    f = Filters(kinds=["image"], tags=["red"], since=datetime.fromisoformat("2020-01-02T03:04"), ranges={"brightness": (0.1, 0.9)})
    q = queries.save(catalogue, "Reds", "a red circle", f, 12)
    assert (q.name, q.text, q.limit) == ("Reds", "a red circle", 12)
    with catalogue.read() as s:
        stored = s.get(SavedQuery, q.id).filters
    assert stored == {"kinds": ["image"], "tags": ["red"], "since": "2020-01-02T03:04:00",
                      "ranges": {"brightness": [0.1, 0.9]}}
    assert queries.get(catalogue, "reds").filters == f  # by name, ignoring case; the dates come back
    with pytest.raises(BadInput, match="'Reds' exists already"):
        queries.save(catalogue, "REDS", None, Filters())
    q2 = queries.save(catalogue, "Reds", None, Filters(ranges={"brightness": (float("-inf"), 0.3)}), None,
                      replace=True)
    assert q2.id == q.id and q2.text is None and q2.limit is None
    with catalogue.read() as s:
        assert s.get(SavedQuery, q.id).filters == {"ranges": {"brightness": [None, 0.3]}}
    queries.save(catalogue, "All", None)
    assert [r.name for r, _, _ in queries.ls(catalogue)] == ["All", "Reds"]
    assert queries.delete(catalogue, "reds") == "Reds"
    with pytest.raises(BadInput, match=r"no saved query 'Reds' \(known: All\)"):
        queries.get(catalogue, "Reds")
    with pytest.raises(BadInput, match="no saved query"):
        queries.delete(catalogue, "Reds")


@pytest.mark.parametrize(("f", "why"), [
    (Filters(kinds=["imgae"]), "unknown kind"),
    (Filters(status="hidden"), "status 'ok' only"),
    (Filters(since=datetime.fromisoformat("2021-01-01"), until=datetime.fromisoformat("2020-01-01")), "is after until"),
    (Filters(ranges={"brightness": (0.9, 0.1)}), "lo <= hi"),
])
def test_bad_filters_are_refused_when_saved(catalogue, f, why):
    with pytest.raises(BadInput, match=why):
        queries.save(catalogue, "Bad", None, f)
    assert queries.names(catalogue) == []
    with pytest.raises(BadInput, match="limit"):
        queries.save(catalogue, "Bad", None, Filters(), 0)


@pytest.mark.parametrize(("stored", "why"), [
    ({"since": "yesterday"}, "filter since: 'yesterday' is not a date"),
    ({"kinds": "image"}, "filter kinds must be a list"),
    ({"colour": "red"}, "unknown filter\\(s\\) .colour."),
    ({"ranges": {"brightness": [0.5]}}, "filter range brightness must be \\[lo, hi\\]"),
    ({"ranges": {"hue": [0, 1]}}, "filter ranges: unknown feature 'hue'"),
    ({"min_rating": "5"}, "filter min_rating must be a whole number"),
    ({"status": "quarantined"}, "filter status must be 'ok'"),
    ([1, 2], "filters must be a JSON object"),
])
def test_a_hand_edited_bad_row_is_a_named_error(catalogue, stored, why):
    fill(catalogue)
    q = queries.save(catalogue, "Edited", None)
    with catalogue.write() as s:
        s.execute(update(SavedQuery).where(SavedQuery.id == q.id).values(filters=stored))
    with pytest.raises(BadInput, match="saved query 'Edited' is not valid: " + why):
        queries.resolve(catalogue, "Edited")
    (_row, loaded, err), = queries.ls(catalogue)  # the list still works, and says why
    assert loaded is None and "not valid" in err
    assert queries.delete(catalogue, "Edited") == "Edited"


def test_filters_only_resolves_newest_first_ok_only_with_limit(catalogue):
    ids = fill(catalogue)
    red = [v for k, v in ids.items() if k[1] == "red"]
    queries.save(catalogue, "Red things", None, Filters(tags=["red"]))
    assert queries.resolve(catalogue, "Red things") == sorted(red, reverse=True)
    catalogue.set_status(red[1], "hidden", "curator")
    assert queries.resolve(catalogue, "Red things") == sorted([red[0], red[2]], reverse=True)
    queries.save(catalogue, "Newest two", None, Filters(), 2)
    assert queries.resolve(catalogue, "Newest two") == sorted(ids.values(), reverse=True)[:2]
    queries.save(catalogue, "Later", None, Filters(since=utcnow() + timedelta(days=1)))
    assert queries.resolve(catalogue, "Later") == []
    with pytest.raises(BadInput, match="no saved query 'nope'"):
        queries.resolve(catalogue, "nope")


def test_text_query_ranks_like_search(settings, catalogue):
    """A text query gives what Searcher.search gives for the same text, filters and limit (tiny CLIP)."""
    from curation.embed import load_encoder
    from curation.indexer import index_catalogue
    from tests.curation.test_ranking import _catalogue

    truth = _catalogue(catalogue)
    enc = load_encoder(settings, "clip")
    index_catalogue(catalogue, enc)
    sr = Searcher(settings, catalogue, enc)
    hidden = next(iter(truth))
    catalogue.set_status(hidden, "hidden", "curator")
    queries.save(catalogue, "Red circles", "a red circle", Filters(), 8)
    got = queries.resolve(catalogue, "Red circles", settings=settings)
    assert got == [h.id for h in sr.search(text="a red circle", k=8)]
    assert len(got) == 8 and hidden not in got
    assert [truth[a][1] for a in got[:4]] == ["red"] * 4
    from gallery.wiring import install
    from installation import hooks

    install(settings=lambda: settings)  # as `gallery show`: the show's resolver finds the command's settings
    try:
        assert hooks.resolve_query(catalogue, "Red circles") == got
    finally:
        install()


def test_text_query_needs_settings_and_clip(settings, catalogue):
    fill(catalogue)
    queries.save(catalogue, "Words", "a red circle")
    queries.use_settings(None)
    with pytest.raises(BadInput, match="saved query 'Words': it searches by text, which needs the gallery's"):
        queries.resolve(catalogue, "Words")
    with pytest.raises(BadInput, match="saved query 'Words': text search needs the CLIP model"):
        queries.resolve(catalogue, "Words", searcher=Searcher(settings, catalogue, HistEncoder()))


def test_front_door_registers_the_resolver(settings, catalogue):
    from gallery.wiring import install
    from installation import hooks

    ids = fill(catalogue)
    queries.save(catalogue, "Circles", None, Filters(tags=["circle"]))
    hooks.register_query_resolver(None)
    with pytest.raises(BadInput, match="no query resolver"):
        hooks.resolve_query(catalogue, "Circles")
    install(settings=lambda: settings)
    try:
        want = sorted((v for k, v in ids.items() if k[0] == "circle"), reverse=True)
        assert hooks.resolve_query(catalogue, "Circles") == want
        with pytest.raises(BadInput, match="no saved query 'Squares'"):
            hooks.resolve_query(catalogue, "Squares")
    finally:
        install()


def _run(capsys, config_file, *args: str) -> tuple[int, str, str]:
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--config", str(config_file), *args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_cli_search_save_and_query_commands(capsys, config_file, settings):
    from catalogue import open_catalogue

    config_file.write_text(config_file.read_text() + "curation:\n  embedding: hist\n")
    with open_catalogue(settings) as cat:
        ids = fill(cat)
    dark = {v for k, v in ids.items() if k[2] == "black"}
    code, out, err = _run(capsys, config_file, "curate", "search", "--range", "brightness=:0.35", "--json",
                          "--save", "Night")
    assert code == 0 and {r["id"] for r in json.loads(out)} == dark and "saved query 'Night'" in err
    code, _, err = _run(capsys, config_file, "curate", "search", "--tag", "red", "--save", "Night")
    assert code == 2 and "exists already" in err
    code, out, _ = _run(capsys, config_file, "curate", "search", "--tag", "red", "-k", "2", "--save", "Night",
                        "--replace")
    assert code == 0 and "saved query 'Night' (filters only; tags red; limit 2)" in out
    code, out, _ = _run(capsys, config_file, "curate", "query", "show", "Night", "--json")
    assert code == 0 and json.loads(out)["filters"] == {"tags": ["red"]} and json.loads(out)["limit"] == 2
    code, out, _ = _run(capsys, config_file, "curate", "query", "run", "Night", "--json")
    assert code == 0 and json.loads(out) == sorted((v for k, v in ids.items() if k[1] == "red"), reverse=True)[:2]
    for args, why in [(("--save", "a/b"), "only letters"), (("--kind", "imgae", "--save", "X"), "unknown kind"),
                      (("--image", "x.png", "--save", "X"), "cannot be saved")]:
        code, _, err = _run(capsys, config_file, "curate", "search", *args)
        assert code == 2 and why in err, err
    code, out, _ = _run(capsys, config_file, "curate", "query", "ls")
    assert code == 0 and out == "   1  Night  (filters only; tags red; limit 2)\n"
    code, out, _ = _run(capsys, config_file, "curate", "query", "rm", "night")
    assert code == 0 and "deleted saved search 'Night'" in out
    code, _, err = _run(capsys, config_file, "curate", "query", "show", "Night")
    assert code == 2 and "no saved query 'Night'" in err
