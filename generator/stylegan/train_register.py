"""The end of a run on an image dataset: its weights file (what every StyleGAN job loads) written next to
the run, stored under ``stylegan.models_dir`` by its sha256 and registered in the catalogue under a name,
with the provenance a person needs to trust it (dataset and its sha256 and size, steps, images shown,
transfer source, ADA's final p, KID)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gallery import safe_load
from gallery.errors import BadInput
from gallery.hashing import sha256_file
from generator.stylegan.checkpoints import SHIPPED, WEIGHTS_FORMAT, matching_preset
from generator.stylegan.presets import StyleGANConfig
from generator.stylegan.train import _atomic_save
from generator.stylegan.train_data import FORMAT


def check_model_name(name: str) -> str:
    ok = 0 < len(name) <= 100 and name[0].isalnum() and all(c.isalnum() or c in "._-" for c in name)
    if not ok:
        raise BadInput(f"model name {name!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a letter "
                       "or digit")
    if name in SHIPPED:
        raise BadInput(f"model name {name!r} is the shipped model's: choose another (--name)")
    return name


def export_data_weights(checkpoint: Path, dest: Path) -> tuple[Path, dict[str, Any]]:
    """Write the weights file (config, G_ema, D, provenance) from a run's checkpoint; returns it and the
    provenance."""
    state = safe_load.read(checkpoint).obj
    if state.get("format") != FORMAT:
        raise BadInput(f"{checkpoint} is not a checkpoint of a run on an image dataset")
    kids = state.get("kid_history") or []
    prov = {"trained_on": state["dataset"], "steps": int(state["step"]), "images_seen": int(state["images_seen"]),
            "transfer": state.get("transfer"), "ada_final_p": float(state["ada"]["p"]),
            "ada_rt": float(state["ada"]["rt"]), "frozen_d_blocks": list(state.get("frozen_d_blocks", [])),
            "options": state["options"], "kid": kids[-1]["kid"] if kids else None,
            "kid_features": "tiny CLIP image tower (generator.stylegan.kid)", "trainer": "generator.stylegan.train_data"}
    out = {"format": WEIGHTS_FORMAT, "config": state["config"], "G_ema": state["G_ema"], "D": state["D"],
           "step": prov["steps"], "images_seen": prov["images_seen"], "seed": state["options"]["seed"],
           "provenance": prov}
    _atomic_save(out, Path(dest))
    return Path(dest), prov


def register_trained(weights: Path, name: str, settings: Any, catalogue: Any, prov: dict[str, Any]) -> dict[str, Any]:
    """Store ``weights`` under models_dir (named by sha256) and register it as StyleGAN model ``name``."""
    check_model_name(name)
    sha = sha256_file(weights)
    dest = settings.path(settings.stylegan.models_dir) / f"{sha[:16]}.pt"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(weights, tmp)
        tmp.replace(dest)
    cfg = StyleGANConfig.from_dict(safe_load.read(weights).obj["config"])
    model_id = catalogue.register_model("stylegan", name, sha, preset=matching_preset(cfg), config=cfg.to_dict(),
                                        path=str(dest), provenance=prov)
    return {"model_id": model_id, "name": name, "path": str(dest), "sha256": sha}
