"""The catalogue suite: runs on SQLite and on a real PostgreSQL server (see conftest.any_catalogue)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from catalogue import ArtworkDraft, MediaDraft
from catalogue.models import Artwork, Lineage, Media, Pairing, utcnow


def draft(seed: int, kind: str = "image", **kw) -> ArtworkDraft:
    return ArtworkDraft(
        kind=kind, title=f"work {seed}", recipe={"generator": "test", "seed": seed},
        media=[MediaDraft(role="image", mime="image/png", data=f"image-{seed}".encode(), width=8, height=8),
               MediaDraft(role="thumbnail", mime="image/png", data=f"thumb-{seed}".encode())],
        tags=["t", f"s{seed % 3}"], **kw)


def test_add_writes_blobs_and_rows(any_catalogue):
    cat = any_catalogue
    aid = cat.add(draft(1))
    art = cat.get(aid)
    assert art is not None and art.kind == "image" and art.recipe["seed"] == 1
    assert [m.role for m in art.media] == ["image", "thumbnail"]
    for m in art.media:
        assert cat.media_path(m).read_bytes() in (b"image-1", b"thumb-1")
    assert sorted(t.name for t in art.tags) == ["s1", "t"]


def test_add_is_idempotent(any_catalogue):
    cat = any_catalogue
    a = cat.add(draft(7))
    b = cat.add(draft(7))
    assert a == b
    assert cat.count() == 1
    # a different recipe is a different artwork even with the same media
    d = draft(7)
    d.recipe = {"generator": "test", "seed": 7, "extra": True}
    assert cat.add(d) != a
    # the same draft twice in one batch gives one artwork
    ids = cat.add_many([draft(9), draft(9), draft(10)])
    assert ids[0] == ids[1] != ids[2]
    assert cat.count() == 4


def test_blob_shared_by_two_artworks(any_catalogue):
    cat = any_catalogue
    d1, d2 = draft(1), draft(2)
    d2.media[1] = MediaDraft(role="thumbnail", mime="image/png", data=b"thumb-1")  # same blob as d1's thumb
    cat.add_many([d1, d2])
    assert cat.stats()["blobs"] == 3


def test_add_from_file_and_missing_file(any_catalogue, tmp_path):
    cat = any_catalogue
    f = tmp_path / "clip.mp4"
    f.write_bytes(b"\x00" * 3_000_000)
    aid = cat.add(ArtworkDraft(kind="walk", recipe={"seed": 1}, media=[MediaDraft.from_file("video", f)],
                               duration=2.0))
    art = cat.get(aid)
    assert art.media[0].mime == "video/mp4" and art.media[0].size == 3_000_000
    before = cat.count()
    with pytest.raises(FileNotFoundError, match="no such file"):
        cat.add(ArtworkDraft(kind="walk", recipe={"seed": 2},
                             media=[MediaDraft.from_file("video", tmp_path / "nope.mp4")]))
    assert cat.count() == before


def test_lineage_pairing_features(any_catalogue):
    cat = any_catalogue
    parent = cat.add(draft(1, kind="walk"))
    child = cat.add(draft(2, parents=[(parent, "variation")], features={"brightness": 0.25, "emb": [0.1, 0.2]}))
    sound = cat.add(ArtworkDraft(kind="soundscape", recipe={"seed": 3},
                                 media=[MediaDraft(role="audio", mime="audio/wav", data=b"RIFF....")],
                                 pair_with=(parent, {"duration": 4.0})))
    with cat.read() as s:
        assert s.scalars(select(Lineage.parent_id).where(Lineage.child_id == child)).all() == [parent]
        p = s.scalars(select(Pairing)).one()
        assert (p.visual_id, p.sound_id, p.timeline["duration"]) == (parent, sound, 4.0)
    cat.set_features(child, {"brightness": 0.5})
    from catalogue import feature_vector
    from catalogue.models import Feature

    with cat.read() as s:
        feats = {f.name: f for f in s.scalars(select(Feature).where(Feature.artwork_id == child))}
    assert feats["brightness"].value == 0.5
    assert feature_vector(feats["emb"]).tolist() == pytest.approx([0.1, 0.2])


def test_page_filters_and_keyset(any_catalogue):
    cat = any_catalogue
    ids = cat.add_many([draft(i, kind="image" if i % 2 else "walk") for i in range(30)])
    with cat.write() as s:  # spread creation times, oldest first
        for n, aid in enumerate(ids):
            s.get(Artwork, aid).created = utcnow() - timedelta(minutes=100 - n)
    cat.set_status(ids[-1], "hidden", "curator")
    page = cat.page(kind="image", limit=5)
    assert len(page) == 5 and all(a.kind == "image" and a.status == "ok" for a in page)
    assert [a.created for a in page] == sorted((a.created for a in page), reverse=True)
    assert ids[-1] not in [a.id for a in cat.page(limit=100)]
    nxt = cat.page(kind="image", limit=5, before=(page[-1].created, page[-1].id))
    assert not {a.id for a in page} & {a.id for a in nxt}
    assert nxt[0].created < page[-1].created
    allk = cat.page(kind=["image", "walk"], status=None, limit=100)
    assert len(allk) == 30


def test_verify_detects_and_repairs(any_catalogue):
    cat = any_catalogue
    a = cat.add(draft(1))
    b = cat.add(draft(2))
    art_a, art_b = cat.get(a), cat.get(b)
    cat.media_path(art_a.media[0]).write_bytes(b"tampered")
    cat.media_path(art_b.media[1]).unlink()
    rep = cat.verify()
    assert not rep.ok
    assert [sha for _, sha in rep.corrupt] == [art_a.media[0].sha256]
    assert [sha for _, sha in rep.missing] == [art_b.media[1].sha256]
    rep = cat.verify(repair=True)
    assert cat.get(a).status == "quarantined" and cat.get(b).status == "quarantined"
    assert not cat.media_path(art_a.media[0]).exists()
    assert any(cat.store.quarantine.iterdir())
    with cat.read() as s:
        assert s.get(Media, art_a.media[0].id).broken


def test_gc_removes_only_unreferenced(any_catalogue):
    cat = any_catalogue
    cat.add(draft(1))
    orphan = cat.store.put_bytes(b"left behind by a crash")
    assert cat.gc(dry_run=True) == [orphan]
    assert cat.store.exists(orphan)
    assert cat.gc() == [orphan]
    assert not cat.store.exists(orphan)
    assert cat.verify().ok
    # a young orphan is protected by the grace time
    young = cat.store.put_bytes(b"mid-add")
    assert cat.gc(grace_seconds=3600) == []
    assert cat.store.exists(young)
    # a blob stored again after gc removed it and its (now empty) shard directory
    assert cat.gc(grace_seconds=0) == [young]
    assert not cat.store.path(young).parent.exists()
    assert cat.store.put_bytes(b"mid-add") == young and cat.store.exists(young)


def test_stats_and_models(any_catalogue):
    cat = any_catalogue
    mid = cat.register_model("stylegan", "tiny", "ab" * 32, preset="tiny-faces64")
    assert cat.register_model("stylegan", "tiny again", "ab" * 32) == mid
    cat.add(draft(1, model_sha256="ab" * 32))
    assert cat.page()[0].model_id == mid
    st = cat.stats()
    assert st["artworks"] == 1 and st["models"] == 1 and st["by_kind"] == {"image": 1}
    assert "password" not in st["url"]


def test_catalogue_opens_from_its_own_section_without_the_gallery_config(tmp_path):
    """open_catalogue needs only a ``catalogue`` section and a ``data_dir`` (catalogue/settings.py), the
    same paths as the gallery's Settings gives: SQLite and media under data_dir, an absolute media_dir
    as is, an explicit URL as given."""
    from types import SimpleNamespace

    from catalogue import open_catalogue
    from catalogue.settings import CatalogueSettings
    from gallery.config import load_settings

    data = tmp_path / "data"
    cfg = SimpleNamespace(catalogue=CatalogueSettings(fsync=False), data_dir=data)
    with open_catalogue(cfg) as cat:
        aid = cat.add(draft(1))
        assert cat.url == f"sqlite:///{data / 'catalogue.sqlite'}" and (data / "catalogue.sqlite").is_file()
        assert cat.store.root == data / "media" and cat.get(aid) is not None
    settings = load_settings(None, environ={}, overrides={"data_dir": str(data)}, check_paths=False)
    assert (settings.catalogue_url, settings.media_root) == (cfg.catalogue.database_url(data),
                                                             cfg.catalogue.media_path(data))
    elsewhere = CatalogueSettings(url="sqlite:///" + str(tmp_path / "x.sqlite"), media_dir=tmp_path / "blobs")
    assert elsewhere.database_url(data) == f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert elsewhere.media_path(data) == tmp_path / "blobs"
    assert CatalogueSettings(media_dir="~/blobs").media_path(data) == Path("~/blobs").expanduser()
