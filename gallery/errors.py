"""Errors that map onto the CLI's exit codes: 2 for bad input, 1 for failures while running."""


class GalleryError(Exception):
    """A failure while running (exit code 1)."""

    exit_code = 1


class BadInput(GalleryError):
    """Bad input from the user: config, media file, checkpoint, prompt, request (exit code 2)."""

    exit_code = 2


class ConfigError(BadInput):
    """config.yaml (or an environment override) is invalid."""
