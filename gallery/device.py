"""The one place that picks the torch device: cuda when present (and allowed), cpu otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def select_device(preference: str = "auto") -> torch.device:
    import torch

    if preference == "cpu":
        return torch.device("cpu")
    if preference == "cuda":
        if not torch.cuda.is_available():
            from gallery.errors import BadInput

            raise BadInput("device: cuda was asked for in config.yaml but no CUDA device is available")
        return torch.device("cuda")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
