"""Editing a work in real headless Chromium: the edit page (screenshot), a bad year re-rendered with its
error, a good save shown on the work's page, hide, and delete through its confirmation page.
Screenshots go to $CURATION_SCREENSHOTS (default: the test's tmp folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from curation.embed import HistEncoder
from curation.web.app import create_app
from tests.curation.helpers import fill
from tests.curation.test_browser import _serve, browser, pytestmark, wait_for  # noqa: F401 - fixture, marks


@pytest.fixture
def server(settings, catalogue):
    ids = fill(catalogue)
    yield from _serve(create_app(settings, catalogue, encoder=HistEncoder(), token=None), ids)


def _png_size(p: Path) -> tuple[int, int]:
    b = p.read_bytes()
    assert b[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")


def test_edit_page_in_chromium(server, browser, catalogue, tmp_path):  # noqa: F811 - the browser fixture
    from selenium.webdriver.common.by import By

    base, ids = server
    shots = Path(os.environ.get("CURATION_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    b = browser
    aid = ids[("circle", "red", "white")]
    b.get(f"{base}/a/{aid}")
    b.find_element(By.ID, "edit-link").click()
    wait_for(b, lambda: b.current_url.endswith(f"/a/{aid}/edit"))

    def field(name: str):
        return b.find_element(By.CSS_SELECTOR, f"#edit-form [name={name}]")

    field("title").clear()
    field("title").send_keys("Red sun, white sky")
    field("artist").send_keys("M. Curator")
    field("year").send_keys("20266")  # a typo: the form comes back with the error, nothing saved
    field("medium").send_keys("pigment on screen")
    field("wall_text").send_keys("A red disc hangs low on a white sky.")
    b.find_element(By.ID, "save").click()
    wait_for(b, lambda: len(b.find_elements(By.ID, "error")) == 1)
    assert "year: 20266 is outside 1000..2200" in b.find_element(By.ID, "error").text
    assert field("artist").get_attribute("value") == "M. Curator"  # what was typed is kept
    assert catalogue.get(aid).artist == ""
    shot = shots / "7-edit-error.png"
    b.save_screenshot(str(shot))
    assert _png_size(shot)[0] > 600

    field("year").clear()
    field("year").send_keys("2026")
    b.find_element(By.ID, "save").click()
    wait_for(b, lambda: b.current_url.split("?")[0].endswith(f"/a/{aid}"))
    assert b.find_element(By.ID, "title").text == "Red sun, white sky"
    assert b.find_element(By.ID, "credit").text == "M. Curator · 2026 · pigment on screen"
    assert b.find_element(By.ID, "wall-text").text == "A red disc hangs low on a white sky."
    assert "saved" in b.find_element(By.ID, "note").text
    b.save_screenshot(str(shots / "8-detail-wall-text.png"))

    # hide, then delete through the confirmation page
    b.get(f"{base}/a/{aid}/edit")
    b.find_element(By.ID, "hide-btn").click()
    wait_for(b, lambda: len(b.find_elements(By.ID, "status-note")) == 1)
    assert catalogue.get(aid).status == "hidden"
    b.get(f"{base}/a/{aid}/edit")
    b.find_element(By.ID, "delete-link").click()
    wait_for(b, lambda: len(b.find_elements(By.ID, "delete-form")) == 1)
    b.save_screenshot(str(shots / "9-delete-confirm.png"))
    b.find_element(By.CSS_SELECTOR, "#delete-form input[name=confirm]").click()
    b.find_element(By.ID, "delete-btn").click()
    wait_for(b, lambda: len(b.find_elements(By.ID, "deleted")) == 1)
    assert catalogue.get(aid) is None
