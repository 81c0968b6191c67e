"""`gallery show --windowed` fits the screen it opens on; `--size WxH`; `--display N` checked (issue 23)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gallery.errors import BadInput
from installation.windows import parse_size, room, window_size

REPO = Path(__file__).resolve().parents[2]
XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1280x720x24"]
needs_x = pytest.mark.skipif(not (shutil.which("xvfb-run") and shutil.which("xwininfo")),
                             reason="needs xvfb-run and xwininfo")


def test_window_sizes_fit_the_screen_at_the_show_aspect():
    assert room((1280, 720)) == (1203, 648)
    assert window_size((1920, 1080), (1280, 720), fill=True) == (1152, 648)  # 16:9, inside the room
    assert window_size((1920, 1080), (3840, 2160), fill=True) == (3456, 1944)  # a large screen: larger
    assert window_size((800, 600), (1280, 720), fill=False) == (800, 600)  # --size that fits: as asked
    w, h = window_size((4000, 1000), (1280, 720), fill=False)  # --size too large: shrunk at its aspect
    assert w <= 1203 and h <= 648 and abs(w / h - 4.0) < 0.02
    assert parse_size("1280x720") == (1280, 720) and parse_size(" 640 X 360 ") == (640, 360)
    for bad in ("1280", "x720", "12x720", "1280x720x3", "-5x10", "9000x100", ""):
        with pytest.raises(BadInput, match="--size"):
            parse_size(bad)


@pytest.mark.parametrize(("args", "says"), [
    (["--size", "12x"], "--size '12x'"),
    (["--size", "10x10"], "out of range"),
    (["--size", "800x600", "--width", "640"], "--size WxH replaces --width"),
    (["--display", "-1"], "--display -1"),
])
def test_bad_window_options_are_named(config_file, capsys, args, says):
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["-c", str(config_file), "show", "--windowed", "--seconds", "1", *args])
    assert e.value.code == 2 and says in capsys.readouterr().err


def _under_xvfb(cmd: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SDL_VIDEODRIVER": "x11", "SDL_AUDIODRIVER": "dummy"}
    return subprocess.run([*XVFB, *cmd], cwd=REPO, env=env, capture_output=True, text=True, timeout=240)


def _geometry(xwininfo: str) -> tuple[int, int, int, int]:
    m = re.search(r'"Latent Gallery".*?(\d+)x(\d+)\+(-?\d+)\+(-?\d+)', xwininfo)
    assert m, xwininfo
    return tuple(int(v) for v in m.groups())  # type: ignore[return-value]


@needs_x
@pytest.mark.gl
def test_windowed_show_fits_a_1280x720_screen_with_its_label(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    p = _under_xvfb([sys.executable, "-m", "tests.installation.window_probe", str(data), str(out)], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads((out / "result.json").read_text())
    w, h = res["size"]
    assert (w, h) == (1152, 648) and res["frames"] > 5  # show.width x height is 1920x1080: fitted at 16:9
    gw, gh, gx, gy = _geometry(res["xwininfo"])
    assert (gw, gh) == (w, h) and gx >= 0 and gy >= 0 and gx + gw <= 1280 and gy + gh <= 720  # all on screen
    screen = np.load(out / "screen.npy")
    assert screen.shape == (720, 1280, 3)
    lit = np.argwhere(screen.max(axis=2) > 180)  # the label is the only light: the work is a black still
    assert len(lit) > 200, "no label on the screen"
    (y0, x0), (y1, x1) = lit.min(axis=0), lit.max(axis=0)
    assert gx <= x0 and x1 < gx + gw and gy <= y0 and y1 < gy + gh  # the label lies inside the window
    assert y0 > gy + gh // 2 and x0 < gx + gw // 2  # at the bottom left, as the show places it


@needs_x
@pytest.mark.gl
def test_size_flag_on_a_small_screen(tmp_path, config_file):
    def show(*args: str) -> dict:
        p = _under_xvfb([sys.executable, "-c", "from gallery.cli import main; main()", "-c", str(config_file),
                         "show", "--windowed", "--seconds", "1", "--json", *args], tmp_path)
        assert p.returncode == 0, p.stderr[-3000:]
        return json.loads(p.stdout.strip().splitlines()[-1])

    assert show("--size", "640x360")["size"] == [640, 360]  # fits: as asked
    w, h = show("--size", "2560x1440")["size"]  # larger than the screen: shrunk to fit, same aspect
    assert w <= 1203 and h <= 648 and abs(w / h - 16 / 9) < 0.01


def test_a_long_title_is_wrapped_inside_the_picture(gl_ctx):
    from installation.render import Renderer, offscreen_target, wrap_text

    assert wrap_text("one two three four", 9, len) == ["one two", "three", "four"]
    assert wrap_text("one two three four five six seven", 9, len, max_lines=2) == ["one two", "three fo…"]
    fbo = offscreen_target(gl_ctx, 320, 180)
    r = Renderer(gl_ctx, 320, 180, "contain")
    r.set_text("label", ("Between “Endless walk through the tiny-faces64 model, seed 7” and “Chain walk through "
                         "the tiny-faces64 model, seeds 3, 9”" * 2, "walk · 5 December 2026", "seed 7"))
    r.draw(fbo, a=None, b=None, texts={"label": (1.0, "label")})
    out = r.read(fbo)
    margin = 180 // 20
    assert out[:, margin:320 - margin].max() > 200  # drawn ...
    assert out[:, 320 - margin:].max() == 0 and out[:, :margin].max() == 0  # ... and inside, margins clear
    r.release()
