"""What every ``gallery generate …`` command does: build the job's spec from the options, run it in this
process with a progress display (:func:`generator.run.execute_run`), then print the artworks it made."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gallery.results import print_artworks

if TYPE_CHECKING:
    from gallery.state import AppState
    from generator.jobs import JobSpec


def generate(st: AppState, kind: str, params: dict[str, Any], seed: int, as_json: bool, *,
             workdir: Path | None = None, extra: dict[str, Any] | None = None, print_result: bool = True) -> list[int]:
    """What every ``gallery generate …`` command does: the job of ``kind`` with ``params`` (options left unset,
    None, are dropped: the job's defaults apply) and ``seed``, run by :func:`run_generate`."""
    from generator.jobs import JobSpec

    spec = JobSpec(kind=kind, params={k: v for k, v in params.items() if v is not None}, seed=seed)
    return run_generate(st, spec, as_json, workdir, extra, print_result)


def run_generate(st: AppState, spec: JobSpec, as_json: bool, workdir: Path | None = None,
                 extra: dict[str, Any] | None = None, print_result: bool = True) -> list[int]:
    """Run a generation job in this process with a progress display, then print its artworks' files."""
    from gallery.progress import cli_progress
    from generator.jobs import JobContext
    from generator.run import execute_run

    seed = spec.seed or 0
    jc = JobContext(settings=st.settings, catalogue=st.catalogue, workdir=workdir or st.settings.path("work"),
                    seed=seed)
    with cli_progress(quiet=as_json) as progress:
        jc.progress = progress
        progress(f"starting {spec.kind}", 0, None)  # imports and model loading, until the job's own stages
        ids = execute_run(spec, jc)
    if print_result:
        print_artworks(st, ids, as_json, extra)
    return ids
