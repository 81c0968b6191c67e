"""A curator edits works (catalogue.editing): wall text, tags, hide / unhide, delete, and gc of what a
delete left; then the same through `gallery catalogue edit|hide|unhide|delete|show|export`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from catalogue import ArtworkDraft, MediaDraft
from catalogue import editing as E
from catalogue.models import Collection, CollectionItem, Feature, Lineage, Mint, Pairing, utcnow
from gallery.errors import BadInput


def draft(seed: int, shared: bytes | None = None, **kw) -> ArtworkDraft:
    return ArtworkDraft(kind="image", title=f"work {seed}", recipe={"generator": "test", "seed": seed},
                        media=[MediaDraft(role="image", mime="image/png", data=f"image-{seed}".encode()),
                               MediaDraft(role="thumbnail", mime="image/png", data=shared or f"th-{seed}".encode())],
                        tags=["t"], **kw)


def test_edit_wall_text_tags_and_curator_title(any_catalogue):
    cat = any_catalogue
    aid = cat.add(draft(1))
    assert not E.curator_titled(cat.get(aid)) and not E.has_wall_text(cat.get(aid))
    changed = E.edit(cat, aid, title="  Tide  ", artist="A. Painter", year="1999", medium="latent walk, video",
                     wall_text="First line.\r\nSecond line.", add_tags=["Sea", "blue"], remove_tags=["t"])
    assert changed == ["title", "artist", "year", "medium", "wall_text", "tags"]
    a = cat.get(aid)
    assert (a.title, a.artist, a.year, a.medium, a.wall_text) == ("Tide", "A. Painter", 1999, "latent walk, video",
                                                                  "First line.\nSecond line.")
    assert sorted(t.name for t in a.tags) == ["blue", "sea"]
    assert E.curator_titled(a) and a.extra["title_by"] == "curator" and E.has_wall_text(a)
    assert E.credit_line(a) == "A. Painter · 1999 · latent walk, video"
    # clearing, and nothing to change
    assert E.edit(cat, aid, year="", medium="") == ["year", "medium"]
    assert cat.get(aid).year is None and E.credit_line(cat.get(aid)) == "A. Painter"
    assert E.edit(cat, aid, title="Tide", artist="A. Painter") == []


def test_edit_keeps_untitled_default_unclaimed(any_catalogue):
    cat = any_catalogue
    aid = cat.add(draft(2))
    E.edit(cat, aid, title="work 2", artist="X")  # the same title: not the curator's (web forms resend it)
    assert not E.curator_titled(cat.get(aid))
    E.edit(cat, aid, title="work 2", claim_title=True)  # the CLI's explicit --title
    assert E.curator_titled(cat.get(aid))


@pytest.mark.parametrize(("kw", "message"), [
    ({"title": "   "}, "title: must not be empty"),
    ({"title": "x" * 301}, "title: too long \\(301 characters; at most 300\\)"),
    ({"title": "bell\x07"}, "title: a control character \\(U\\+0007\\)"),
    ({"title": "two\nlines"}, "title: a line break"),
    ({"artist": "evil\u202eright"}, "artist: a control character \\(U\\+202E\\)"),
    ({"year": "999"}, "year: 999 is outside 1000..2200"),
    ({"year": "2201"}, "year: 2201 is outside"),
    ({"year": "nineteen"}, "year: 'nineteen' is not a year"),
    ({"medium": "m" * 301}, "medium: too long"),
    ({"wall_text": "a\x00b"}, "wall text: a control character \\(U\\+0000\\)"),
    ({"wall_text": "w" * 4001}, "wall text: too long"),
    ({"add_tags": ["x" * 101]}, "tag"),
    ({"add_tags": ["a"], "remove_tags": ["A"]}, "tags: a both added and removed"),
])
def test_bad_edits_name_the_field_and_change_nothing(any_catalogue, kw, message):
    cat = any_catalogue
    aid = cat.add(draft(3))
    before = E.wall_text_of(cat.get(aid))
    with pytest.raises(BadInput, match=message):
        E.edit(cat, aid, **{"title": "New title", **kw})
    assert E.wall_text_of(cat.get(aid)) == before
    with pytest.raises(BadInput, match="no artwork with id 999"):
        E.edit(cat, 999, title="x")


def test_hide_unhide_and_quarantined(any_catalogue):
    cat = any_catalogue
    a, b, q = cat.add(draft(4)), cat.add(draft(5)), cat.add(draft(6))
    cat.set_status(q, "quarantined", "corrupt blob (hash mismatch)")
    assert E.hide(cat, [a, b], reason="too dark") == [a, b]
    assert cat.get(a).status == "hidden" and cat.get(a).status_reason == "too dark"
    assert E.hide(cat, [a]) == []  # already hidden
    with pytest.raises(BadInput, match=f"artwork {q} is quarantined \\(corrupt blob.*unhide does not change"):
        E.unhide(cat, [a, q])
    assert cat.get(a).status == "hidden"  # all or nothing
    with pytest.raises(BadInput, match="no artwork with id 77"):
        E.unhide(cat, [a, 77])
    assert E.unhide(cat, [a, b]) == [a, b] and cat.get(b).status == "ok" and cat.get(b).status_reason is None
    with pytest.raises(BadInput, match="quarantined"):
        E.hide(cat, [q])
    assert cat.get(q).status == "quarantined"


def _set(cat, title: str, ids: list[int], frozen: bool = False) -> int:
    with cat.write() as s:
        c = Collection(title=title, frozen_at=utcnow() if frozen else None)
        s.add(c)
        s.flush()
        for n, i in enumerate(ids):
            s.add(CollectionItem(collection_id=c.id, artwork_id=i, position=n))
        return c.id


def test_delete_cascades_renumbers_sets_and_gc_frees_only_its_own_blobs(any_catalogue):
    cat = any_catalogue
    a, b, c = cat.add(draft(7, shared=b"shared")), cat.add(draft(8, shared=b"shared")), cat.add(draft(9))
    d = cat.add(draft(10, parents=[(a, "variation")], pair_with=(a, {"duration": 1})))
    cat.set_features(a, {"brightness": 0.5})
    sid = _set(cat, "Sea pieces", [b, a, c])
    plan = E.plan_delete(cat, [a])[0]
    assert plan.sets == [(sid, "Sea pieces")] and plan.blobs_shared == 1 and len(plan.blobs_freed) == 1
    assert plan.lineage == 1 and plan.pairings == 1 and plan.features == 1 and not plan.refusals
    assert cat.get(a) is not None  # a plan changes nothing
    own = plan.blobs_freed[0]
    shared = next(m.sha256 for m in cat.get(a).media if m.sha256 != own)
    E.delete(cat, [a])
    assert cat.get(a) is None and cat.get(d) is not None
    with cat.read() as s:
        items = s.execute(select(CollectionItem.artwork_id, CollectionItem.position)
                          .where(CollectionItem.collection_id == sid).order_by(CollectionItem.position)).all()
        assert [tuple(r) for r in items] == [(b, 0), (c, 1)]
        assert not s.scalars(select(Lineage).where(Lineage.parent_id == a)).all()
        assert not s.scalars(select(Pairing).where(Pairing.visual_id == a)).all()
        assert not s.scalars(select(Feature).where(Feature.artwork_id == a)).all()
    # the blobs stay until gc; gc removes the one no artwork refers to and keeps the one b still uses
    assert cat.store.exists(own) and cat.store.exists(shared)
    assert cat.gc(grace_seconds=0) == [own]
    assert not cat.store.exists(own) and cat.store.exists(shared) and cat.verify().ok


def test_delete_refuses_minted_and_frozen_naming_them(any_catalogue):
    cat = any_catalogue
    a, b, c = cat.add(draft(11)), cat.add(draft(12)), cat.add(draft(13))
    fid = _set(cat, "Frozen one", [b, c], frozen=True)
    with cat.write() as s:
        s.add(Mint(collection_id=fid, artwork_id=b, chain_id=31337, contract="0x" + "ab" * 20, token_id=5,
                   state="confirmed"))
    with pytest.raises(BadInput) as e:
        E.delete(cat, [a, b, c])
    msg = str(e.value)
    assert "nothing deleted" in msg and f"artwork {b}" in msg and "token 5 on chain 31337 contract 0x" + "ab" * 20 in msg
    assert f"in frozen set {fid} ('Frozen one'" in msg and f"artwork {a}" not in msg
    assert all(cat.get(i) is not None for i in (a, b, c))  # all or nothing
    # a minted work's wall text and tags are what its token was made from
    with pytest.raises(BadInput, match=f"artwork {b} is minted \\(token 5 .*title cannot change"):
        E.edit(cat, b, title="Renamed")
    assert E.edit(cat, c, title="In a frozen set, not minted") == ["title"]
    with pytest.raises(BadInput, match="no artwork with id 404"):
        E.delete(cat, [404])


# ---- the CLI ------------------------------------------------------------------------------------------
def gallery(capsys, config, *args: str) -> tuple[int, str, str]:
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--config", str(config), *args])
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


def test_cli_edit_show_hide_delete(capsys, config_file, data_dir, tmp_path):
    from catalogue import Catalogue

    cat = Catalogue(f"sqlite:///{data_dir / 'catalogue.sqlite'}", data_dir / "media", fsync=False)
    a, b = cat.add(draft(20)), cat.add(draft(21))
    para = tmp_path / "wall.txt"
    para.write_text("A slow walk through a learnt face space.\n")
    code, out, err = gallery(capsys, config_file, "catalogue", "edit", str(a), "--title", "Faces at dusk",
                             "--artist", "Latent Gallery", "--year", "2026", "--medium", "StyleGAN walk",
                             "--text-file", str(para), "--tag", "dusk", "--untag", "t")
    assert code == 0, err
    assert "changed title, artist, year, medium, wall_text, tags" in out
    code, out, _ = gallery(capsys, config_file, "catalogue", "show", str(a))
    assert "'Faces at dusk'" in out and "Latent Gallery · 2026 · StyleGAN walk" in out
    assert "wall text: A slow walk through a learnt face space." in out
    code, out, _ = gallery(capsys, config_file, "catalogue", "show", str(a), "--json")
    assert json.loads(out)["wall"]["title_by"] == "curator"
    # the export carries the wall text beside the media
    code, out, _ = gallery(capsys, config_file, "catalogue", "export", str(a), str(b), "--to", str(tmp_path / "x"))
    assert code == 0 and json.loads((tmp_path / "x" / f"{a}-label.json").read_text())["artist"] == "Latent Gallery"
    assert not (tmp_path / "x" / f"{b}-label.json").exists()  # nothing written for b
    # bad input: exit 2, named
    for args, why in [(["edit", str(a), "--year", "12"], "year: 12 is outside"),
                      (["edit", str(a), "--title", ""], "title: must not be empty"),
                      (["edit", "999", "--title", "x"], "no artwork with id 999"),
                      (["edit", str(a)], "nothing to change"),
                      (["edit", str(a), "--text", "x", "--text-file", str(para)], "--text or --text-file"),
                      (["edit", str(a), "--text-file", str(tmp_path / "nope.txt")], "nope.txt: cannot read"),
                      (["hide", "999"], "no artwork with id 999"),
                      (["delete", str(a), "999"], "no artwork with id 999")]:
        code, _, err = gallery(capsys, config_file, "catalogue", *args)
        assert code == 2 and why in err, (args, err)
    code, out, _ = gallery(capsys, config_file, "catalogue", "hide", str(a), "--reason", "rights unclear")
    assert code == 0 and f"hidden: {a}" in out
    code, out, _ = gallery(capsys, config_file, "catalogue", "ls", "--status", "hidden", "--json")
    assert [r["id"] for r in json.loads(out)] == [a]
    code, out, _ = gallery(capsys, config_file, "catalogue", "unhide", str(a))
    assert code == 0 and cat.get(a).status == "ok"
    # delete: without --yes only says what would go
    gallery(capsys, config_file, "catalogue", "show", str(b))  # makes the files view of b
    assert (data_dir / "files" / str(b)).is_dir()
    code, out, _ = gallery(capsys, config_file, "catalogue", "delete", str(b))
    assert code == 0 and f"would delete artwork {b}" in out and "--yes" in out and cat.get(b) is not None
    code, out, _ = gallery(capsys, config_file, "catalogue", "delete", str(b), "--yes", "--json")
    got = json.loads(out)
    assert code == 0 and got["deleted"] and got["artworks"][0]["blobs_freed_at_gc"] == 2 and cat.get(b) is None
    assert not (data_dir / "files" / str(b)).exists()
    code, out, _ = gallery(capsys, config_file, "catalogue", "gc")
    assert code == 0 and "removed 2 unreferenced blobs" in out
    cat.close()
