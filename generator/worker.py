"""The worker subprocess: runs one scheduled job and records its outcome in its `run` row.

``python -m generator.worker RUN_ID`` with the settings as JSON in ``$GALLERY_WORKER_SETTINGS``
and the wall-clock deadline (epoch seconds) in ``$GALLERY_WORKER_DEADLINE``. The scheduler made
the row (state ``queued``); the worker marks it ``running``, runs the job, adds every artwork it
returned in one transaction (all or nothing) and marks the row ``done``; an exception marks it
``failed`` with the reason. A crash, an out-of-memory or a kill ends this process only: the
scheduler sees the exit status and records it.

On Linux the worker asks to be killed when its parent dies, so a killed scheduler leaves no
orphan job behind.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ENV_SETTINGS = "GALLERY_WORKER_SETTINGS"
ENV_DEADLINE = "GALLERY_WORKER_DEADLINE"
EXIT_FAILED = 3  # the job raised; the row says why
EXIT_OOM = 4  # the job ran out of memory (MemoryError under the address-space limit)

log = logging.getLogger("gallery.worker")


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _first_to_go_when_memory_runs_out() -> None:
    # A job that eats all memory should meet the kernel's OOM killer before the scheduler does.
    try:
        Path("/proc/self/oom_score_adj").write_text("500")
    except OSError:
        pass


def _limit_memory(mb: int | None) -> None:
    if mb:
        import resource

        limit = int(mb) * 1024 * 1024
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))  # soft only: lifted again after a MemoryError


def resolve_kind(kind: str) -> Any:
    """A JOB_KINDS name or an explicit ``module:function``; BadInput if it cannot be imported."""
    from gallery.errors import BadInput
    from generator.jobs import JOB_KINDS, resolve

    if kind in JOB_KINDS:
        try:
            return resolve(kind)
        except (ImportError, AttributeError) as exc:
            raise BadInput(f"job kind {kind!r} ({JOB_KINDS[kind]}) cannot be imported: {exc}") from exc
    mod_name, _, fn_name = kind.partition(":")
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as exc:
        raise BadInput(f"job kind {kind!r} cannot be imported: {exc}") from exc
    if not callable(fn):
        raise BadInput(f"job kind {kind!r} is not a function")
    return fn


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m generator.worker RUN_ID (settings in $GALLERY_WORKER_SETTINGS)", file=sys.stderr)
        return 2
    _die_with_parent()
    _first_to_go_when_memory_runs_out()
    run_id = int(argv[0])
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s worker[{run_id}] %(name)s: %(message)s")
    from catalogue import Catalogue
    from catalogue.models import Run, utcnow
    from gallery.config import Settings
    from generator.jobs import JobContext, JobSpec

    settings = Settings.model_validate_json(os.environ[ENV_SETTINGS])
    deadline_epoch = float(os.environ.get(ENV_DEADLINE, "0") or 0)
    c = settings.catalogue
    cat = Catalogue(settings.catalogue_url, settings.media_root, busy_timeout_ms=c.busy_timeout_ms, fsync=c.fsync,
                    auto_upgrade=False, gc_grace_seconds=c.gc_grace_seconds)
    with cat.write() as s:
        run = s.get(Run, run_id)
        if run is None:
            print(f"worker: no run {run_id} in the catalogue", file=sys.stderr)
            return 2
        run.state = "running"
        run.started = utcnow()
        run.pid = os.getpid()
        run.host = socket.gethostname()
        spec = JobSpec.model_validate(run.spec["job"])
    workdir = settings.path(Path("runs") / str(run_id))
    workdir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + (deadline_epoch - time.time()) if deadline_epoch else None
    ctx = JobContext(settings=settings, catalogue=cat, workdir=workdir, seed=spec.seed or 0, run_id=run_id,
                     deadline=deadline, log=logging.getLogger(f"gallery.job.{spec.kind}"))
    code = 0
    try:
        _limit_memory(settings.schedule.worker_memory_mb)
        fn = resolve_kind(spec.kind)
        drafts = fn(dict(spec.params, seed=spec.seed if spec.seed is not None else 0), ctx)
        for d in drafts:
            if d.run_id is None:
                d.run_id = run_id
        ids = cat.add_many(list(drafts)) if drafts else []
        state, error = "done", None
    except MemoryError:
        _limit_memory_off()
        state, error, code = "failed", "out of memory (MemoryError in the job)", EXIT_OOM
        ids = []
    except BaseException as exc:  # noqa: BLE001 - everything a job raises is recorded
        tb = traceback.format_exception(exc)
        state, error, code = "failed", f"{type(exc).__name__}: {exc}\n{''.join(tb[-6:])}", EXIT_FAILED
        ids = []
    with cat.write() as s:
        run = s.get(Run, run_id)
        assert run is not None
        run.state = state
        run.ended = utcnow()
        run.error = error
        run.artwork_ids = list(ids)
    cat.close()
    return code


def _limit_memory_off() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


if __name__ == "__main__":
    sys.exit(main())
