"""The one rich console of the process, on stderr: log lines (gallery.logs) and progress bars
(gallery.progress) share it, and stdout stays for the command's result (JSON with --json).

Its own module so that logs and progress both stand on it without importing each other."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def stderr_console() -> Console:
    """The one rich console of the process, on stderr: logs and progress bars share it (stdout stays
    for the command's result, JSON with --json)."""
    from rich.console import Console

    return Console(stderr=True)
