"""Settings of programmes and the timetable, `config check` against the catalogue, `gallery show --programme`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from catalogue.models import SavedQuery
from gallery.errors import BadInput
from installation.programmes import Programmes, check_catalogue, only_programme
from installation.settings import ShowSettings
from tests.installation.test_programmes import add_set


# ---- settings and checks ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("bad", "words"), [
    ({"programme": "nightly"}, ["show.programme", "'nightly'", "known: all"]),
    ({"timetable": [{"days": ["sun"], "from": "10:00", "to": "12:00", "programme": "sundays"}]},
     ["timetable entry 1", "unknown programme 'sundays'"]),
    ({"programmes": {"a": {}}, "timetable": [{"days": ["sun"], "from": "10:00", "to": "12:00", "programme": "a"},
                                             {"days": "weekend", "from": "11:30", "to": "14:00", "programme": "all"}]},
     ["timetable entry 2 (sat,sun 11:30-14:00 all) overlaps timetable entry 1 (sun 10:00-12:00 a) on sun"]),
    ({"opening_hours": {"sun": ["12:00-18:00"]},
      "timetable": [{"days": ["sun"], "from": "10:00", "to": "13:00", "programme": "all"}]},
     ["timetable entry 1 (sun 10:00-13:00 all) is outside the opening hours", "show.opening_hours.sun"]),
    ({"opening_hours": {"mon": []}, "timetable": [{"days": ["mon"], "from": "10:00", "to": "13:00", "programme": "all"}]},
     ["outside the opening hours", "closed"]),
    ({"programmes": {"a": {"sett": "Evening"}}}, ["programmes.a.sett", "Extra inputs"]),
    ({"timetable": [{"days": ["sun"], "form": "10:00", "to": "12:00", "programme": "all"}]}, ["timetable.0.form"]),
    ({"programmes": {"a": {"set": "X", "query": "y"}}}, ["one of set, query, since"]),
    ({"programmes": {"a": {"since": "yesterday"}}}, ["'yesterday'", "24h"]),
    ({"programmes": {"a": {"order": "random"}}}, ["programmes.a.order"]),
    ({"programmes": {"a": {"transitions": ["fade"]}}}, ["unknown transition 'fade'"]),
    ({"programmes": {"a": {"still_seconds": 2.0}}}, ["programmes.a.still_seconds", "transition_seconds"]),
    ({"timetable": [{"days": ["someday"], "from": "10:00", "to": "12:00", "programme": "all"}]}, ["'someday'"]),
])
def test_bad_programme_settings_say_what_is_wrong(bad, words):
    with pytest.raises(ValidationError) as e:
        ShowSettings(**bad)
    for w in words:
        assert w in str(e.value)


def test_good_timetable_and_only_programme():
    s = ShowSettings(opening_hours={"sun": ["10:00-18:00"], "sat": []},
                     programmes={"am": {}, "pm": {"order": "balanced"}},
                     timetable=[{"days": "weekdays", "from": "09:00", "to": "13:00", "programme": "am"},
                                {"days": ["tue"], "from": "13:00", "to": "24:00", "programme": "pm"}],
                     programme="pm")
    assert s.model_dump(mode="json")["timetable"][0]["from"] == "09:00"  # dumps as it is written
    p = Programmes(s, lambda pool, now: pool[0])
    tue = datetime(2026, 11, 24, 12, 59, tzinfo=UTC)
    assert [p.active(tue), p.active(tue + timedelta(minutes=1)), p.active(tue + timedelta(hours=21))] == \
        ["am", "pm", "am"]
    assert p.active(datetime(2026, 11, 29, 9, 0, tzinfo=UTC)) == "pm"  # a Sunday: the default
    one = only_programme(s, "am")
    assert one.programme == "am" and one.timetable == []
    with pytest.raises(BadInput, match=r"--programme 'x'.*known: all, am, pm"):
        only_programme(s, "x")


def test_check_catalogue_names_missing_sets_and_queries(settings, catalogue):
    add_set(catalogue, "Sundays", [])
    with catalogue.write() as s:
        s.add(SavedQuery(name="blue", text="blue", filters={}))
    ok = ShowSettings(programmes={"a": {"set": "Sundays"}, "b": {"query": "blue"}})
    assert check_catalogue(ok, catalogue) == []
    bad = ShowSettings(programmes={"a": {"set": "Sunday"}, "b": {"query": "blues"}, "c": {"set": 999}})
    assert check_catalogue(bad, catalogue) == [
        "show.programmes.a: no set titled 'Sunday'", "show.programmes.b: saved query 'blues' does not exist",
        "show.programmes.c: no set with id 999"]


def test_config_check_and_show_programme_on_the_command_line(tmp_path, data_dir, capsys):
    from catalogue import open_catalogue
    from gallery.cli import main
    from gallery.config import load_settings

    cfg = tmp_path / "config.yaml"
    base = f"data_dir: {data_dir}\ncatalogue:\n  fsync: false\n"
    cfg.write_text(base + "show:\n  programmes:\n    sundays: {set: Sundays}\n    eve: {query: evening}\n")
    with pytest.raises(SystemExit) as e:
        main(["config", "check", "--config", str(cfg)])  # no catalogue yet: not checked, and none is made
    assert e.value.code == 0
    assert "not checked" in capsys.readouterr().err and not any(data_dir.iterdir())
    cat = open_catalogue(load_settings(cfg, environ={}))
    add_set(cat, "Sundays", [])
    cat.close()
    with pytest.raises(SystemExit) as e:
        main(["config", "check", "--config", str(cfg)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "show.programmes.eve: saved query 'evening' does not exist" in err
    assert "sundays" not in err
    with pytest.raises(SystemExit) as e:
        main(["--config", str(cfg), "show", "--programme", "evening", "--headless", "--record", "x.mp4",
              "--seconds", "1"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "unknown programme (known: all, eve, sundays)" in err


def test_the_manuals_example_is_a_valid_show_section():
    text = (Path(__file__).resolve().parents[2] / "docs" / "show.md").read_text()
    block = re.search(r"## Programmes and timetable.*?```yaml\n(.*?)```", text, re.S).group(1)
    s = ShowSettings(**yaml.safe_load(block)["show"])
    p = Programmes(s, lambda pool, now: pool[0])
    sunday_11 = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)  # Europe/London is UTC in November
    assert [p.active(sunday_11), p.active(sunday_11 - timedelta(days=2)), p.active(sunday_11 - timedelta(days=2, hours=-4))] \
        == ["sundays", "morning", "evening"]
