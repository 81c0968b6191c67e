"""The real image collection: Noto Color Emoji's glyphs (Debian's fonts-noto-color-emoji) as a dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from generator.datasets import emoji
from generator.datasets.image_store import ImageDataset

REPO = Path(__file__).resolve().parents[2]
needs_font = pytest.mark.skipif(emoji.find_font() is None,
                                reason="fonts-noto-color-emoji is not installed (make setup installs it)")


@needs_font
def test_glyphs_are_exported_with_their_code_points(tmp_path):
    res = emoji.export_glyphs(tmp_path, limit=30)
    assert res["written"] == 30 and res["glyphs"] > 3000 and res["strike_ppem"] == 109
    files = sorted(tmp_path.glob("*.png"))
    assert len(files) == 30
    with Image.open(files[0]) as im:
        assert im.size == (136, 128)
    # every glyph, ligatures too (flags, ZWJ sequences, skin tones), is named by its code points
    names = emoji.export_glyphs(tmp_path / "all")["names"]
    assert len(names) == res["glyphs"] and not [n for n in names if not n.startswith("u")]
    assert "u1F600.png" in names and "u1F1E7_1F1E6.png" in names  # grinning face; the flag of Bosnia
    assert sum("_200D_" in n for n in names) > 1000 and sum("_1F3FD" in n for n in names) > 300


@needs_font
def test_emoji_dataset_on_a_small_limit(config_file, data_dir):
    r = subprocess.run([sys.executable, "-m", "gallery.cli", "--config", str(config_file), "dataset", "emoji",
                        "--limit", "40", "--json"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    c = doc["counts"]
    assert c["files"] == 40 and c["kept"] + sum(v for k, v in c.items() if k.startswith("dropped_")) == 40
    assert c["kept"] >= 30 and c["dropped_unreadable"] == c["dropped_too_small"] == 0
    assert doc["collection"]["licence"] == "SIL Open Font License 1.1" and "fonts-noto-color-emoji" in doc["source"]
    ds = ImageDataset(doc["path"])
    assert ds.shape == (c["kept"], 64, 64, 3) and ds.verify()
    assert Path(doc["contact_sheet"]).is_file()
    assert not list((data_dir / "work").glob("tmp-emoji-*"))  # the rendered glyphs were scratch


def test_a_missing_font_is_a_clear_error(tmp_path):
    with pytest.raises(emoji.BadInput, match="apt-get install fonts-noto-color-emoji"):
        emoji.require_font(tmp_path / "NotoColorEmoji.ttf")
