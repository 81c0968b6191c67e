"""Settings of Latent Timbre Synthesis soundscapes: the `lts` section of config.yaml.

Torch-free on purpose: gallery.config imports every section at start.
"""

from __future__ import annotations

from gallery.settings_base import Strict


class LTSSettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""
