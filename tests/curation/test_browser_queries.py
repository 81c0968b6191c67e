"""Saved searches in real headless Chromium: filter the grid, save the search, a refused name shows the
reason beside the form, the list re-runs it, delete. Screenshots go to $CURATION_SCREENSHOTS."""

from __future__ import annotations

import os
from pathlib import Path

from tests.curation.test_browser import browser, pytestmark, server, wait_for  # noqa: F401 - fixtures

__all__ = ["pytestmark"]


def test_save_a_search_and_play_it_again(server, browser, tmp_path, catalogue):  # noqa: F811 - fixtures
    from selenium.webdriver.common.by import By

    from curation import queries

    base, ids = server
    shots = Path(os.environ.get("CURATION_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    b = browser
    dark = sorted((v for k, v in ids.items() if k[2] == "black"), reverse=True)

    b.get(base + "/")
    b.find_element(By.NAME, "brightness_max").send_keys("0.35")
    b.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_for(b, lambda: "brightness_max=0.35" in b.current_url)

    # A name the rules refuse: the grid comes back with the reason beside the form, nothing saved.
    b.find_element(By.ID, "save-name").send_keys("night/pieces")
    b.find_element(By.ID, "save-search-btn").click()
    wait_for(b, lambda: b.find_elements(By.ID, "save-error"))
    assert "only letters, digits" in b.find_element(By.ID, "save-error").text
    assert len(b.find_elements(By.CSS_SELECTOR, "#grid .card")) == len(dark)
    assert queries.names(catalogue) == []
    b.save_screenshot(str(shots / "q1-save-refused.png"))

    box = b.find_element(By.ID, "save-name")
    box.clear()
    box.send_keys("Night pieces")
    b.find_element(By.ID, "save-search-btn").click()
    # The refused save above was answered at /queries too (the POST's own address): wait for the
    # redirect's note, not for the path, or the check runs on the refusal page.
    wait_for(b, lambda: "note=" in b.current_url and b.find_elements(By.ID, "note"))
    assert "saved search 'Night pieces'" in b.find_element(By.ID, "note").text
    assert queries.resolve(catalogue, "Night pieces") == dark
    b.save_screenshot(str(shots / "q2-saved-searches.png"))

    b.find_element(By.CSS_SELECTOR, "#queries a.run").click()
    wait_for(b, lambda: b.find_elements(By.ID, "query-name"))
    assert [int(c.get_attribute("data-id")) for c in b.find_elements(By.CSS_SELECTOR, "#grid .card")] == dark
    b.save_screenshot(str(shots / "q3-saved-search-run.png"))

    b.back()
    wait_for(b, lambda: b.find_elements(By.CSS_SELECTOR, "#queries button.delete"))
    b.find_element(By.CSS_SELECTOR, "#queries button.delete").click()
    b.switch_to.alert.accept()
    wait_for(b, lambda: "deleted" in b.current_url)
    assert "no saved searches yet" in b.find_element(By.ID, "queries").text and queries.names(catalogue) == []
