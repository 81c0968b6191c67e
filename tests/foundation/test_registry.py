"""The job registry (generator/registry.py) and the one way to run a job (generator/run.py:execute_run)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from catalogue import ArtworkDraft, MediaDraft
from gallery.errors import BadInput
from generator import registry, run
from generator.job_params import ProceduralImages, StyleGANWalk
from generator.jobs import JobContext, JobSpec
from generator.run import execute_run

REPO = Path(__file__).resolve().parents[2]
SEEN: list[tuple[Any, JobContext]] = []


def record_job(params: Any, ctx: JobContext) -> list[ArtworkDraft]:
    """A custom job kind: remembers what it was called with; makes params.get('n', 2) small text artworks."""
    SEEN.append((params, ctx))
    return [ArtworkDraft(kind="image", title=f"t{i}", recipe={"generator": "test.record", "seed": ctx.seed, "i": i},
                         media=[MediaDraft(role="image", mime="text/plain", data=f"{ctx.seed}-{i}".encode())])
            for i in range(params.get("n", 2))]


@pytest.fixture
def custom(monkeypatch: pytest.MonkeyPatch) -> str:
    SEEN.clear()
    monkeypatch.setattr(run, "_AFTER_SAVE", [])
    monkeypatch.setitem(registry.KINDS, "test.record", registry.JobKind("test.record", f"{__name__}:record_job"))
    return "test.record"


def _ctx(settings, catalogue, tmp_path, **kw: Any) -> JobContext:
    return JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path, **kw)


# ---- the table -------------------------------------------------------------------------------------------
def test_get_names_the_known_kinds_when_a_kind_is_unknown():
    assert registry.get("stylegan.walk").params is StyleGANWalk
    assert registry.get("stylegan.walk").family == "stylegan" and registry.get("noop").params is None
    with pytest.raises(BadInput, match=r"unknown job kind 'stylegan.wlak'; known kinds: lts.soundscape, .*noop"):
        registry.get("stylegan.wlak")
    assert registry.kinds() == sorted(registry.KINDS) and "procedural.images" in registry.kinds()


@pytest.mark.parametrize(("kind", "module"), [("stylegan.walk", "generator.stylegan.jobs"), ("noop", "generator.jobs"),
                                              ("my.studio:job", "my.studio")])
def test_module_of(kind, module):
    assert registry.module_of(kind) == module


def test_resolve_a_name_or_an_explicit_target_and_refuse_what_cannot_be_imported():
    from generator.jobs import noop

    assert registry.resolve("noop") is noop and registry.resolve("generator.jobs:noop") is noop
    for kind, why in [("no_such_module_x:run", "cannot be imported"), ("generator.jobs:nothing_here", "cannot be imported"),
                      ("generator.jobs:MOVED_FROM_PARAMS", "is not a function"), ("sideways", "unknown job kind"),
                      ("not a target", "unknown job kind")]:
        with pytest.raises(BadInput, match=why):
            registry.resolve(kind)


def test_validate_gives_the_model_or_a_dict_and_names_every_bad_key():
    p = registry.validate("procedural.images", {"count": 2})
    assert isinstance(p, ProceduralImages) and (p.count, p.size) == (2, 256)
    with pytest.raises(BadInput) as e:
        registry.validate("procedural.images", {"count": 0, "colour": "red"})
    assert "params.count" in str(e.value) and "params.colour: unknown parameter of procedural.images" in str(e.value)
    given = {"anything": [1, {"x": 2.5}]}
    for kind in ("noop", "my.studio:job"):
        out = registry.validate(kind, given)
        assert out == given and out is not given
    deep: Any = 1
    for _ in range(20):
        deep = {"d": deep}
    with pytest.raises(BadInput, match="nested more than 12 levels"):
        registry.validate("my.studio:job", {"x": deep})
    with pytest.raises(BadInput, match="unknown job kind"):
        registry.validate("nope", {})


# ---- the spec: old params.vary / params.parents move to fields --------------------------------------------
@pytest.mark.parametrize(("job", "vary", "parents", "params"), [
    ({"kind": "k", "params": {"a": 1, "vary": [{"sigma": 0.1, "seed": 2}], "parents": [[4, "variation"]]}},
     [{"sigma": 0.1, "seed": 2}], [[4, "variation"]], {"a": 1}),
    ({"kind": "k", "params": {"vary": {"sigma": 0.1, "seed": 2}}}, [{"sigma": 0.1, "seed": 2}], [], {}),
    ({"kind": "k", "params": {"vary": None, "parents": None, "b": 2}}, [], [], {"b": 2}),
    ({"kind": "k", "params": {"parents": [[1, "x"]]}, "parents": [[2, "between"]]}, [], [[2, "between"]], {}),
    ({"kind": "k", "vary": [{"sigma": 1.0, "seed": 0}]}, [{"sigma": 1.0, "seed": 0}], [], {}),
])
def test_legacy_params_move_to_the_spec(job, vary, parents, params):
    spec = JobSpec.model_validate(job)
    assert (spec.vary, spec.parents, spec.params) == (vary, parents, params)
    assert JobSpec.model_validate(spec.model_dump(mode="json")) == spec  # what a run row stores reads back the same


# ---- execute_run ------------------------------------------------------------------------------------------
def test_one_seed_rule_and_the_context_carries_vary_and_parents(settings, catalogue, tmp_path, custom):
    ids = execute_run(JobSpec(kind=custom, params={"n": 1}), _ctx(settings, catalogue, tmp_path, seed=9))
    p, ctx = SEEN[-1]
    assert p == {"n": 1, "seed": 9} and ctx.seed == 9 and catalogue.get(ids[0]).recipe["seed"] == 9
    vary, parents = [{"sigma": 0.2, "seed": 4}], [[ids[0], "variation"]]
    execute_run(JobSpec(kind=custom, params={"n": 1}, seed=0, vary=vary, parents=parents),
                _ctx(settings, catalogue, tmp_path, seed=9))
    p, ctx = SEEN[-1]
    assert ctx.seed == 0 and ctx.vary == vary and ctx.parents == parents  # spec.seed wins, even 0
    assert p == {"n": 1, "seed": 0, "vary": vary, "parents": parents}  # a dict kind reads them as it did


def test_a_typed_job_gets_its_model_and_the_seed_from_the_context(settings, catalogue, tmp_path, monkeypatch):
    monkeypatch.setattr(run, "_AFTER_SAVE", [])
    ids = execute_run(JobSpec(kind="procedural.images", params={"count": 2, "size": 32}, seed=5),
                      _ctx(settings, catalogue, tmp_path))
    assert [catalogue.get(i).recipe["seed"] for i in ids] == [5, 6]
    with pytest.raises(BadInput, match=r"params.size"):
        execute_run(JobSpec(kind="procedural.images", params={"size": 8}), _ctx(settings, catalogue, tmp_path))


def test_all_drafts_are_saved_in_one_transaction_with_the_run_id(settings, catalogue, tmp_path, custom, monkeypatch):
    from catalogue.models import Artwork, Run

    calls: list[int] = []
    real = catalogue.add_many

    def add_many(drafts):
        calls.append(len(drafts))
        return real(drafts)

    monkeypatch.setattr(catalogue, "add_many", add_many)
    monkeypatch.setattr(catalogue, "add", lambda d: pytest.fail("drafts must be added together"))
    with catalogue.write() as s:
        r = Run(job_kind=custom, spec={}, state="running")
        s.add(r)
        s.flush()
        rid = r.id
    stages: list[tuple[str, float, float | None]] = []
    ctx = _ctx(settings, catalogue, tmp_path, run_id=rid, progress=lambda st, d, t=None, **f: stages.append((st, d, t)))
    ids = execute_run(JobSpec(kind=custom, params={"n": 3}, seed=1), ctx)
    assert calls == [3] and len(ids) == 3
    assert stages == [("saving to the catalogue", 0, 3), ("saving to the catalogue", 3, 3)]
    with catalogue.read() as s:
        assert sorted(s.scalars(select(Artwork.id).where(Artwork.run_id == rid))) == sorted(ids)
    assert execute_run(JobSpec(kind=custom, params={"n": 0}), ctx) == [] and calls == [3]  # nothing to save


def test_after_save_hooks_run_in_order_and_a_failing_one_is_only_logged(settings, catalogue, tmp_path, custom, caplog):
    got: list[tuple[str, list[int]]] = []

    def broken(ctx, ids):
        raise RuntimeError("the hook broke")

    run.after_save(broken)
    run.after_save(lambda ctx, ids: got.append(("second", ids)))
    run.after_save(broken)  # once per hook
    assert len(run.after_save_hooks()) == 2
    with caplog.at_level(logging.WARNING):
        ids = execute_run(JobSpec(kind=custom, params={"n": 2}), _ctx(settings, catalogue, tmp_path))
    assert got == [("second", ids)] and "after-save hook broken failed" in caplog.text and "the hook broke" in caplog.text
    execute_run(JobSpec(kind=custom, params={"n": 1}, seed=3), _ctx(settings, catalogue, tmp_path), hooks=False)
    assert len(got) == 1
    execute_run(JobSpec(kind=custom, params={"n": 0}), _ctx(settings, catalogue, tmp_path))
    assert len(got) == 1  # no artworks: no hooks


def test_the_front_door_wires_the_hooks_once(monkeypatch):
    from curation.on_insert import after_save
    from gallery.wiring import install

    monkeypatch.setattr(run, "_AFTER_SAVE", [])
    install()
    install()
    assert run.after_save_hooks() == [after_save]


def test_generator_code_runs_without_curation_and_the_registry_without_torch():
    code = ("import sys; from generator import registry, run, worker, jobs, procedural; "
            "registry.resolve('procedural.images'); registry.validate('stylegan.walk', {}); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('curation', 'torch')); "
            "print(bad); sys.exit(1 if bad else 0)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, timeout=120, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# ---- the worker: `python -m gallery.worker` computes features on insert, `generator.worker` runs bare -----------
@pytest.mark.parametrize("module", ["gallery.worker", "generator.worker"])
def test_worker_entry_points(settings, catalogue, module):
    from catalogue.models import Feature, Run

    spec = JobSpec(kind="procedural.images", params={"count": 1, "size": 32}, seed=4,
                   parents=[])
    with catalogue.write() as s:
        r = Run(job_kind=spec.kind, spec={"job": spec.model_dump(mode="json")}, state="queued")
        s.add(r)
        s.flush()
        rid = r.id
    env = dict(os.environ, PYTHONPATH=str(REPO), GALLERY_WORKER_SETTINGS=settings.model_dump_json())
    out = subprocess.run([sys.executable, "-m", module, str(rid)], cwd=REPO, env=env, timeout=300,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with catalogue.read() as s:
        row = s.get(Run, rid)
        assert row.state == "done" and len(row.artwork_ids) == 1
        names = set(s.scalars(select(Feature.name).where(Feature.artwork_id == row.artwork_ids[0])))
    assert catalogue.get(row.artwork_ids[0]).recipe["seed"] == 4
    if module == "gallery.worker":
        assert {"brightness", "emb_hist"} <= names
    else:
        assert names == set()
    bad = subprocess.run([sys.executable, "-m", module], cwd=REPO, env=env, timeout=120, capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


# ---- the families' variation plans -------------------------------------------------------------------------
def test_variation_plans_are_found_by_generator_name():
    sg = {"generator": "stylegan.bend", "model": {"name": "m"}, "bends": [{"layer": "b8.conv1", "op": "rotate"}],
          "seed": 6, "vary": [{"sigma": 0.1, "seed": 1}]}
    plan = registry.variation_plan(sg)
    assert plan == registry.Plan("stylegan.bend", {"model": "m", "bends": sg["bends"], "seeds": [6]}, 6,
                                 [{"sigma": 0.1, "seed": 1}])
    assert registry.variation_plan({}) is None and registry.variation_plan({"generator": "test"}) is None
    for recipe, why in [({"generator": "procedural.images"}, "procedural images"),
                        ({"generator": "stylegan.walk"}, "names no StyleGAN model"),
                        ({"generator": "test", "vary": "lots"}, "vary steps are unreadable")]:
        with pytest.raises(registry.CannotVary, match=why):
            registry.variation_plan(recipe)
    mel = registry.Work(1, "melody", {"generator": "musicvae", "bars": 2})
    walk = registry.Work(2, "walk", {"generator": "stylegan.walk", "seed": 1, "model": {"sha256": "a"}})
    assert registry.between_plan(mel, walk, 4) is None
    assert registry.between_plan(mel, registry.Work(3, "melody", {"generator": "musicvae"}), 99) == (
        "musicvae.interpolate", {"a": "artwork:1", "b": "artwork:3", "steps": 64, "bars": 2})


# ---- a run row's bookkeeping, shared by the worker and curation's "run now" ------------------------------
def leaky_job(params: Any, ctx: JobContext) -> list[ArtworkDraft]:
    raise RuntimeError("rpc refused key " + "ab" * 32)  # a job whose error names a private key


def test_a_failed_run_now_is_recorded_redacted_and_a_claim_needs_a_queued_row(settings, catalogue, tmp_path,
                                                                            monkeypatch):
    from catalogue.models import Run, utcnow
    from curation.generate import run_now

    monkeypatch.setattr(run, "_AFTER_SAVE", [])
    monkeypatch.setitem(registry.KINDS, "test.leaky", registry.JobKind("test.leaky", f"{__name__}:leaky_job"))
    with catalogue.write() as s:
        row = Run(job_kind="test.leaky", spec={"job": {"kind": "test.leaky"}}, state="queued", created=utcnow())
        s.add(row)
        s.flush()
        rid = row.id
    with pytest.raises(RuntimeError):
        run_now(settings, catalogue, rid)
    with catalogue.read() as s:
        row = s.get(Run, rid)
        assert row.state == "failed" and row.ended is not None and row.host and row.pid == os.getpid()
        assert "RuntimeError: rpc refused key" in row.error and "ab" * 32 not in row.error
    with pytest.raises(BadInput, match=f"run {rid} is failed, not queued"):
        run.claim_run(catalogue, rid, only_queued=True)
    assert run.claim_run(catalogue, 987654) is None
