"""Settings of StyleGAN faces (walks, mixing, uncanny, bending): the `stylegan` section of config.yaml.

Torch-free on purpose: gallery.config imports every section at start.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from gallery.settings_base import Strict

NOISE_MODES = ("const", "random", "none")


class StyleGANSettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""

    # Which generator to use: "tiny-faces64" (the shipped weights), the name of a model registered with
    # `gallery import stylegan`, or a path to a weights file written by this project.
    model: str = "tiny-faces64"
    truncation_psi: float = Field(0.7, ge=0.0, le=2.0)
    # const: the checkpoint's fixed noise maps (bit-for-bit re-renders); random: fresh noise per frame.
    noise_mode: str = "const"
    fps: int = Field(24, ge=1, le=120)
    # Walk length and keyframe spacing.
    walk_seconds: float = Field(8.0, gt=0, le=3600)
    seconds_per_keyframe: float = Field(2.0, gt=0, le=600)
    # Frames are scaled to this many pixels on a side for video and images (0: the model's resolution).
    render_size: int = Field(256, ge=0, le=4096)
    batch: int = Field(8, ge=1, le=256)
    # Batch-1 rendering (live walks): on scales the input and output of one shared convolution, off
    # modulates the weights instead (rosinality's way); auto measures both once per machine and model
    # size (cached in data_dir/cache/fastpath.json). See docs/performance.md.
    walk_fast_path: Literal["auto", "on", "off"] = "auto"
    # Where `gallery train stylegan` keeps checkpoints and sample grids (relative to data_dir).
    train_dir: str = "stylegan/train"
    # Where imported checkpoints are stored after conversion (relative to data_dir).
    models_dir: str = "models/stylegan"

    @field_validator("noise_mode")
    @classmethod
    def _noise(cls, v: str) -> str:
        if v not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, got {v!r}")
        return v

    @field_validator("render_size")
    @classmethod
    def _size(cls, v: int) -> int:
        if v and (v < 16 or v % 2):
            raise ValueError(f"render_size must be 0 or an even number >= 16 (H.264 needs even sizes), got {v}")
        return v
