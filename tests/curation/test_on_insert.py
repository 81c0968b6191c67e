"""Features on insert: a generation job computes curation's features of what it adds (curation.index_on_insert)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from catalogue.models import Feature


@pytest.fixture(autouse=True)
def _front_door(monkeypatch):
    """As the command line and the worker run jobs: with the front door's hooks (gallery.wiring), here only."""
    from gallery.wiring import install
    from generator import run

    monkeypatch.setattr(run, "_AFTER_SAVE", [])
    install()


def _ctx(settings, catalogue, tmp_path):
    from generator.jobs import JobContext

    return JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path, seed=0)


def _features(catalogue, aid: int) -> dict[str, Feature]:
    with catalogue.read() as s:
        return {f.name: f for f in s.scalars(select(Feature).where(Feature.artwork_id == aid))}


def test_run_job_of_procedural_images_computes_their_features(settings, catalogue, tmp_path):
    from curation.embed import HistEncoder
    from curation.indexer import index_catalogue
    from generator.jobs import JobSpec
    from generator.run import execute_run

    assert settings.curation.index_on_insert is True  # the default
    ids = execute_run(JobSpec(kind="procedural.images", params={"count": 2, "size": 48}, seed=7),
                      _ctx(settings, catalogue, tmp_path))
    assert len(ids) == 2
    for aid in ids:
        f = _features(catalogue, aid)
        assert {"brightness", "colourfulness", "contrast", "sharpness", "phash", "emb_hist"} <= set(f)
        assert 0.0 <= f["brightness"].value <= 1.0
        assert f["emb_hist"].model_sha256 == HistEncoder.model_sha256
        assert "emb_clip" not in f  # CLIP embeddings are left to the lazy index
    # The lazy index with the same (histogram) embedding finds nothing left to do.
    rep = index_catalogue(catalogue, HistEncoder())
    assert rep.indexed == [] and rep.up_to_date == 2


def test_features_on_insert_can_be_turned_off(settings, catalogue, tmp_path):
    from gallery.config import Settings
    from generator.jobs import JobSpec
    from generator.run import execute_run

    data = settings.model_dump(mode="json")
    data["curation"]["index_on_insert"] = False
    off = Settings.model_validate(data)
    (aid,) = execute_run(JobSpec(kind="procedural.images", params={"count": 1, "size": 32}, seed=1),
                         _ctx(off, catalogue, tmp_path))
    assert _features(catalogue, aid) == {}


def test_a_failure_of_the_features_never_fails_the_job(settings, catalogue, tmp_path, monkeypatch, caplog):
    import curation.indexer
    from generator.jobs import JobSpec
    from generator.run import execute_run

    def broken(cat, ids):
        raise RuntimeError("the feature extractor broke")

    monkeypatch.setattr(curation.indexer, "index_new", broken)
    with caplog.at_level(logging.WARNING):
        (aid,) = execute_run(JobSpec(kind="procedural.images", params={"count": 1, "size": 32}, seed=2),
                             _ctx(settings, catalogue, tmp_path))
    assert catalogue.get(aid) is not None and _features(catalogue, aid) == {}
    assert "features on insert failed" in caplog.text and "the feature extractor broke" in caplog.text


def test_media_that_cannot_be_described_is_skipped_and_logged(settings, catalogue, tmp_path, monkeypatch, caplog):
    from generator import registry
    from generator.jobs import JobSpec
    from generator.run import execute_run

    monkeypatch.setitem(registry.KINDS, "test.text", registry.JobKind("test.text", "tests.curation.test_on_insert:text_job"))
    with caplog.at_level(logging.WARNING):
        (aid,) = execute_run(JobSpec(kind="test.text", seed=3), _ctx(settings, catalogue, tmp_path))
    assert catalogue.get(aid) is not None and _features(catalogue, aid) == {}
    assert f"artwork {aid} skipped" in caplog.text


def text_job(params, ctx):
    """A test job kind whose 'image' is not an image."""
    from catalogue import ArtworkDraft, MediaDraft

    return [ArtworkDraft(kind="image", title="not a picture", recipe={"generator": "test", "seed": params["seed"]},
                         media=[MediaDraft(role="image", mime="image/png", data=b"definitely not a png")])]


@pytest.mark.parametrize("value", ["sometimes", "2"])
def test_index_on_insert_must_be_a_boolean(value):
    from pydantic import ValidationError

    from curation.settings import CurationSettings

    with pytest.raises(ValidationError, match="index_on_insert"):
        CurationSettings.model_validate({"index_on_insert": value})
