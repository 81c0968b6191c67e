"""A failed set export leaves nothing behind: no temporary folder, no half zip, no folder it made."""

from __future__ import annotations

import tempfile
import zipfile

import pytest
from fastapi.testclient import TestClient

from curation import sets
from curation.embed import HistEncoder
from curation.export import export_set
from curation.web.app import create_app
from gallery.errors import GalleryError
from tests.curation.helpers import fill


def _broken_set(catalogue) -> int:
    ids = list(fill(catalogue).values())[:3]
    cid = sets.create(catalogue, "Broken", artwork_ids=ids)
    m = catalogue.get(ids[1]).first_media("image")
    catalogue.media_path(m).unlink()  # a blob gone from the store: the export must fail
    return cid


def _tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.mark.parametrize("as_zip", [False, True])
def test_failed_export_leaves_nothing(tmp_path, catalogue, as_zip):
    cid = _broken_set(catalogue)
    out_root = tmp_path / "exports"
    out_root.mkdir()
    for _ in range(3):  # each failure cleans up after itself
        with pytest.raises(GalleryError, match="missing from the store"):
            export_set(catalogue, cid, out_root / "new" / "deeper" / "set", as_zip=as_zip)
    assert _tree(out_root) == []  # no .export-* folder, no .zip.tmp, not even the folders it made


def test_failed_zip_write_leaves_no_half_zip(tmp_path, catalogue, monkeypatch):
    ids = list(fill(catalogue).values())[:2]
    cid = sets.create(catalogue, "Fine", artwork_ids=ids)

    def boom(self, *a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "write", boom)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError, match="disk full"):
        export_set(catalogue, cid, out / "set.zip", as_zip=True)
    assert _tree(out) == []


def test_failed_web_export_leaves_no_temp_folder(tmp_path, settings, catalogue, monkeypatch):
    cid = _broken_set(catalogue)
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    app = create_app(settings, catalogue, encoder=HistEncoder(), token=None, extra_hosts=("testserver",))
    with TestClient(app, raise_server_exceptions=False) as c:
        for _ in range(3):
            r = c.get(f"/sets/{cid}/export.zip")
            assert r.status_code == 500 and "missing from the store" in r.text
    assert _tree(systmp) == []
