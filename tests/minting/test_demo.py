"""The demo step mints a frozen set on the local dev chain under data_dir and verifies it; `gallery mint`
commands afterwards see the same chain."""

from __future__ import annotations

import json

from sqlalchemy import select

from catalogue.models import Collection, Mint
from gallery.demo import STEPS, DemoContext
from tests.minting.helpers import add_artworks


def test_demo_step_creates_freezes_and_mints(settings, catalogue, tmp_path, capsys):
    from minting.demo import mint_step

    assert "minting.demo:mint_step" in STEPS
    add_artworks(catalogue, 5)
    dc = DemoContext(settings=settings, catalogue=catalogue, out_dir=tmp_path, quick=True)
    res = mint_step(dc)
    assert res["tokens"] == 4 and res["verified"]
    out = capsys.readouterr().out
    assert out.count("ipfs://bafybei") == 4 and res["first_uri"] in out
    with catalogue.read() as s:
        coll = s.get(Collection, res["set"])
        assert coll.frozen_at is not None and len(coll.items) == 4
        assert len(s.scalars(select(Mint).where(Mint.state == "confirmed")).all()) == 4
    assert "built-in funded dev account" in out and "for this local chain only" in out
    # a second run finds the same set already minted on the same contract of the same kept chain
    again = mint_step(dc)
    assert (again["set"], again["contract"], again["tokens"], again["verified"]) == (res["set"], res["contract"], 4, True)
    with catalogue.read() as s:
        assert len(s.scalars(select(Mint)).all()) == 4


def test_gallery_mint_verifies_what_the_demo_minted(settings, catalogue, tmp_path, config_file, capsys):
    from gallery.cli import main
    from minting.demo import mint_step

    add_artworks(catalogue, 4)
    res = mint_step(DemoContext(settings=settings, catalogue=catalogue, out_dir=tmp_path, quick=True))
    capsys.readouterr()
    try:
        main(["--config", str(config_file), "mint", "verify", str(res["set"]), "--json"])
    except SystemExit as e:
        assert e.code in (0, None), capsys.readouterr().err
    v = json.loads(capsys.readouterr().out)
    assert v["ok"] and v["contract"] == res["contract"] and v["total_minted"] == 4


def test_demo_step_falls_back_when_the_curated_set_cannot_be_minted(settings, catalogue, tmp_path):
    from catalogue import ArtworkDraft, MediaDraft
    from minting.demo import mint_step
    from tests.minting.helpers import make_set

    add_artworks(catalogue, 3)
    mute = catalogue.add(ArtworkDraft(kind="soundscape", recipe={"generator": "test.sound", "seed": 1},
                                      media=[MediaDraft("audio", "audio/wav", data=b"RIFF0000WAVE")]))
    bad = make_set(catalogue, [mute], title="Sound without a picture")
    res = mint_step(DemoContext(settings=settings, catalogue=catalogue, out_dir=tmp_path, quick=True))
    assert res["set"] != bad and res["verified"] and res["tokens"] == 3
