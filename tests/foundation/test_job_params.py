"""Typed job params (generator/job_params.py): `config check` refuses an unknown or ill-typed parameter of
any job kind, naming the window, the entry and the key; the registry stays equal to the job code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gallery.config import load_settings
from gallery.errors import ConfigError
from generator.job_params import REQUIRED_EXAMPLES
from generator.registry import KINDS, PLANS, TARGET, model_of, param_errors

REPO = Path(__file__).resolve().parents[2]
TYPED = sorted(k for k, v in KINDS.items() if v.params is not None)
MANY = settings(max_examples=200, deadline=None)
# Inputs that no parameter of any kind accepts (every field is a scalar, a list of scalars, or a small model).
WRONG_VALUES = [[{"x": [1]}], {"nested": {"deeper": [None]}}]


def _entry(kind: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "count": 1, "params": params, **extra}


def _check(tmp: Path, *entries: dict[str, Any], window: str = "night") -> str:
    """Load a config with these job entries; the ConfigError's message ('' when it loads)."""
    cfg = {"schedule": {"windows": [{"name": window, "start": "22:00", "end": "07:00", "jobs": list(entries)}]}}
    p = tmp / "config.yaml"
    p.write_text(yaml.safe_dump(cfg))
    try:
        load_settings(p, environ={}, check_paths=False)
    except ConfigError as e:
        return str(e)
    return ""


def _base(kind: str) -> dict[str, Any]:
    return dict(REQUIRED_EXAMPLES.get(kind, {}))


def test_registry_covers_every_job_kind_and_imports_without_torch():
    # One table: every kind is named by its key, has a module:function, and a params model (noop alone takes any).
    assert all(k == v.name and TARGET.match(v.target) for k, v in KINDS.items())
    assert {k for k, v in KINDS.items() if v.params is None} == {"noop"}
    plans = ", ".join(sorted(set(PLANS.values())))  # the families' variation plans (curation reads them)
    code = ("import sys, generator.registry, generator.job_params, generator.schedule.settings, gallery.config, "
            f"generator.jobs, generator.run, curation.generate, {plans}; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, timeout=120).returncode == 0


FAMILIES = {
    ("generator/stylegan/jobs.py", "generator/stylegan/common.py", "generator/stylegan/project.py",
     "generator/stylegan/uncanny.py"):
        ["stylegan.walk", "stylegan.mix", "stylegan.bend", "stylegan.project", "stylegan.uncanny"],
    ("generator/vqgan_clip/jobs.py",): ["vqclip.progression"],
    ("generator/lts/jobs.py",): ["lts.soundscape"],
    ("generator/musicvae/jobs.py",): ["musicvae.sample", "musicvae.interpolate", "musicvae.attribute"],
    ("generator/procedural.py",): ["procedural.images"],
}
MODEL_API = {"model_dump", "model_fields_set", "model_copy", "model_fields"}


def test_the_models_read_what_the_jobs_read():
    """The jobs take their kind's model: every ``params.<name>`` a family's job code reads is a field of
    its models, every field is read, and no job reads params as a dict any more."""
    for files, kinds in FAMILIES.items():
        src = "\n".join((REPO / f).read_text() for f in files)
        read = set(re.findall(r"(?<![\w.])params\.(\w+)", src)) - MODEL_API
        fields = set().union(*(model_of(k).model_fields for k in kinds))
        assert read == fields, (files, sorted(read - fields), sorted(fields - read))
        dict_reads = re.findall(r"(?<![\w.])params(?:\.get\(|\[|\.items\(|\.keys\()|\bin params\b(?!\.)", src)
        assert not dict_reads, (files, dict_reads)


def test_each_job_function_takes_the_model_of_its_kind():
    import ast

    for kind, entry in KINDS.items():
        model = entry.params
        if model is None:
            continue
        mod, _, name = entry.target.partition(":")
        tree = ast.parse((REPO / (mod.replace(".", "/") + ".py")).read_text())
        (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
        first, second = fn.args.args[:2]
        assert (ast.unparse(first.annotation), ast.unparse(second.annotation)) == (model.__name__, "JobContext"), kind


def test_bend_ops_match_the_bend_module():
    from generator.job_params import BEND_OPS
    from generator.stylegan.bend import OPS

    assert tuple(BEND_OPS) == tuple(OPS)


@pytest.mark.parametrize("kind", TYPED)
def test_the_least_each_kind_needs_passes_and_less_is_refused(tmp_path, kind):
    assert _check(tmp_path, _entry(kind, _base(kind))) == ""
    for key in REQUIRED_EXAMPLES.get(kind, {}):
        msg = _check(tmp_path, _entry(kind, {k: v for k, v in _base(kind).items() if k != key}))
        required = "needs image (a path to project) or w" if kind == "stylegan.project" else f"params.{key}: required by {kind}"
        assert required in msg and "window 'night', job 1" in msg


@MANY
@given(kind=st.sampled_from(TYPED), key=st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
       position=st.integers(1, 3))
def test_unknown_param_is_refused_naming_window_entry_and_key(tmp_path_factory, kind, key, position):
    assume(key not in model_of(kind).model_fields and key != "seed")
    entries = [_entry("noop", {}) for _ in range(3)]
    entries[position - 1] = _entry(kind, {**_base(kind), key: 1})
    msg = _check(tmp_path_factory.mktemp("p"), *entries, window="w-7")
    assert f"window 'w-7', job {position} ({kind}): params.{key}: unknown parameter of {kind}" in msg


FIELDS = [(k, f) for k in TYPED for f in model_of(k).model_fields]


@MANY
@given(kind_field=st.sampled_from(FIELDS), wrong=st.sampled_from(WRONG_VALUES))
def test_ill_typed_param_is_refused_naming_the_key(tmp_path_factory, kind_field, wrong):
    kind, field = kind_field
    msg = _check(tmp_path_factory.mktemp("p"), _entry(kind, {**_base(kind), field: wrong}))
    assert f"window 'night', job 1 ({kind}): params.{field}" in msg, msg


@pytest.mark.parametrize(("kind", "params", "expect"), [
    ("stylegan.walk", {"loop": "yes"}, "params.loop: Input should be a valid boolean"),
    ("stylegan.walk", {"seconds": 0}, "params.seconds: Input should be greater than or equal to 0.05"),
    ("stylegan.walk", {"keyframes": [1, 2]}, "keyframes: not used by a walk of mode endless"),
    ("stylegan.walk", {"mode": "chain", "keyframes": "1,x"}, "params.keyframes: must be a list of integer seeds"),
    ("stylegan.mix", {"row_seeds": list(range(20)), "col_seeds": list(range(20))}, "grid too large"),
    ("stylegan.bend", {"bends": [{"layer": "b8.conv1", "op": "twist"}]}, "params.bends.0.op"),
    ("stylegan.bend", {"bends": [{"layer": "b8.conv1", "op": "erode", "amount": 4}]}, "odd whole number"),
    ("vqclip.progression", {"prompt": "x", "optimiser": "lbfgs"}, "params.optimiser"),
    ("vqclip.progression", {"prompt": "x", "zoom_every": 5}, "zoom_every: not used unless zoom is true"),
    ("vqclip.progression", {"prompt": "  "}, "prompt is empty"),
    ("lts.soundscape", {"mode": "timeline"}, "mode timeline needs visual_id"),
    ("lts.soundscape", {"iterations": 501}, "params.iterations"),
    ("musicvae.sample", {"bars": 4}, "params.bars"),
    ("musicvae.sample", {"tempo": 500}, "params.tempo: Input should be less than or equal to 240"),
    ("musicvae.attribute", {"melody": "corpus:x", "amounts": list(range(40))}, "params.amounts"),
    ("procedural.images", {"size": 8}, "params.size"),
])
def test_typed_checks_mirror_the_jobs(tmp_path, kind, params, expect):
    assert expect in _check(tmp_path, _entry(kind, params))


def test_pairing_and_prompts_must_land_in_a_parameter_of_the_kind(tmp_path):
    walk = _entry("stylegan.walk", {})
    assert "params.pair_with: unknown parameter of stylegan.walk (pair_with puts the visual's id into it" in \
        _check(tmp_path, walk, _entry("stylegan.walk", {}, pair_with="previous_visual"))
    lts = _entry("lts.soundscape", {"mode": "timeline"}, pair_with="previous_visual")
    assert "params.pair_with: unknown parameter of lts.soundscape" in _check(tmp_path, walk, lts)
    assert _check(tmp_path, walk, {**lts, "pair_param": "visual_id"}) == ""
    assert _check(tmp_path, walk, _entry("musicvae.sample", {}, pair_with="previous_visual")) == ""
    assert _check(tmp_path, _entry("vqclip.progression", {}, prompts=["a red circle"])) == ""
    assert "params.caption: unknown parameter of vqclip.progression (the entry's prompts go into it" in \
        _check(tmp_path, _entry("vqclip.progression", {}, prompts=["a"], prompt_param="caption"))
    long = _entry("vqclip.progression", {}, prompt_templates=["{w} {w}"], vocabulary={"w": ["x" * 600]})
    assert "params.prompt: String should have at most 1000 characters" in _check(tmp_path, long)


def test_custom_kinds_take_json_params_within_limits(tmp_path):
    ok = _entry("mystudio.jobs:run", {"anything": [1, "two", {"three": 3.0}], "flag": True})
    assert _check(tmp_path, ok) == ""
    assert "params hold more than 10000 values" in _check(tmp_path, _entry("mystudio.jobs:run", {"a": [0] * 20_000}))
    deep: Any = 1
    for _ in range(20):
        deep = {"d": deep}
    assert "nested more than 12 levels" in _check(tmp_path, _entry("mystudio.jobs:run", {"x": deep}))
    p = tmp_path / "config.yaml"
    p.write_text("schedule:\n  windows: [{name: n, start: '22:00', end: '07:00', jobs: "
                 "[{kind: 'mystudio.jobs:run', params: {when: 2024-01-01}}]}]\n")
    with pytest.raises(ConfigError, match=r"params\.when: must be JSON data .* got a date"):
        load_settings(p, environ={}, check_paths=False)
    assert "text longer than 10000 characters" in _check(tmp_path, _entry("noop", {"t": "x" * 10_001}))


def test_param_errors_never_echo_a_secret():
    key = "ab" * 32
    msgs = param_errors("stylegan.walk", {"mode": key, "model": {"k": key}})
    assert msgs and all(key not in m for m in msgs)


def test_shipped_config_and_demo_programme_pass():
    from generator.schedule.demo import DEMO_GENERATOR_JOBS
    from generator.schedule.settings import JobEntry

    s = load_settings(REPO / "config.yaml", environ={}, check_paths=False)
    assert len(s.schedule.windows[0].jobs) >= 4
    for e in DEMO_GENERATOR_JOBS:
        job = JobEntry.model_validate(e)
        assert param_errors(job.kind, job.params, job.injected_params()) == []
