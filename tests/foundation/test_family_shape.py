"""Every model family has the same files and the same entry points: presets as typed data, checkpoints with
one ``resolve`` and one ``load`` returning the family's ``LoadedModel``, and ``train(preset, out, *, ...)``."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest

FAMILIES = ("stylegan", "vqgan_clip", "lts", "musicvae")
FILES = ("model.py", "presets.py", "checkpoints.py", "jobs.py", "cli.py", "settings.py")
TRAINERS = {"stylegan": ("train",), "vqgan_clip": ("train_clip", "train_vqgan"), "lts": ("train",),
            "musicvae": ("train",)}
ROOT = Path(__file__).resolve().parents[2] / "generator"


@pytest.mark.parametrize("family", FAMILIES)
def test_family_has_the_common_files(family):
    have = {p.name for p in (ROOT / family).glob("*.py")}
    missing = [f for f in FILES if f not in have]
    assert not missing, f"generator/{family} lacks {missing}"
    assert any(f"{t}.py" in have for t in TRAINERS[family])


@pytest.mark.parametrize("family", FAMILIES)
def test_checkpoints_resolve_and_load(family):
    ck = importlib.import_module(f"generator.{family}.checkpoints")
    assert inspect.isclass(ck.LoadedModel)
    assert callable(ck.resolve)
    params = list(inspect.signature(ck.load).parameters.values())
    assert [p.name for p in params[:2]] == ["path", "device"]
    assert params[1].default == "cpu"
    assert inspect.signature(ck.load).return_annotation in ("LoadedModel", ck.LoadedModel)


@pytest.mark.parametrize(("family", "module"), [(f, m) for f, ms in TRAINERS.items() for m in ms])
def test_train_takes_preset_and_out_then_keywords(family, module):
    train = importlib.import_module(f"generator.{family}.{module}").train
    params = list(inspect.signature(train).parameters.values())
    positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert len(positional) == 2 and positional[0].startswith("preset") and positional[1].startswith("out")
    assert all(p.kind is p.KEYWORD_ONLY for p in params[2:])
    assert "steps" in {p.name for p in params}


def test_presets_are_typed_data():
    from generator.lts.presets import PRESETS as LTS
    from generator.musicvae.presets import PRESETS as MV
    from generator.stylegan.presets import PRESETS as SG
    from generator.vqgan_clip.presets import CLIP_PRESETS, VQGAN_PRESETS

    for table in (SG, LTS, MV, CLIP_PRESETS, VQGAN_PRESETS):
        assert table and all(dataclasses.is_dataclass(p) for p in table.values())
    for table in (CLIP_PRESETS, VQGAN_PRESETS):
        for p in table.values():
            d = p.to_dict()
            assert None not in d.values() and type(p)(**d) == p
