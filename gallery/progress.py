"""Progress of long work: one helper behind every generate and train command.

Work that takes a while (a generation job, a training loop) reports through a plain callback and never
imports rich::

    progress(stage, done, total=None, **figures)

``stage`` says what is happening now ("loading models", "rendering frames"); a new stage name starts a
new line of the display and finishes the one before. ``done`` counts up to ``total`` (None: unknown).
``figures`` are short values shown beside the bar (``loss=0.12``). Jobs reach the callback through
:func:`report` (``ctx.progress``, absent or None on a daemon: then nothing happens).

The command line makes the callback with :func:`cli_progress`: a rich progress bar on stderr when
stderr is a terminal and the output is not ``--json``; with ``--json`` nothing; elsewhere (a pipe, a
log file) one plain log line when a stage starts and at most one every ``LOG_EVERY_S`` seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

ProgressFn = Callable[..., None]
LOG_EVERY_S = 30.0
log = logging.getLogger("gallery.progress")


def report(ctx: Any, stage: str, done: float, total: float | None = None, **figures: Any) -> None:
    """Tell ``ctx.progress`` (when there is one) how far ``stage`` has come."""
    fn = getattr(ctx, "progress", None)
    if fn is not None:
        fn(stage, done, total, **figures)


def _fmt(figures: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in figures.items())


class _Bar:
    """The rich display: one line per stage (spinner, name, bar, done/total, elapsed, figures)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from gallery.console import stderr_console

        self.progress = Progress(SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"),
                                 BarColumn(), TextColumn("{task.fields[count]}"), TimeElapsedColumn(),
                                 TextColumn("{task.fields[figures]}"), console=stderr_console(),
                                 transient=False)
        self.stage: str | None = None
        self.task: Any = None
        self.total: float | None = None

    def __call__(self, stage: str, done: float, total: float | None = None, **figures: Any) -> None:
        if stage != self.stage:
            self.finish()
            self.stage = stage
            self.task = self.progress.add_task(stage, total=total, count="", figures="")
        self.total = total
        count = f"{done:g}/{total:g}" if total is not None else ""
        self.progress.update(self.task, completed=done, total=total, count=count, figures=_fmt(figures))

    def finish(self) -> None:
        """Show the current stage as done (a stage of unknown length is done when the next one starts)."""
        if self.task is None:
            return
        if self.total is not None:
            self.progress.update(self.task, completed=self.total, count=f"{self.total:g}/{self.total:g}")
        else:
            self.progress.update(self.task, total=1, completed=1)
        self.task = None


class _LogLines:
    """No terminal: a DEBUG line when a stage starts, then an INFO line at most every LOG_EVERY_S seconds."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.last = 0.0
        self.start = time.monotonic()

    def __call__(self, stage: str, done: float, total: float | None = None, **figures: Any) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.start, self.last = stage, now, now
            log.debug("%s ...", stage)
            return
        if now - self.last >= LOG_EVERY_S:
            self.last = now
            of = f"/{total:g}" if total is not None else ""
            log.info("%s: %g%s %s(%.0f s)", stage, done, of, _fmt(figures) + " " if figures else "", now - self.start)


def _quiet(stage: str, done: float, total: float | None = None, **figures: Any) -> None:
    return None


@contextmanager
def cli_progress(quiet: bool = False, interactive: bool | None = None) -> Iterator[ProgressFn]:
    """The callback for a command's long work: a bar on a terminal, log lines elsewhere, nothing if quiet."""
    if quiet:
        yield _quiet
        return
    if interactive is None:
        interactive = sys.stderr.isatty()
    if not interactive:
        yield _LogLines()
        return
    bar = _Bar()
    with bar.progress:
        yield bar
        bar.finish()
