"""The show's museum label reads the wall text a curator wrote (catalogue.editing), and picks up an edit."""

from __future__ import annotations

from catalogue import editing
from generator.samples import image_draft
from installation.programme import CatalogueSource, label_lines
from tests.installation.helpers import show_settings


def test_label_is_title_then_credit_line_when_written(settings, catalogue):
    aid = catalogue.add(image_draft(1))
    before = label_lines(catalogue.get(aid))
    assert len(before) == 3 and before[1].startswith("image · ")  # kind · date, then the recipe line
    editing.edit(catalogue, aid, title="Red on white", artist="M. Curator", year=2026, medium="pigment print")
    assert label_lines(catalogue.get(aid)) == ("Red on white", "M. Curator · 2026 · pigment print")
    editing.edit(catalogue, aid, artist="", year=None)
    assert label_lines(catalogue.get(aid)) == ("Red on white", "pigment print")


def test_running_show_picks_up_a_wall_text_edit(settings, catalogue):
    aid = catalogue.add(image_draft(1))
    src = CatalogueSource(catalogue, show_settings(settings))
    first = {e.artwork_id: e for e in src.refresh(0.0)}[aid]
    assert first.label[1].startswith("image · ")
    editing.edit(catalogue, aid, artist="M. Curator")  # the title stays: only the credit changes
    got = {e.artwork_id: e for e in src.refresh(1e6)}[aid]
    assert got.label[1] == "M. Curator"
    editing.hide(catalogue, [aid])
    assert aid not in {e.artwork_id for e in src.refresh(2e6)}
