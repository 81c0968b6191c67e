"""Settings of minting (ERC-721): the `minting` section of config.yaml.

Torch-free on purpose: gallery.config imports every section at start.
"""

from __future__ import annotations

from gallery.settings_base import Strict


class MintingSettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""
