"""Settings of Latent Timbre Synthesis soundscapes: the `lts` section of config.yaml.

Torch-free on purpose: gallery.config imports every section at start.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from gallery.settings_base import Strict

PRESET_NAMES = ("tiny", "reference")


class LTSSettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""

    preset: str = "tiny"
    checkpoint: str | None = None
    corpus_dir: str = "corpus/lts-sounds"
    phase_iterations: int = Field(4, ge=0, le=500)
    duration: float = Field(12.0, gt=0, le=3600)
    peak_dbfs: float = Field(-1.0, le=0, ge=-60)
    osc_host: str = "127.0.0.1"
    osc_port: int = Field(9010, ge=1, le=65535)
    osc_reply_port: int = Field(9011, ge=1, le=65535)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        if v not in PRESET_NAMES:
            raise ValueError(f"unknown LTS preset {v!r}; choose one of {', '.join(PRESET_NAMES)}")
        return v
