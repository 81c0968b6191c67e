"""Logging and progress: rich progress bars on a terminal, plain log lines otherwise.

Every handler carries a :class:`gallery.redact.RedactFilter`: a value that looks like a private key
or a mnemonic (or a registered secret) never reaches a terminal, the journal or a log file."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from gallery import console

T = TypeVar("T")
log = logging.getLogger("gallery")
# Libraries that log routine facts at INFO on the root logger (open_clip: six lines per model load).
QUIET_PACKAGES = ("open_clip",)


class QuietLibraries(logging.Filter):
    """Drop records below WARNING that come from the source files of QUIET_PACKAGES."""

    def __init__(self, packages: tuple[str, ...] = QUIET_PACKAGES) -> None:
        super().__init__()
        self.markers = tuple(f"{os.sep}{p}{os.sep}" for p in packages)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not any(m in record.pathname for m in self.markers)


class StderrHandler(logging.StreamHandler):
    """A stream handler on whatever ``sys.stderr`` is when a record is written (not the stream of the
    moment logging was set up, which a test harness or a redirect may have closed since)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


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

        handler: logging.Handler = RichHandler(console=console.stderr_console(), show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(QuietLibraries())
    root.addHandler(install(handler))
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(file)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        fh.addFilter(QuietLibraries())
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

        yield from rich_track(items, total=total, description=description, transient=False,
                              console=console.stderr_console())
        return
    step = max(1, (total or 10) // 10)
    start = time.monotonic()
    i = 0
    for i, item in enumerate(items, 1):
        yield item
        if total and (i % step == 0 or i == total):
            log.info("%s: %d/%d (%.1fs)", description, i, total, time.monotonic() - start)


@contextmanager
def progress_bar(description: str, total: float | None, quiet: bool = False) -> Iterator:
    """A counting bar on :func:`gallery.progress.cli_progress`: ``with progress_bar('training', total) as
    advance: advance(n, loss=...)``; ``quiet`` (--json) shows nothing."""
    from gallery.progress import cli_progress

    with cli_progress(quiet) as progress:
        done = [0.0]

        def advance(n: float = 1, **fields: object) -> None:
            done[0] += n
            progress(description, done[0], total, **fields)

        yield advance
