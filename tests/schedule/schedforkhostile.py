"""A test-only job module that cannot be preloaded by the fork server (it ends the server at import),
standing in for a library that is not safe to fork; fresh workers import it fine."""

from __future__ import annotations

import os
import sys
from typing import Any

if "--server" in sys.argv:
    os._exit(9)


def run(params: dict[str, Any], ctx: Any) -> list:
    return []
