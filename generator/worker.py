"""The worker subprocess: runs one scheduled job and records its outcome in its `run` row.

``python -m generator.worker RUN_ID`` with the settings as JSON in ``$GALLERY_WORKER_SETTINGS``
and the wall-clock deadline (epoch seconds) in ``$GALLERY_WORKER_DEADLINE``. The scheduler made
the row (state ``queued``); the worker marks it ``running``, runs the job, adds every artwork it
returned in one transaction (all or nothing) and marks the row ``done``; an exception marks it
``failed`` with the reason. A crash, an out-of-memory or a kill ends this process only: the
scheduler sees the exit status and records it. After that it runs the after-save hooks
(``generator.run``): the front door ``python -m gallery.worker`` registers curation's features on
insert (``curation.index_on_insert``; failures only logged); ``python -m generator.worker`` runs with
the hooks it was given (none).

On Linux the worker asks to be killed when its parent dies, so a killed scheduler leaves no
orphan job behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ENV_SETTINGS = "GALLERY_WORKER_SETTINGS"
ENV_DEADLINE = "GALLERY_WORKER_DEADLINE"
EXIT_FAILED = 3  # the job raised; the row says why
EXIT_OOM = 4  # the job ran out of memory (MemoryError under the address-space limit)
EXIT_NO_FORK = 5  # the fork server cannot fork safely (CUDA initialised while preloading)

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
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("500")


def _limit_memory(mb: int | None) -> None:
    if mb:
        import resource

        limit = int(mb) * 1024 * 1024
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))  # soft only: lifted again after a MemoryError


def _limit_threads(n: int | None) -> None:
    """torch's intra-op threads for this job: set directly if torch is loaded (the fork server preloads it),
    else through the environment that OpenMP and MKL read when a job first imports it."""
    if n is None:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--server"]:
        return serve(argv[1:])
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m generator.worker RUN_ID (settings in $GALLERY_WORKER_SETTINGS)\n"
              "       python -m generator.worker --server [MODULE …] (fork server; requests on stdin)",
              file=sys.stderr)
        return 2
    _die_with_parent()
    _first_to_go_when_memory_runs_out()
    return run_one(int(argv[0]), os.environ[ENV_SETTINGS], float(os.environ.get(ENV_DEADLINE, "0") or 0))


def run_one(run_id: int, settings_json: str, deadline_epoch: float) -> int:
    """Run the job of run row ``run_id`` in this process and record its outcome; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s worker[{run_id}] %(name)s: %(message)s")
    from gallery.redact import install_on_root

    install_on_root()  # a job's log lines go through the secret filter like the daemon's
    from catalogue import Catalogue
    from gallery.config import Settings
    from gallery.errors import BadInput
    from generator.jobs import JobContext
    from generator.run import claim_run, execute_run, record_run, run_after_save

    settings = Settings.model_validate_json(settings_json)
    c = settings.catalogue
    cat = Catalogue(settings.catalogue_url, settings.media_root, busy_timeout_ms=c.busy_timeout_ms, fsync=c.fsync,
                    auto_upgrade=False, gc_grace_seconds=c.gc_grace_seconds)
    spec = claim_run(cat, run_id)
    if spec is None:
        print(f"worker: no run {run_id} in the catalogue", file=sys.stderr)
        return 2
    workdir = settings.path(Path("runs") / str(run_id))
    workdir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + (deadline_epoch - time.time()) if deadline_epoch else None
    ctx = JobContext(settings=settings, catalogue=cat, workdir=workdir, run_id=run_id,
                     deadline=deadline, log=logging.getLogger(f"gallery.job.{spec.kind}"))
    code = 0
    try:
        _limit_memory(settings.schedule.worker_memory_mb)
        _limit_threads(settings.schedule.worker_threads)
        ids = execute_run(spec, ctx, hooks=False)  # every artwork in one transaction; hooks once the row is done
        error = None
    except BadInput as exc:  # a bad spec or missing checkpoint: the message says it all
        error, code = f"BadInput: {exc}", EXIT_FAILED
        ids = []
    except MemoryError:
        _limit_memory_off()
        error, code = "out of memory (MemoryError in the job)", EXIT_OOM
        ids = []
    except BaseException as exc:  # noqa: BLE001 - everything a job raises is recorded
        tb = traceback.format_exception(exc)
        error, code = f"{type(exc).__name__}: {exc}\n{''.join(tb[-6:])}", EXIT_FAILED
        ids = []
    record_run(cat, run_id, ids, error)
    if ids:
        # After the row says done: a deadline kill here loses a hook's work only (features: the lazy index).
        run_after_save(ctx, list(ids))
    cat.close()
    return code


# ---- the fork server --------------------------------------------------------------------------
# A long-lived, single-threaded process that has imported the heavy modules once (catalogue,
# settings, the programme's job modules: numpy, SQLAlchemy, OpenCV, torch…) and forks one child per
# job. Each child is still its own process: a crash, an out-of-memory or a kill ends that child
# only. It never opens a database connection or initialises CUDA before forking.
#
# Protocol, one JSON object per line. stdin: {"run_id", "settings", "deadline", "log"}.
# stdout: {"event": "started", "run_id", "pid"} and {"event": "exit", "pid", "code", "maxrss_kb"}.
PRELOAD = ("numpy", "sqlalchemy", "catalogue", "catalogue.models", "gallery.config", "generator.jobs",
           "generator.run")


def serve(modules: list[str]) -> int:
    import json
    import select

    _die_with_parent()
    _first_to_go_when_memory_runs_out()
    for name in (*PRELOAD, *modules):
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - the job itself will report it
            print(f"worker server: preloading {name} failed: {exc}", file=sys.stderr, flush=True)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        # Forked children cannot use a CUDA context made before the fork: let the scheduler start fresh ones.
        print("worker server: a preloaded module initialised CUDA; refusing to fork (use fresh workers)",
              file=sys.stderr, flush=True)
        return EXIT_NO_FORK
    out = sys.stdout
    stdin_fd = sys.stdin.fileno()
    buf = b""
    children: set[int] = set()

    def say(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    while True:
        ready, _, _ = select.select([stdin_fd], [], [], 0.02)
        if ready:
            chunk = os.read(stdin_fd, 1 << 20)
            if not chunk:  # the scheduler closed the pipe (or died): leave; children die with us
                return 0
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                req = json.loads(line)
                pid = _fork_job(req)
                children.add(pid)
                say({"event": "started", "run_id": req["run_id"], "pid": pid})
        while children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                break
            if not pid:
                break
            children.discard(pid)
            say({"event": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status),
                 "maxrss_kb": usage.ru_maxrss})


def _fork_job(req: dict[str, Any]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        _die_with_parent()
        fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        code = run_one(int(req["run_id"]), req["settings"], float(req.get("deadline") or 0))
    except BaseException:  # noqa: BLE001
        from gallery.redact import redact

        sys.stderr.write(redact(traceback.format_exc()))
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    return 0  # unreachable


def _limit_memory_off() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


if __name__ == "__main__":
    sys.exit(main())
