"""Settings of Music-VAE melodies: the `musicvae` section of config.yaml.

Torch-free on purpose: gallery.config imports every section at start.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from gallery.settings_base import Strict

KNOWN_SOURCES = ("chorales", "ryansMammoth", "oneills1850")


class MusicVAESettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""

    checkpoint_2bar: str = ""
    checkpoint_16bar: str = ""
    corpus_sources: list[str] = Field(default_factory=lambda: ["chorales", "ryansMammoth"])
    corpus_limit: int | None = Field(default=None, ge=1)
    heldout_percent: int = Field(default=10, ge=1, le=50)
    instrument: int = Field(default=0, ge=0, le=127)
    soundfont: str = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
    tempo: float = Field(default=110.0, gt=20.0, le=400.0)
    temperature: float = Field(default=0.5, ge=0.0, le=5.0)

    @field_validator("corpus_sources")
    @classmethod
    def _sources(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s not in KNOWN_SOURCES]
        if bad:
            raise ValueError(f"unknown corpus source(s) {bad}; the bundled ones are {list(KNOWN_SOURCES)}")
        if not v:
            raise ValueError("name at least one corpus source")
        return v
