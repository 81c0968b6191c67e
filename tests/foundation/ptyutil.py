"""Reading what a program wrote to a pseudo-terminal, for tests that need stderr (or both) to be a TTY."""

from __future__ import annotations

import os


def read_until_closed(master: int) -> bytes:
    """Everything written to the pty's slave side until every writer has closed it."""
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        out += chunk
    return out
