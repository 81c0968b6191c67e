"""Music-VAE checkpoints: a plain dict (config, state dict, attribute vectors, training notes) saved
with ``torch.save`` and loaded with ``weights_only=True`` (never executes code from the file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gallery import safe_load
from gallery.errors import BadInput
from gallery.hashing import sha256_file
from generator.musicvae.model import MusicVAE
from generator.musicvae.presets import ModelConfig

FORMAT = "latent-gallery.musicvae/1"
SHIPPED = Path(__file__).resolve().parents[1] / "weights" / "musicvae"


def save_checkpoint(path: Path, model: MusicVAE | Any, preset: str, attributes: dict[str, torch.Tensor],
                    info: dict[str, Any]) -> str:
    """Write atomically; returns the file's sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"format": FORMAT, "preset": preset, "config": model.cfg.to_dict(),
            "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "attributes": {k: v.detach().cpu().float() for k, v in attributes.items()}, "info": info}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)
    return sha256_file(path)


class LoadedModel:
    def __init__(self, model: MusicVAE, preset: str, attributes: dict[str, torch.Tensor], info: dict,
                 path: Path, sha256: str) -> None:
        self.model, self.preset, self.attributes, self.info = model, preset, attributes, info
        self.path, self.sha256 = path, sha256


def load(path: Path | str, device: torch.device | str = "cpu") -> LoadedModel:
    """Load a checkpoint made by ``gallery train musicvae``; BadInput names what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"Music-VAE checkpoint {path} does not exist")
    try:
        blob = safe_load.read(path).obj
    except Exception as e:  # noqa: BLE001 - pickles with code, truncated files, not a torch file
        raise BadInput(f"Music-VAE checkpoint {path} cannot be read safely ({type(e).__name__}: {e})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise BadInput(f"{path} is not a Music-VAE checkpoint of this project (format {FORMAT!r} expected)")
    try:
        cfg_d = dict(blob["config"])
        if cfg_d.get("arch") == "magenta":  # imported from Magenta's published checkpoints
            from generator.musicvae.magenta import MagentaConfig, MagentaMusicVAE

            model = MagentaMusicVAE(MagentaConfig.from_dict(cfg_d))
        else:
            model = MusicVAE(ModelConfig.from_dict(cfg_d))
        model.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise BadInput(f"Music-VAE checkpoint {path} does not match its own config: {e}") from None
    model.to(device).eval()
    attrs = {k: v.to(device) for k, v in dict(blob.get("attributes", {})).items()}
    return LoadedModel(model, str(blob.get("preset", "")), attrs, dict(blob.get("info", {})), path, sha256_file(path))


def resolve(configured: str, settings: Any, preset: str) -> Path:
    """The configured path (relative to the data directory) or the shipped weights of ``preset``."""
    if configured:
        p = Path(configured).expanduser()
        base = getattr(settings, "data_dir", None)
        return p if p.is_absolute() or base is None else base / p
    return SHIPPED / f"{preset}.pt"
