"""Latent Gallery: the front door (CLI, configuration, logging, device choice)."""

import os

__version__ = "0.1.0"

# pygame prints a banner on stdout when it is first imported, which would break `--json` output;
# set before any package of the gallery can import pygame.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
