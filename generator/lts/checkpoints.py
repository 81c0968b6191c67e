"""LTS checkpoints: a plain dict loadable with ``torch.load(weights_only=True)`` (the preset, the state dict
with the per-bin normalisation, the anchor bank, the training figures), written by
:func:`generator.lts.train.train`; which one to use (:func:`resolve`) and loading it (:func:`load`).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gallery import safe_load
from gallery.errors import BadInput
from generator.lts.model import FrameVAE
from generator.lts.presets import Preset, preset_from_dict

FORMAT = "latent-gallery.lts.v1"
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "weights" / "lts"


def resolve(explicit: str | None, settings: Any) -> Path:
    """Which checkpoint to use: explicit > lts.checkpoint > data_dir/checkpoints/lts/<preset>.pt > shipped."""
    cfg = settings.lts
    if explicit:
        return Path(explicit).expanduser()
    if cfg.checkpoint:
        return settings.path(cfg.checkpoint)
    trained = settings.path(f"checkpoints/lts/{cfg.preset}.pt")
    if trained.is_file():
        return trained
    shipped = SHIPPED_DIR / f"{cfg.preset}.pt"
    if shipped.is_file():
        return shipped
    raise BadInput(f"no LTS checkpoint for preset {cfg.preset!r}: run `gallery train lts --preset {cfg.preset}` "
                   "or set lts.checkpoint in config.yaml")


def load_configured(settings: Any, explicit: str | None = None, device: Any = "cpu") -> LoadedModel:
    """The checkpoint :func:`resolve` finds, loaded."""
    return load(resolve(explicit, settings), device)


def save(path: Path, ckpt: dict[str, Any]) -> str:
    """Write ``ckpt`` atomically at ``path``; returns the sha256 of the bytes written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    return hashlib.sha256(buf.getvalue()).hexdigest()


@dataclass
class LoadedModel:
    model: FrameVAE
    preset: Preset
    anchors: dict[str, Any]
    info: dict[str, Any]
    sha256: str
    path: Path


def load(path: Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Load a checkpoint written by ``train`` (weights only; never executes code from the file)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"LTS checkpoint {path} does not exist")
    raw = path.read_bytes()
    try:
        ckpt = safe_load.read_bytes(raw, name=str(path)).obj
    except Exception as e:
        raise BadInput(f"LTS checkpoint {path} cannot be read as weights ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise BadInput(f"{path} is not a Latent Timbre Synthesis checkpoint (format {FORMAT!r} expected)")
    try:
        preset = preset_from_dict(ckpt["preset"])
        model = FrameVAE.from_preset(preset)
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        raise BadInput(f"LTS checkpoint {path} does not match its preset: {e}") from e
    model.to(device).eval()
    return LoadedModel(model, preset, ckpt.get("anchors") or {"names": [], "latents": torch.zeros(0)},
                  ckpt.get("info", {}), hashlib.sha256(raw).hexdigest(), path)
