"""StyleGAN checkpoints: our own weights files (config + G_ema + D state, loaded with ``weights_only=True``),
model lookup (:func:`resolve`), loading (:func:`load`) and importing real checkpoints (:func:`import_checkpoint`,
read by :mod:`generator.stylegan.importers`).

A model is named by ``stylegan.model`` in config.yaml (or ``--model``): ``tiny-faces64`` or ``tiny-emoji64``
(the shipped files), the name of a model registered by ``gallery import stylegan``, or a path to a weights file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gallery import safe_load
from gallery.errors import BadInput
from gallery.hashing import sha256_file
from generator.stylegan.importers import read_checkpoint
from generator.stylegan.model import Discriminator, Generator
from generator.stylegan.presets import PRESETS, StyleGANConfig

WEIGHTS_FORMAT = "latent-gallery-stylegan-weights/1"
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "weights" / "stylegan"
SHIPPED = {"tiny-faces64": SHIPPED_DIR / "tiny-faces64.pt", "tiny-emoji64": SHIPPED_DIR / "tiny-emoji64.pt"}
# How each shipped file was made (docs/stylegan.md has the full story).
REPRODUCE = {
    "tiny-faces64": "gallery train stylegan --preset tiny-faces64 --steps 19831",
    "tiny-emoji64": "gallery dataset emoji --name emoji64 --resolution 64, then "
                    "gallery train stylegan --data emoji64 --resume tiny-faces64",
}


@dataclass
class LoadedModel:
    name: str
    path: Path
    sha256: str
    cfg: StyleGANConfig
    G: Generator
    D: Discriminator | None
    meta: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "config": self.cfg.to_dict()}


def save_weights(path: Path, cfg: StyleGANConfig, G: Generator, D: Discriminator | None,
                 meta: dict[str, Any] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obj = {"format": WEIGHTS_FORMAT, "config": cfg.to_dict(), "G_ema": G.state_dict(),
           "D": D.state_dict() if D is not None else None, **(meta or {})}
    if getattr(G, "arch", "") == "stylegan3":  # alias-free: marked, with D's own config (sg3_import.py)
        obj.update(arch="stylegan3", D_config=D.cfg.to_dict() if D is not None else None)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def load(path: Path, device: torch.device | str = "cpu", name: str | None = None) -> LoadedModel:
    """Load a weights file of this project (never executes code: read by :mod:`gallery.safe_load`)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"StyleGAN weights file not found: {path}")
    try:
        obj = safe_load.read(path).obj
    except Exception as e:  # noqa: BLE001 - any failure here means the file is not ours or is corrupt
        raise BadInput(f"{path}: not a readable StyleGAN weights file ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or obj.get("format") != WEIGHTS_FORMAT:
        raise BadInput(f"{path}: not a Latent Gallery StyleGAN weights file (for NVIDIA .pkl or rosinality .pt "
                       "files use `gallery import stylegan PATH` first)")
    if obj.get("arch") == "stylegan3":  # alias-free networks: generator/stylegan/sg3_import.py
        from generator.stylegan.sg3_import import sg3_from_weights

        cfg3, G3, D3, meta3 = sg3_from_weights(obj, path, device)
        return LoadedModel(name or path.stem, path, sha256_file(path), cfg3, G3, D3, meta3)  # type: ignore[arg-type]
    try:
        cfg = StyleGANConfig.from_dict(obj["config"])
        G = Generator(cfg)
        G.load_state_dict(obj["G_ema"], strict=True)
        D = None
        if obj.get("D") is not None:
            D = Discriminator(cfg)
            D.load_state_dict(obj["D"], strict=True)
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise BadInput(f"{path}: weights do not match their config: {e}") from None
    G.eval().requires_grad_(False).to(device)
    if D is not None:
        D.eval().requires_grad_(False).to(device)
    meta = {k: v for k, v in obj.items() if k not in ("G_ema", "D", "config", "format")}
    return LoadedModel(name or path.stem, path, sha256_file(path), cfg, G, D, meta)


def resolve(spec: str, settings: Any = None, catalogue: Any = None) -> tuple[str, Path]:
    """``spec`` (shipped name, registered name or path) -> (display name, weights path). The name comes
    with the path because a registered model's name is not its file's (files are named by their sha256)."""
    if spec in SHIPPED:
        if not SHIPPED[spec].is_file():
            raise BadInput(f"the shipped StyleGAN weights {SHIPPED[spec]} are missing; reproduce them with "
                           f"`{REPRODUCE[spec]}` (see docs/stylegan.md)")
        return spec, SHIPPED[spec]
    if catalogue is not None:
        from sqlalchemy import select

        from catalogue.models import Model

        with catalogue.read() as s:
            m = s.scalars(select(Model).where(Model.family == "stylegan", Model.name == spec)
                          .order_by(Model.id.desc())).first()
            if m is not None and m.path:
                return m.name, Path(m.path)
    p = Path(spec).expanduser()
    if not p.is_absolute() and settings is not None and not p.exists():
        p = settings.path(p)
    if p.is_file():
        return p.stem, p
    known = ", ".join(SHIPPED)
    raise BadInput(f"unknown StyleGAN model {spec!r}: not a shipped model ({known}), not a model registered with "
                   "`gallery import stylegan`, and not a weights file")


def matching_preset(cfg: StyleGANConfig) -> str | None:
    keys = ("resolution", "z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "img_channels")
    for name, p in PRESETS.items():
        if all(getattr(p, k) == getattr(cfg, k) for k in keys):
            return name
    return None


def import_checkpoint(path: Path, settings: Any, catalogue: Any, name: str | None = None) -> dict[str, Any]:
    """Read a checkpoint safely, store it in our weights format and register it; returns a summary."""
    path = Path(path)
    from generator.stylegan.sg3_import import is_sg3_pickle, read_sg3

    sg3 = is_sg3_pickle(path)  # a StyleGAN3 pickle (read safely) goes to its own reader
    cfg, G, D, meta = read_sg3(path, sg3) if sg3 is not None else read_checkpoint(path)
    src_sha = sha256_file(path)
    dest = settings.path(settings.stylegan.models_dir) / f"{src_sha[:16]}.pt"
    save_weights(dest, cfg, G, D, {"source_sha256": src_sha, "source_name": path.name, **meta})
    sha = sha256_file(dest)
    name = name or path.stem
    preset = matching_preset(cfg)
    model_id = catalogue.register_model("stylegan", name, sha, preset=preset, config=cfg.to_dict(),
                                        path=str(dest), provenance={"source": str(path), "source_sha256": src_sha,
                                                                    **meta})
    return {"model_id": model_id, "name": name, "path": str(dest), "sha256": sha, "format": meta["source_format"],
            "resolution": cfg.resolution, "preset": preset, "has_discriminator": D is not None,
            **{k: meta[k] for k in ("architecture", "discriminator") if k in meta}}
