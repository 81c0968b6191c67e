"""`gallery train vqgan --data NAME`: fine-tuning on an image dataset, the model it registers, resuming bit
for bit, and the refusals (each exit 2, nothing written)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from catalogue.datasets import put_dataset
from gallery.errors import BadInput
from generator.datasets.images import make_image_dataset
from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load, save_shipped
from generator.vqgan_clip.finetune import MODELS_DIR, TRAIN_DIR, FinetuneConfig, finetune
from generator.vqgan_clip.finetune_eval import evaluate
from generator.vqgan_clip.model import build
from generator.vqgan_clip.presets import VQGAN_ARCHS
from tests.datasets.helpers import save, smooth


def _cli(capsys, config_file: Path, *args: str) -> tuple[int, str, str]:
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--config", str(config_file), *args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture
def art(tmp_path, settings, catalogue):
    """A registered 64 px dataset of 20 soft colour pictures (2 held out)."""
    folder = tmp_path / "pictures"
    for i in range(20):
        save(smooth(100 + i, 80, 80), folder / f"p{i:02d}.png")
    res = make_image_dataset(settings, catalogue, folder, "art", 64)
    assert len(res.kept) == 20
    return res


def _models(catalogue) -> list:
    from sqlalchemy import select

    from catalogue.models import Model

    with catalogue.read() as s:
        return list(s.scalars(select(Model).where(Model.family == "vqgan")))


def test_finetune_registers_a_better_model_that_vqclip_uses(capsys, config_file, settings, catalogue, art):
    code, out, err = _cli(capsys, config_file, "train", "vqgan", "--data", "art", "--steps", "40", "--batch", "4",
                          "--crop", "32", "--lr", "1e-3", "--checkpoint-every", "20", "--json")
    assert code == 0, err
    meta = json.loads(out)
    assert meta["name"] == "vqgan-art" and meta["steps"] == 40 and meta["eval_on"] == "held_out"
    assert meta["after"]["mse"] < meta["before"]["mse"]
    run = settings.path(TRAIN_DIR) / "vqgan-art"
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-000000.png", "step-000020.png",
                                                                   "step-000040.png"]
    (row,) = _models(catalogue)
    prov = row.provenance["fine_tuned"]
    assert row.name == "vqgan-art" and row.weights_sha256 == meta["sha256"] and row.preset == "tiny"
    assert prov["dataset"]["name"] == "art" and prov["steps"] == 40
    assert prov["start_model"]["name"] == "tiny-shapes"
    assert prov["start_model"]["sha256"] == load(SHIPPED_VQGAN).sha256

    # on every image of the dataset (not only the held-out ones), the new model reconstructs better
    from generator.datasets.image_store import ImageDataset

    ds = ImageDataset(art.folder)
    every = np.arange(len(ds))
    start = evaluate(load(SHIPPED_VQGAN).model, ds, every, "cpu")
    tuned = evaluate(load(Path(meta["path"])).model, ds, every, "cpu")
    assert tuned["mse"] < 0.8 * start["mse"], (start, tuned)

    code, out, err = _cli(capsys, config_file, "generate", "vqclip", "a red circle", "-i", "3", "--size", "32",
                          "--snapshots", "0,3", "--model", "vqgan-art", "--json")
    assert code == 0, err
    (art_id,) = json.loads(out)["artworks"]
    work = catalogue.get(art_id)
    assert work.recipe["vqgan"]["sha256"] == meta["sha256"] and work.recipe["vqgan"]["model"] == "vqgan-art"
    assert work.model_id == meta["model"]  # the artwork links to the registered model
    from generator.vqgan_clip.plans import variation_plan

    assert variation_plan(work.recipe)[1]["model"] == "vqgan-art"  # a variation paints with the same codebook

    code, _, err = _cli(capsys, config_file, "generate", "vqclip", "a red circle", "-i", "2", "--model", "nope")
    assert code == 2 and "unknown VQGAN model 'nope'" in err


def _weights(path: str) -> dict[str, torch.Tensor]:
    return load(Path(path)).model.state_dict()


def test_a_killed_run_goes_on_bit_for_bit(settings, catalogue, art):
    torch.set_num_threads(1)
    kw = {"data": "art", "steps": 12, "batch": 4, "lr": 1e-3, "adversarial_weight": 0.1, "restart_every": 5,
          "checkpoint_every": 4, "crop": 32}
    whole = finetune(settings, catalogue, FinetuneConfig(name="whole", **kw), device="cpu")

    def kill(_stage, step, _steps, **_kw):
        if step == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune(settings, catalogue, FinetuneConfig(name="killed", **kw), progress=kill, device="cpu")
    state = torch.load(settings.path(TRAIN_DIR) / "killed" / "state.pt", weights_only=True)
    assert state["step"] == 4 and not list(settings.path(MODELS_DIR).glob("killed-*"))
    again = finetune(settings, catalogue, FinetuneConfig(name="killed", **kw), device="cpu")
    assert again["steps"] == 12 and again["before"] == whole["before"] and again["after"] == whole["after"]
    a, b = _weights(whole["path"]), _weights(again["path"])
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the raw training state too (the export is float16)
    sa = torch.load(settings.path(TRAIN_DIR) / "whole" / "state.pt", weights_only=True)
    sb = torch.load(settings.path(TRAIN_DIR) / "killed" / "state.pt", weights_only=True)
    assert all(torch.equal(sa["model"][k], sb["model"][k]) for k in sa["model"])
    assert sa["history"] == sb["history"]


def _variant(path: Path, **changes) -> Path:
    arch = json.loads(json.dumps(VQGAN_ARCHS["tiny"]))
    for k, v in changes.items():
        (arch["ddconfig"] if k in arch["ddconfig"] else arch)[k] = v
    torch.manual_seed(0)
    save_shipped(path, build(arch), arch, {})
    return path


def test_refusals_exit_2_and_write_nothing(capsys, config_file, settings, catalogue, art, tmp_path):
    models = settings.path(MODELS_DIR)
    code, _, err = _cli(capsys, config_file, "train", "vqgan", "--data", "nosuch", "--steps", "2")
    assert code == 2 and "unknown dataset 'nosuch'" in err and "art" in err
    code, _, err = _cli(capsys, config_file, "train", "vqgan", "--data", "art", "--name", "../up", "--steps", "2")
    assert code == 2 and "model name '../up'" in err

    empty = settings.path("datasets/void")
    empty.mkdir(parents=True)
    (empty / "images.u8").write_bytes(b"")
    (empty / "index.json").write_text(json.dumps({"version": 1, "shape": [0, 32, 32, 3], "files": [],
                                                  "data_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}))
    put_dataset(catalogue, name="void", kind="images", path="datasets/void", resolution=32, count=0,
                data_sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", provenance={})
    code, _, err = _cli(capsys, config_file, "train", "vqgan", "--data", "void", "--steps", "2")
    assert code == 2 and "dataset 'void' is empty" in err

    grey = _variant(tmp_path / "grey.pt", in_channels=1)
    code, _, err = _cli(capsys, config_file, "train", "vqgan", "--data", "art", "--resume", str(grey), "--steps", "2")
    assert code == 2 and "reads 1-channel" in err
    assert not settings.path(TRAIN_DIR).exists() and not models.exists() and not _models(catalogue)

    # a run started from the tiny model cannot go on from a model of another codebook
    code, _, err = _cli(capsys, config_file, "train", "vqgan", "--data", "art", "--name", "mine", "--steps", "2",
                        "--batch", "2", "--crop", "32")
    assert code == 0, err
    small = _variant(tmp_path / "small.pt", n_embed=128, embed_dim=8)
    code, _, err = _cli(capsys, config_file, "train", "vqgan", "--data", "art", "--name", "mine", "--steps", "4",
                        "--crop", "32", "--resume", str(small))
    assert code == 2 and "codebook (codes x dims): 256 x 16 in the run, 128 x 8 in 'small'" in err
    # ... nor with other settings
    code, _, err = _cli(capsys, config_file, "train", "vqgan", "--data", "art", "--name", "mine", "--steps", "4",
                        "--crop", "32", "--batch", "3")
    assert code == 2 and "batch: 2 in the run, 3 now" in err
    assert len(list(models.iterdir())) == 1 and len(_models(catalogue)) == 1

    # a taming-format file whose codebook does not fit the architecture named says what differs
    sd = build(json.loads(json.dumps(VQGAN_ARCHS["tiny"]) .replace('"n_embed": 256', '"n_embed": 64'))).state_dict()
    torch.save({"state_dict": sd}, tmp_path / "odd.ckpt")
    code, _, err = _cli(capsys, config_file, "import", "vqgan", str(tmp_path / "odd.ckpt"), "--arch", "tiny")
    assert code == 2 and "codebook (codes x dims): 64 x 16 in the file, 256 x 16 in the architecture" in err


def test_dataset_deleted_under_a_running_training(settings, catalogue, art):
    def delete_at_3(_stage, step, _steps, **_kw):
        if step == 3:
            shutil.rmtree(art.folder)

    cfg = FinetuneConfig(data="art", name="gone", steps=10, batch=2, crop=32, checkpoint_every=2)
    with pytest.raises(BadInput, match=r"dataset 'art' was deleted or replaced during training \(at step 3\)"):
        finetune(settings, catalogue, cfg, progress=delete_at_3, device="cpu")
    assert torch.load(settings.path(TRAIN_DIR) / "gone" / "state.pt", weights_only=True)["step"] == 2
    assert not settings.path(MODELS_DIR).exists() and not _models(catalogue)
    with pytest.raises(BadInput, match="was it deleted or moved"):
        finetune(settings, catalogue, cfg, device="cpu")


def test_minutes_stop_and_export_and_schedule_params_take_a_model(settings, catalogue, art):
    out = finetune(settings, catalogue, FinetuneConfig(data="art", name="quick", steps=1000, minutes=1e-6, batch=2,
                                                       crop=32), device="cpu")
    assert out["steps"] == 1 and out["stopped_by_time"] and Path(out["path"]).is_file()
    assert torch.load(settings.path(TRAIN_DIR) / "quick" / "state.pt", weights_only=True)["step"] == 1
    # a schedule window's job entry names the model the same way the command line does
    from generator.registry import model_of

    params = model_of("vqclip.progression").model_validate({"prompt": "a red circle", "model": "quick"})
    assert params.model == "quick"
