"""The demo step: a preview recording of the demo catalogue's show."""

from __future__ import annotations

import pytest

from gallery.demo import STEPS, DemoContext
from generator.samples import image_draft
from installation.recording import decode_video

pytestmark = pytest.mark.gl


def test_preview_step_records_the_catalogue(settings, catalogue, tmp_path, monkeypatch):
    import installation.demo as demo

    assert STEPS[-1] == "installation.demo:preview_step"
    monkeypatch.setattr(demo, "PREVIEW_SECONDS", 4.0)
    for i in range(3):
        catalogue.add(image_draft(i))
    dc = DemoContext(settings=settings, catalogue=catalogue, out_dir=tmp_path, quick=True)
    res = demo.preview_step(dc)
    frames, fps = decode_video(tmp_path / "show-preview.mp4")
    assert res["frames"] == 60 and frames.shape == (60, 360, 640, 3) and fps == 15
    assert res["items"] >= 1 and res["skipped"] == 0
