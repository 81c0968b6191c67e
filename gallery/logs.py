"""Logging and progress: rich progress bars on a terminal, plain log lines otherwise.

Every handler carries a :class:`gallery.redact.RedactFilter`: a value that looks like a private key
or a mnemonic (or a registered secret) never reaches a terminal, the journal or a log file."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("gallery")


def setup_logging(level: str = "INFO", file: Path | None = None) -> None:
    from gallery.redact import install, install_on_root

    root = logging.getLogger()
    if getattr(root, "_gallery_configured", False):
        root.setLevel(level)
        install_on_root()
        return
    root.setLevel(level)
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(install(handler))
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(file)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(install(fh))
    for noisy in ("alembic", "numba", "matplotlib", "PIL", "urllib3", "web3", "asyncio", "multipart", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    install_on_root()  # handlers added before us (basicConfig, a test's) redact secrets too
    root._gallery_configured = True  # type: ignore[attr-defined]


def interactive() -> bool:
    return sys.stderr.isatty()


def track(items: Iterable[T], total: int | None = None, description: str = "working") -> Iterator[T]:
    """Iterate with a rich progress bar on a terminal; plain log lines (about every 10%) otherwise."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if interactive():
        from rich.progress import track as rich_track

        yield from rich_track(items, total=total, description=description, transient=False)
        return
    step = max(1, (total or 10) // 10)
    start = time.monotonic()
    i = 0
    for i, item in enumerate(items, 1):
        yield item
        if total and (i % step == 0 or i == total):
            log.info("%s: %d/%d (%.1fs)", description, i, total, time.monotonic() - start)


@contextmanager
def progress_bar(description: str, total: float | None):
    """A manual progress bar: ``with progress_bar('training', total) as advance: advance(n)``."""
    if interactive():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total}"),
                      TimeElapsedColumn(), TimeRemainingColumn()) as p:
            task = p.add_task(description, total=total)
            yield lambda n=1, **fields: p.update(task, advance=n, **fields)
        return
    state = {"done": 0.0, "last": time.monotonic(), "start": time.monotonic()}

    def advance(n: float = 1, **fields: object) -> None:
        state["done"] += n
        now = time.monotonic()
        if now - state["last"] >= 10 or (total and state["done"] >= total):
            extra = " ".join(f"{k}={v}" for k, v in fields.items())
            log.info("%s: %.0f/%s %s (%.0fs)", description, state["done"], total, extra, now - state["start"])
            state["last"] = now

    yield advance
