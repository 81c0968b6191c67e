"""A newcomer's first hour: progress on a terminal, the files a command made, the catalogue in use.

The end-to-end tests run `gallery` as a person does, on a pseudo-terminal, from an empty folder.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.foundation.ptyutil import read_until_closed

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY")}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", COLUMNS="120")
    return env


def on_terminal(cwd: Path, *args: str, stdout_too: bool = True) -> tuple[int, str, str]:
    """Run `gallery ARGS` with stderr (and stdout, unless ``stdout_too`` is false) on a pseudo-terminal;
    returns (exit code, what the terminal showed, stdout when it was a pipe)."""
    import pty

    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "gallery.cli", *args], cwd=cwd, env=_env(), stderr=slave,
                         stdout=slave if stdout_too else subprocess.PIPE)
    os.close(slave)
    shown = read_until_closed(master)
    out = "" if stdout_too else p.stdout.read().decode()
    code = p.wait(timeout=600)
    os.close(master)
    return code, ANSI.sub("", shown.decode("utf-8", "replace")), out


# ---- the progress helper ----------------------------------------------------------------------
def test_report_reaches_the_callback_and_ignores_contexts_without_one():
    from gallery.progress import report

    seen = []
    report(SimpleNamespace(progress=lambda *a, **k: seen.append((a, k))), "rendering", 3, 10, loss=0.5)
    assert seen == [(("rendering", 3, 10), {"loss": 0.5})]
    report(SimpleNamespace(), "rendering", 1, 2)  # a daemon's context: no progress attribute
    report(SimpleNamespace(progress=None), "rendering", 1, 2)


def test_bar_on_a_terminal_shows_every_stage_done(monkeypatch):
    from rich.console import Console

    import gallery.console
    from gallery.progress import cli_progress

    buf = io.StringIO()
    monkeypatch.setattr(gallery.console, "stderr_console",
                        lambda: Console(file=buf, force_terminal=True, width=100, color_system=None))
    with cli_progress(interactive=True) as progress:
        progress("loading", 0, None)
        for i in range(1, 6):
            progress("rendering frames", i, 5, loss=f"{1 / i:.2f}")
        progress("saving", 0, 1)
    text = ANSI.sub("", buf.getvalue())
    final = text[text.rindex("loading") - 2:]  # the last frame drawn: "✓ loading …" and the next lines
    assert "rendering frames" in final and "5/5" in final and "loss=0.20" in final and "1/1" in final
    assert final.count("✓") == 3


def test_quiet_with_json_and_plain_log_lines_without_a_terminal(monkeypatch, caplog):
    import gallery.progress as gp

    with gp.cli_progress(quiet=True) as progress:
        progress("rendering", 1, 2)
    monkeypatch.setattr(gp, "LOG_EVERY_S", 0.0)
    caplog.set_level(logging.DEBUG, logger="gallery.progress")
    with gp.cli_progress(interactive=False) as progress:
        progress("training", 1, 100)
        progress("training", 50, 100, loss=0.25)
    msgs = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "gallery.progress"]
    assert msgs[0] == (logging.DEBUG, "training ...")
    assert msgs[1][0] == logging.INFO and "training: 50/100 loss=0.25" in msgs[1][1]


def test_progress_bar_counts_through_the_shared_helper(monkeypatch):
    import gallery.progress as gp
    from gallery.logs import progress_bar

    calls = []

    class Rec:
        def __init__(self, *a, **k):
            pass

        def __call__(self, *a, **k):
            calls.append((a, k))

    monkeypatch.setattr(gp, "_LogLines", Rec)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with progress_bar("training x", 10) as advance:
        advance(1, loss=2.0)
        advance(3)
    assert calls == [(("training x", 1.0, 10), {"loss": 2.0}), (("training x", 4.0, 10), {})]


# ---- as a newcomer runs it --------------------------------------------------------------------
def test_walk_on_a_terminal_shows_progress_the_new_catalogue_and_the_files(tmp_path):
    code, shown, _ = on_terminal(tmp_path, "generate", "walk", "--seconds", "0.4", "--fps", "5", "--size", "32")
    assert code == 0, shown[-3000:]
    data = tmp_path / "gallery-data"
    # the catalogue that was made, and why it is there (no config.yaml in this folder)
    assert f"created a new catalogue at {data}" in shown and "no config.yaml here" in shown
    assert "rendering frames" in shown and "2/2" in shown and "✓" in shown
    assert "walk artwork 1: Endless walk through the tiny-faces64 model, seed 0 (0.4 s)" in shown
    video = data / "files" / "1" / "video.mp4"
    assert f"video      {video}" in shown
    assert video.read_bytes()[4:8] == b"ftyp"  # an MP4 under a name that says so
    for name in ("poster.png", "thumbnail.png"):
        assert str(data / "files" / "1" / name) in shown
    # the same folder again: the catalogue exists, nothing is announced
    code, shown, _ = on_terminal(tmp_path, "generate", "walk", "--seconds", "0.4", "--fps", "5", "--size", "32",
                                 "--seed", "1")
    assert code == 0 and "created a new catalogue" not in shown and "walk artwork 2" in shown


def test_json_on_a_terminal_is_quiet_and_lists_the_files(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("data_dir: here\ncatalogue:\n  fsync: false\n")
    code, shown, out = on_terminal(tmp_path, "--config", str(cfg), "generate", "mix", "--rows", "1", "--cols", "2",
                                   "--size", "32", "--json", stdout_too=False)
    assert code == 0, shown[-3000:]
    assert "rendering" not in shown and "starting" not in shown  # no bar with --json
    assert f"created a new catalogue at {tmp_path / 'here'} (config {cfg})" in shown
    res = json.loads(out)
    assert res["artworks"] == [1]
    files = {f["role"]: f for f in res["files"]}
    assert set(files) == {"image", "thumbnail"}
    assert files["image"]["path"] == str(tmp_path / "here" / "files" / "1" / "image.png")
    assert Path(files["image"]["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_catalogue_show_and_export_use_names_with_extensions(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\ncatalogue:\n  fsync: false\n")
    run = [sys.executable, "-m", "gallery.cli", "--config", str(cfg)]
    r = subprocess.run([*run, "generate", "procedural", "--count", "1", "--size", "32"], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*run, "catalogue", "show", "1"], env=_env(), capture_output=True, text=True, timeout=300)
    assert str(tmp_path / "data" / "files" / "1" / "image.png") in r.stdout
    r = subprocess.run([*run, "catalogue", "show", "1", "--json"], env=_env(), capture_output=True, text=True,
                       timeout=300)
    paths = [m["path"] for m in json.loads(r.stdout)["media"]]
    assert [Path(p).name for p in paths] == ["image.png", "thumbnail.png"]
    r = subprocess.run([*run, "catalogue", "export", "1", "--to", str(tmp_path / "out")], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["1-image.png",
                                                                                          "1-thumbnail.png"]
    # hostile: an unknown id, a file where the folder should be
    r = subprocess.run([*run, "catalogue", "export", "1", "7", "--to", str(tmp_path / "out2")], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "no artwork with id 7" in r.stderr and not (tmp_path / "out2").exists()
    (tmp_path / "afile").write_text("x")
    r = subprocess.run([*run, "catalogue", "export", "1", "--to", str(tmp_path / "afile")], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "not a folder" in r.stderr


@pytest.mark.parametrize("url", ["", "sqlite:///{tmp}/elsewhere.sqlite"])
def test_the_notice_names_where_and_comes_once(tmp_path, url):
    from gallery.config import load_settings
    from gallery.state import AppState

    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"data_dir: d\ncatalogue:\n  fsync: false\n  url: '{url.format(tmp=tmp_path)}'\n")
    err = io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        st = AppState(config_path=cfg)
        st._settings = load_settings(cfg, environ={})
        st.catalogue  # noqa: B018 - opens (and makes) it
        again = AppState(config_path=cfg)
        again._settings = st._settings
        again.catalogue  # noqa: B018 - the same catalogue: no second notice
    finally:
        sys.stderr = old
    lines = [ln for ln in err.getvalue().splitlines() if "created a new catalogue" in ln]
    db = f" (database {url.format(tmp=tmp_path)})" if url else ""
    assert lines == [f"created a new catalogue at {tmp_path / 'd'}{db} (config {cfg})"]
