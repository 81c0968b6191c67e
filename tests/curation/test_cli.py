"""`gallery curate …` end to end through the CLI entry point: JSON output, exit code 2 on bad input."""

from __future__ import annotations

import json

import pytest

from tests.curation.helpers import fill


def _run(capsys, config_file, *args: str) -> tuple[int, str, str]:
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--config", str(config_file), *args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture
def cli_config(config_file, settings):
    from catalogue import open_catalogue

    config_file.write_text(config_file.read_text() + "curation:\n  embedding: hist\n")
    with open_catalogue(settings) as cat:
        ids = fill(cat)
    return config_file, ids


def test_search_select_sets_and_export(capsys, cli_config, tmp_path):
    cfg, ids = cli_config
    code, out, _ = _run(capsys, cfg, "curate", "search", "--range", "brightness=:0.35", "--json")
    assert code == 0
    assert {r["id"] for r in json.loads(out)} == {v for k, v in ids.items() if k[2] == "black"}
    code, out, _ = _run(capsys, cfg, "curate", "similar", str(ids[("circle", "red", "white")]), "-k", "1", "--json")
    assert code == 0 and json.loads(out)[0]["id"] == ids[("square", "red", "white")]
    code, out, err = _run(capsys, cfg, "curate", "select", "--size", "3", "--save", "Cover", "--json")
    picked = [r["id"] for r in json.loads(out)]
    assert code == 0 and len(set(picked)) == 3 and "saved as set 1" in err
    code, out, _ = _run(capsys, cfg, "curate", "set", "show", "1", "--json")
    assert json.loads(out)["items"] == picked
    code, out, _ = _run(capsys, cfg, "curate", "set", "export", "1", str(tmp_path / "x"), "--zip")
    assert code == 0 and (tmp_path / "x.zip").is_file()
    from catalogue import open_catalogue
    from gallery.config import load_settings
    from tests.curation.helpers import draw, image_draft

    with open_catalogue(load_settings(cfg)) as cat:  # a re-encoded, slightly shifted copy of one artwork
        copy = cat.add(image_draft(draw("circle", "red", "white", size=72, offset=1), "copy"))
    code, out, _ = _run(capsys, cfg, "curate", "map", str(tmp_path / "map.png"))
    assert code == 0 and (tmp_path / "map.png").is_file()
    code, _, err = _run(capsys, cfg, "curate", "map", str(tmp_path / "map.jpg"))
    assert code == 2 and "written as a .png" in err
    code, out, _ = _run(capsys, cfg, "curate", "dups", "--json")
    groups = json.loads(out)
    assert code == 0 and any({ids[("circle", "red", "white")], copy} <= set(g) for g in groups)
    assert not any(ids[("circle", "blue", "white")] in g and ids[("circle", "red", "white")] in g for g in groups)


@pytest.mark.parametrize(("args", "message"), [
    (["curate", "search", "--range", "shine=0:1"], "unknown feature 'shine'"),
    (["curate", "search", "red circle"], "text search needs the CLIP model"),
    (["curate", "similar", "999"], "no artwork 999"),
    (["curate", "select", "--variety", "3"], "variety must be between"),
    (["curate", "set", "add", "42", "1"], "no set 42"),
    (["curate", "search", "--since", "yesterday"], "is not a date"),
    (["curate", "vary", "1"], "holds no latent position"),
])
def test_bad_input_exits_2(capsys, cli_config, args, message):
    cfg, _ = cli_config
    code, _, err = _run(capsys, cfg, *args)
    assert code == 2 and message in err


def test_demo_step(settings, catalogue, tmp_path):
    from curation.demo import demo_step
    from gallery.demo import DemoContext

    settings.curation.embedding = "hist"
    ids = list(fill(catalogue).values())
    res = demo_step(DemoContext(settings=settings, catalogue=catalogue, out_dir=tmp_path, quick=True))
    assert len(res["artworks"]) == 6 and set(res["artworks"]) <= set(ids)
    assert (tmp_path / "curation" / f"set-{res['set']}" / "contact_sheet.png").is_file()
    from curation import sets

    assert sets.show(catalogue, res["set"]).frozen_at is not None
    import cv2

    m = cv2.imread(res["map"])
    assert m is not None and m.shape[1] > 1600 and m.std() > 10  # thumbnails drawn on the white page
