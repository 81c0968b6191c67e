"""Settings of VQGAN+CLIP progressions: the `vqclip` section of config.yaml.

Torch-free on purpose: gallery.config imports every section at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from gallery.settings_base import Strict


class VQClipSettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""

    # open_clip weights file (state dict or safetensors; relative to data_dir). null: the shipped tiny CLIP.
    clip_checkpoint: Path | None = None
    # open_clip architecture of clip_checkpoint, e.g. ViT-B-32 (needed for a plain state dict).
    clip_model: str | None = None
    # open_clip weights that steer the loop, if not clip_checkpoint (e.g. an adversarially fine-tuned
    # CLIP), and their architecture (null: clip_model). null with clip_checkpoint null: the shipped
    # robust tiny CLIP.
    guide_checkpoint: Path | None = None
    guide_model: str | None = None
    # taming-transformers VQGAN .ckpt (or our .pt; relative to data_dir). null: the shipped tiny VQGAN.
    vqgan_checkpoint: Path | None = None
    # Architecture of vqgan_checkpoint: null recognises it from the codebook shape.
    vqgan_arch: Literal["f16_1024", "f16_16384", "tiny"] | None = None
    # Default output side in pixels (a multiple of the VQGAN's downsampling factor).
    size: int = Field(64, ge=16, le=2048)
    # Default number of optimisation steps.
    iterations: int = Field(500, ge=1, le=100_000)
    # Iterations whose images are kept as the progression's frames.
    snapshots: list[int] = Field(default_factory=lambda: [0, 100, 250, 500])
    # Random cutouts per step that CLIP scores, and the size power (>1 favours small cutouts).
    cutouts: int = Field(16, ge=1, le=256)
    cut_pow: float = Field(1.0, gt=0, le=10)
    # Optimiser of the latent and its learning rate.
    optimiser: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(0.1, gt=0, le=100)
    # Weight of the decoded image's total variation in the loss: >0 wipes out speckle and evens flat areas.
    # null: 3 with the shipped tiny VQGAN (measured by bench/vqclip.py follow), else 0 (the notebooks' loop).
    tv_weight: float | None = Field(None, ge=0, le=100)
    # Frames per second of the progression videos.
    fps: int = Field(12, ge=1, le=120)
    # The video shows every Nth iteration (and the last), streamed to the encoder as the loop runs.
    video_stride: int = Field(1, ge=1, le=100_000)
    # Decoder fast paths (docs/performance.md): auto measures once per machine and image size (a short
    # calibration, cached in data_dir/cache/fastpath.json); on/off forces. channels_last: run the decoder
    # on NHWC tensors; decoder_checkpoint: recompute its two largest levels in backward (less memory,
    # more time: auto keeps it only where it costs under 5%).
    channels_last: Literal["auto", "on", "off"] = "auto"
    decoder_checkpoint: Literal["auto", "on", "off"] = "auto"

    @field_validator("snapshots")
    @classmethod
    def _snapshots(cls, v: list[int]) -> list[int]:
        if not v or any(s < 0 for s in v):
            raise ValueError("must be a non-empty list of iteration numbers >= 0")
        return sorted(set(v))

    @field_validator("clip_model", "guide_model")
    @classmethod
    def _model(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must be an open_clip architecture name such as ViT-B-32, or null")
        return v
