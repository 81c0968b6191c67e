"""Latent Gallery: the front door (CLI, configuration, logging, device choice)."""

__version__ = "0.1.0"
