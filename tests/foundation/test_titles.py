"""Default titles a visitor understands (issue 23): every job kind, curation's queued runs, `retitle --defaults`."""

from __future__ import annotations

import re

import pytest

from catalogue import ArtworkDraft, MediaDraft
from generator import titles
from generator.jobs import JobContext, JobSpec
from generator.run import execute_run

# What a visitor must never read: artwork or corpus refs, "#6", float seeds like "0.0", digests.
INTERNAL = re.compile(r"artwork:\d|corpus:|#\d+|\b\d+\.\d+\b|\b[0-9a-f]{8,}\b", re.IGNORECASE)


def visitor_title(t: str) -> str:
    assert t and len(t) <= 300, t
    assert not INTERNAL.search(t), f"internal reference in title {t!r}"
    assert t == " ".join(t.split()) and (t[0].isupper() or t[0] == "“"), t
    return t


def test_builders_in_the_target_style():
    assert titles.between("“Dawn walk”", "“Rain study”") == "Between “Dawn walk” and “Rain study”"
    assert titles.soundscape_for("“Dawn walk”") == "Soundscape for “Dawn walk”"
    assert titles.prompt_title(["a forest at night"], 40) == "“a forest at night” (VQGAN+CLIP, 40 steps)"
    assert titles.melody_sample("tiny-2bar", 3, 2) == "Melody from the tiny-2bar model, seed 3, no. 2"
    assert titles.walk_title("endless", 12, "tiny-faces64") == "Endless walk through the tiny-faces64 model, seed 12"
    # a model known only by its digest is not named; a long prompt is cut at a word boundary
    assert titles.the_model("3f5a9c0d1e2b4a6f") == "the model"
    long = titles.prompt_title(["a very long prompt about " + "forests and rivers " * 30], 5)
    assert len(long) <= 300 and long.endswith(" rivers…” (VQGAN+CLIP, 5 steps)")  # whole words only
    assert titles.clip("one two three four", 12) == "one two…"
    # music21 corpus refs in words
    assert titles.melody_ref("corpus:ryansMammoth/BunchOfRosesReel", titles.no_names) == \
        "“Bunch Of Roses Reel” (Ryan's Mammoth Collection)"
    for t in ("Melody sample 0.0", "Between artwork:6 and artwork:7", "Variation 1 of #6", "corpus:bach/x",
              "Endless walk 0 3f5a9c0d1e"):
        assert titles.looks_internal(t) and titles.is_default(t), t
    assert not titles.looks_internal("Dawn walk, seed 12") and not titles.is_default("Dawn walk")


def _ctx(settings, catalogue, tmp_path, seed=0):
    return JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "work", seed=seed)


@pytest.fixture
def one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_every_job_kind_titles_its_work_for_visitors(settings, catalogue, tmp_path, one_thread):
    """Each family's jobs on the shipped tiny models, then curation's variations and "between" runs."""
    import cv2
    import numpy as np

    from curation import generate as cgen

    def run(kind: str, params: dict, seed: int = 0) -> list[int]:
        return execute_run(JobSpec(kind=kind, params=params, seed=seed), _ctx(settings, catalogue, tmp_path, seed))

    got: dict[str, list[str]] = {}

    def titled(label: str, ids: list[int]) -> list[int]:
        got[label] = [visitor_title(catalogue.get(i).title) for i in ids]
        return ids

    titled("procedural", run("procedural.images", {"count": 2, "size": 32}, 3))
    w1 = titled("walk", run("stylegan.walk", {"mode": "endless", "seconds": 0.5, "seconds_per_keyframe": 0.25,
                                              "fps": 8, "size": 32}, 7))
    w2 = titled("chain", run("stylegan.walk", {"mode": "chain", "keyframes": [3, 9], "seconds": 0.5,
                                               "seconds_per_keyframe": 0.25, "fps": 8, "size": 32}, 3))
    titled("mix", run("stylegan.mix", {"row_seeds": [1, 2], "col_seeds": [3], "size": 32}))
    titled("bend", run("stylegan.bend", {"bends": [{"layer": "b16.conv0", "op": "rotate", "amount": 90}],
                                         "seeds": [4], "size": 32}))
    titled("uncanny", run("stylegan.uncanny", {"steps": 2, "snapshot_every": 1, "faces": 1, "size": 32,
                                               "batch": 1, "schedule": "even"}))
    img = np.zeros((64, 64, 3), np.uint8)
    cv2.circle(img, (32, 32), 20, (200, 120, 80), -1)
    photo = tmp_path / "Portrait_of_Ada.png"
    cv2.imwrite(str(photo), img)
    titled("projection", run("stylegan.project", {"image": str(photo), "steps": 2, "size": 32}))
    titled("progression", run("vqclip.progression", {"prompt": "a red circle ^ a blue square", "iterations": 2,
                                                     "cutouts": 2, "size": 32}, 1))
    m = titled("melody", run("musicvae.sample", {"count": 2, "bars": 2}, 5))
    titled("melody between", run("musicvae.interpolate", {"a": f"artwork:{m[0]}", "b": "corpus:bach/bwv66.6",
                                                          "steps": 2, "bars": 2}))
    titled("attribute", run("musicvae.attribute", {"melody": f"artwork:{m[1]}", "attribute": "density",
                                                   "amounts": [0.0, 1.0], "bars": 2}))
    titled("soundscape for", run("lts.soundscape", {"mode": "timeline", "visual_id": w1[0], "iterations": 0}))
    titled("soundscape between", run("lts.soundscape", {"mode": "between", "duration": 1.0, "iterations": 0}))
    # curation's queued runs: named after the works they come from
    (var_run,) = cgen.queue_variations(catalogue, m[0], count=1)
    between_run = cgen.queue_between(catalogue, w1[0], w2[0], steps=2)
    titled("variation", cgen.run_now(settings, catalogue, var_run))
    titled("curated between", cgen.run_now(settings, catalogue, between_run))

    print(got)
    assert got["melody"] == ["Melody from the tiny-2bar model, seed 5, no. 1",
                             "Melody from the tiny-2bar model, seed 5, no. 2"]
    assert got["walk"] == ["Endless walk through the tiny-faces64 model, seed 7"]
    assert got["melody between"] == ["Between “Melody from the tiny-2bar model, seed 5, no. 1” and “bwv66.6” (Bach)"]
    assert got["soundscape for"] == ["Soundscape for “Endless walk through the tiny-faces64 model, seed 7”"]
    assert got["variation"] == ["Variation 1 of “Melody from the tiny-2bar model, seed 5, no. 1”"]
    assert got["curated between"] == [("Between “Endless walk through the tiny-faces64 model, seed 7” and "
                                       "“Chain walk through the tiny-faces64 model, seeds 3, 9”")]
    assert got["progression"] == ["“a red circle” to “a blue square” (VQGAN+CLIP, 2 steps)"]
    assert got["projection"] == ["Projection of “Portrait of Ada” into the tiny-faces64 model"]
    assert "“" in got["attribute"][0] and "density" in got["attribute"][0]


def _old(catalogue, kind: str, title: str, recipe: dict, extra: dict | None = None, parents=()) -> int:
    media = [MediaDraft("thumbnail", "image/png", data=(title + repr(recipe)).encode())]
    return catalogue.add(ArtworkDraft(kind=kind, title=title, recipe=recipe, media=media, extra=extra or {},
                                      parents=list(parents)))


def test_retitle_defaults_renames_internal_references_only(settings, catalogue, config_file):
    from sqlalchemy import select

    from catalogue.models import Artwork
    from tests.stylegan.conftest import cli

    walk = {"generator": "stylegan.walk", "mode": "endless", "seed": 6, "model": {"name": "tiny-faces64"}}
    mel = {"generator": "musicvae", "op": "sample", "preset": "tiny-2bar", "seed": 0, "index": 0, "count": 1}
    a = _old(catalogue, "walk", "Endless walk 6", walk)
    b = _old(catalogue, "melody", "Melody sample 0.0", mel)
    between = {"generator": "musicvae", "op": "interpolate", "preset": "tiny-2bar", "seed": 0,
               "a": {"ref": f"artwork:{b}"}, "b": {"ref": "corpus:bach/bwv66.6"}}
    c = _old(catalogue, "melody", f"Between artwork:{b} and corpus:bach/bwv66.6", between,
             parents=[(b, "between")])
    d = _old(catalogue, "walk", "Variation 1 of #1", dict(walk, vary=[{"sigma": 0.3, "seed": 1}]),
             parents=[(a, "variation")])
    kept = _old(catalogue, "walk", "#1 in my heart", dict(walk, seed=9), extra={"title_by": "curator"})
    fine = _old(catalogue, "image", "Dawn walk", {"generator": "test", "seed": 1})
    with catalogue.read() as s:
        before = dict(s.execute(select(Artwork.id, Artwork.fingerprint)).all())

    assert cli("--config", str(config_file), "catalogue", "retitle") == 2  # --defaults is required
    assert cli("--config", str(config_file), "catalogue", "retitle", "--defaults", "--dry-run") == 0
    assert catalogue.get(b).title == "Melody sample 0.0"  # a dry run writes nothing
    assert cli("--config", str(config_file), "catalogue", "retitle", "--defaults") == 0
    new = {i: catalogue.get(i).title for i in (a, b, c, d, kept, fine)}
    assert new[a] == "Endless walk through the tiny-faces64 model, seed 6"
    assert new[b] == "Melody from the tiny-2bar model, seed 0"
    assert new[c] == "Between “Melody from the tiny-2bar model, seed 0” and “bwv66.6” (Bach)"
    assert new[d] == "Variation of “Endless walk through the tiny-faces64 model, seed 6”"
    assert new[kept] == "#1 in my heart" and new[fine] == "Dawn walk"
    for i in (a, b, c, d):
        visitor_title(new[i])
    with catalogue.read() as s:
        assert dict(s.execute(select(Artwork.id, Artwork.fingerprint)).all()) == before  # identities unchanged
    from generator.retitle import retitle_defaults

    again = retitle_defaults(catalogue)  # idempotent
    assert again.changed == [] and again.curator == 1 and not again.written


def test_a_queued_title_names_what_the_run_makes(settings, catalogue, tmp_path):
    ctx = _ctx(settings, catalogue, tmp_path)
    ids = execute_run(JobSpec(kind="procedural.images", params={"count": 2, "size": 16}, seed=1,
                              title="Variation 2 of “Dawn walk”"), ctx)
    assert [catalogue.get(i).title for i in ids] == ["Variation 2 of “Dawn walk”, no. 1",
                                                     "Variation 2 of “Dawn walk”, no. 2"]
    # a run queued before issue 23 ("Variation 1 of #6") keeps the job's own title
    (one,) = execute_run(JobSpec(kind="procedural.images", params={"count": 1, "size": 16}, seed=5,
                                 title="Variation 1 of #6"), ctx)
    assert catalogue.get(one).title == "Composition 5"
