"""The staff page (/staff) in real headless Chromium, driving a real show process (a live window through
SDL's offscreen driver, the control API on a real port): next, pause, programme, reload; and the page
when the show is not running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from curation.embed import HistEncoder
from curation.web.app import create_app
from generator.samples import image_draft
from tests.curation.test_browser import CHROMIUM, DRIVER, _free_port, _serve, wait_for
from tests.curation.test_browser import browser as browser

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.gl,
              pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                 reason="needs Debian's chromium and chromium-driver (scripts/system-deps.sh)")]


def _status(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {}
    except OSError:
        return 0, {}


@pytest.fixture
def show_proc(config_file, catalogue, tmp_path):
    for i in range(3):
        catalogue.add(image_draft(i, title=f"Study {i}"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY")}
    env.update(SDL_VIDEODRIVER="offscreen", SDL_AUDIODRIVER="dummy", PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    log = (tmp_path / "show.log").open("w")
    p = subprocess.Popen([sys.executable, "-m", "tests.curation.staff_show_proc", str(config_file), str(port), "120"],
                         cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            code, st = _status(port)
            if code == 200 and st.get("item"):
                break
            assert p.poll() is None, (tmp_path / "show.log").read_text()[-2000:]
            time.sleep(0.1)
        else:
            raise AssertionError("the show process never answered: " + (tmp_path / "show.log").read_text()[-2000:])
        yield p, port
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait(20)
        log.close()


def test_staff_page_drives_a_running_show(settings, catalogue, show_proc, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    proc, port = show_proc
    s = settings.model_copy(update={"show": settings.show.model_copy(update={"http_port": port})})
    gen = _serve(create_app(s, catalogue, encoder=HistEncoder(), token=None), {})
    base, _ = next(gen)
    shots = Path(os.environ.get("CURATION_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    b = browser
    b.set_window_size(390, 844)  # a phone
    try:
        b.get(base + "/staff")
        first = b.find_element(By.ID, "now-id").text
        assert first.isdigit() and b.find_element(By.ID, "now-title").text.startswith("Study")
        assert b.find_element(By.ID, "state").text == "playing"
        b.save_screenshot(str(shots / "staff-1.png"))

        b.find_element(By.ID, "next").click()
        wait_for(b, lambda: "note=" in b.current_url)
        assert b.find_element(By.ID, "note").text == "next work"
        assert b.find_element(By.ID, "now-id").text not in ("", first)  # the new work, on screen now
        assert _status(port)[1]["items_started"] == 2
        b.save_screenshot(str(shots / "staff-2-next.png"))

        b.find_element(By.ID, "pause").click()
        wait_for(b, lambda: "paused" in b.find_element(By.ID, "note").text)
        assert b.find_element(By.ID, "state").text == "paused" and _status(port)[1]["paused"] is True
        b.find_element(By.ID, "resume").click()
        wait_for(b, lambda: b.find_element(By.ID, "note").text == "playing")
        assert _status(port)[1]["paused"] is False

        options = [o.text for o in Select(b.find_element(By.ID, "programme-name")).options]
        assert options == ["the timetable", "day", "evening"]
        Select(b.find_element(By.ID, "programme-name")).select_by_visible_text("evening")
        b.find_element(By.ID, "switch").click()
        wait_for(b, lambda: b.find_element(By.ID, "note").text == "programme: evening")
        assert b.find_element(By.ID, "programme").text == "evening"
        b.find_element(By.ID, "reload").click()
        wait_for(b, lambda: b.find_element(By.ID, "note").text == "works re-read")

        # the status block polls: a skip made elsewhere (a key, another phone) shows up without a reload
        before = b.find_element(By.ID, "now-id").text
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/next", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            new_id = str(json.loads(r.read())["incoming"]["artwork_id"])
        assert new_id != before
        wait_for(b, lambda: b.find_element(By.ID, "now-id").text == new_id, timeout=10)

        # the show stops: the page says so (200, not a 500), and a button answers with a note
        proc.terminate()
        proc.wait(20)
        wait_for(b, lambda: b.find_element(By.ID, "down").is_displayed(), timeout=10)
        with urllib.request.urlopen(base + "/staff", timeout=10) as r:
            assert r.status == 200 and "The show is not running" in r.read().decode()
        b.get(base + "/staff")
        assert "not running" in b.find_element(By.ID, "down").text
        b.find_element(By.ID, "next").click()
        wait_for(b, lambda: "note=" in b.current_url)
        assert b.find_element(By.ID, "note").text.startswith("next failed: the show is not running")
        b.save_screenshot(str(shots / "staff-3-down.png"))
    finally:
        next(gen, None)
