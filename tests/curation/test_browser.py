"""End to end in real headless Chromium (Debian's chromium + chromium-driver, driven by selenium):
search, open a detail page, build a set with suggestions, export it. Screenshots go to
$CURATION_SCREENSHOTS (default: the test's tmp folder)."""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path
from urllib.request import urlopen

import pytest

from curation.embed import HistEncoder
from curation.web.app import create_app
from tests.curation.helpers import fill

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                 reason="needs Debian's chromium and chromium-driver (scripts/system-deps.sh)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(settings, catalogue):
    ids = fill(catalogue)
    yield from _serve(create_app(settings, catalogue, encoder=HistEncoder(), token=None), ids)


def _serve(app, ids):
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", ids
    srv.should_exit = True
    th.join(10)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
              f"--user-data-dir={tmp_path / 'chrome-profile'}", "--window-size=1280,1000"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def wait_for(b, cond, timeout: float = 20.0) -> None:
    """Until ``cond()`` holds on a fully loaded page. An element read while a form's POST navigates away
    (or a polling page replaces it) is stale or missing for a moment: that counts as "not yet"."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(b, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda _: cond() and b.execute_script("return document.readyState") == "complete")


def test_search_detail_set_export(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    base, ids = server
    shots = Path(os.environ.get("CURATION_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    b = browser

    # Search: the brightness range of the filter form (the chapter's one-feature latent space).
    b.get(base + "/")
    b.find_element(By.NAME, "brightness_max").send_keys("0.35")
    b.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_for(b, lambda: "brightness_max=0.35" in b.current_url)
    cards = b.find_elements(By.CSS_SELECTOR, "#grid .card")
    dark = {v for k, v in ids.items() if k[2] == "black"}
    assert {int(c.get_attribute("data-id")) for c in cards} == dark
    b.save_screenshot(str(shots / "1-grid-dark.png"))

    # Open a detail page; "more like this" is there.
    first = cards[0]
    aid = int(first.get_attribute("data-id"))
    first.find_element(By.CSS_SELECTOR, "a.open").click()
    wait_for(b, lambda: b.current_url.endswith(f"/a/{aid}"))
    assert b.find_element(By.ID, "title").text == b.title.split(" · ")[0]
    assert b.find_element(By.ID, "recipe").text.startswith("{")
    assert len(b.find_elements(By.CSS_SELECTOR, "#like .card")) == min(12, len(ids) - 1)
    b.save_screenshot(str(shots / "2-detail.png"))

    # Build a set: start one from this artwork, then take suggestions.
    b.find_element(By.CSS_SELECTOR, "#new-set-form input[name=title]").send_keys("Night pieces")
    b.find_element(By.CSS_SELECTOR, "#new-set-form button").click()
    wait_for(b, lambda: "/sets/" in b.current_url)
    assert b.find_element(By.ID, "set-title").text == "Night pieces"
    size = b.find_element(By.CSS_SELECTOR, "#suggest-form input[name=size]")
    size.clear()
    size.send_keys("3")
    b.find_element(By.ID, "suggest-btn").click()
    wait_for(b, lambda: "suggest=1" in b.current_url)
    suggested = b.find_elements(By.CSS_SELECTOR, "#add-suggested input[name=artwork]")
    assert len(suggested) == 3 and aid not in {int(s.get_attribute("value")) for s in suggested}
    b.save_screenshot(str(shots / "3-suggestions.png"))
    b.find_element(By.ID, "add-suggested-btn").click()
    wait_for(b, lambda: "suggest=1" not in b.current_url)
    items = [int(c.get_attribute("data-id")) for c in b.find_elements(By.CSS_SELECTOR, "#set-items .card")]
    assert len(items) == 4 and items[0] == aid
    b.save_screenshot(str(shots / "4-set.png"))

    # Export: the link serves a zip with the media, manifest and contact sheet.
    href = b.find_element(By.ID, "export").get_attribute("href")
    with urlopen(href, timeout=30) as r:
        z = zipfile.ZipFile(io.BytesIO(r.read()))
    names = z.namelist()
    assert {"manifest.json", "contact_sheet.png"} <= set(names) and sum(n.startswith("media/") for n in names) == 8
    (shots / "contact_sheet.png").write_bytes(z.read("contact_sheet.png"))

    # The map draws every indexed artwork.
    b.get(base + "/map?axis=brightness")
    for _ in range(100):
        if len(b.find_elements(By.CSS_SELECTOR, "#map image")) == len(ids):
            break
        time.sleep(0.1)
    assert len(b.find_elements(By.CSS_SELECTOR, "#map image")) == len(ids)
    b.save_screenshot(str(shots / "5-map.png"))


def test_text_search_box_with_clip(settings, catalogue, browser, tmp_path):
    """The search box with the shipped tiny CLIP: "a red circle" shows red shapes first (the tiny model
    knows colours well, shapes hardly: see test_ranking)."""
    from selenium.webdriver.common.by import By

    from curation.embed import load_encoder
    from tests.curation.test_ranking import _catalogue

    truth = _catalogue(catalogue)
    app = create_app(settings, catalogue, encoder=load_encoder(settings, "clip"), token=None)
    gen = _serve(app, truth)
    base, _ = next(gen)
    try:
        browser.get(base + "/")
        box = browser.find_element(By.ID, "q")
        box.send_keys("a red circle")
        browser.find_element(By.ID, "go").click()
        wait_for(browser, lambda: "q=a+red+circle" in browser.current_url)
        cards = browser.find_elements(By.CSS_SELECTOR, "#grid .card")
        n_red = sum(1 for t in truth.values() if t[1] == "red")
        assert {truth[int(c.get_attribute("data-id"))][1] for c in cards[:n_red]} == {"red"}
        shots = Path(os.environ.get("CURATION_SCREENSHOTS", tmp_path / "shots"))
        shots.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shots / "6-text-search.png"))
    finally:
        next(gen, None)
