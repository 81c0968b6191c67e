"""The overnight scheduler: windows of generation, each job in a worker subprocess, every job a `run` row.

- APScheduler 3 fires each configured window (cron trigger) from a job store in the catalogue
  database (``SQLAlchemyJobStore``), so jobs survive restarts. The stored callable is the importable
  :func:`generator.schedule.daemon.scheduled_window`, with the window name and the settings (JSON) as
  arguments.
- A window's programme is a deterministic sequence of *slots*: counted entries first (round-robin),
  then weighted draws, seeded by the window seed, the occurrence and the slot number. Each slot runs
  in ``python -m generator.worker`` (a crash, an out-of-memory or a GPU error kills that one job),
  time-boxed so that it is gone by the window's end, and leaves a `run` row.
- Resume: on start the scheduler marks runs left ``queued``/``running`` by a dead scheduler as
  ``failed-interrupted`` (their artworks, if any, are whole: the worker adds them in one
  transaction) and, if a window is still open, carries on with its next slot. Missed starts within
  ``misfire_grace_s`` still run; several missed starts are coalesced into one.
- Guards (free disk, catalogue size) stop generation with a clear log line and a ``skipped`` run row;
  the retention policy (opt-in) thins old unrated, uncollected works after each window.
- Queued runs first: runs queued from outside the programme (curation's "variations around this" and
  "between these two": state ``queued``, no host yet, window ``tonight`` or this window's name) run at
  the start of a window, oldest first, before its programme, each in a worker like a programme job
  and within the same time box and guards. Their own row is updated (claimed: host, ``running``;
  then done/failed/timed-out…) and their results are linked to the parents the row names
  (``extra.parents``). They do not count towards ``max_jobs``.

Only one scheduler runs per data directory (a lock file), so a `queued`/`running` row of this host
seen at start belongs to a scheduler that died.

One module per job; import from the module itself:

- ``settings``: the ``schedule:`` section of config.yaml (torch-free; gallery.config imports it).
- ``calendar``: the zone, a window's trigger, its occurrences.
- ``plan``: a window's slots and job specs; the programme in miniature (``Compression``).
- ``guards``: free disk and catalogue size; ``retention``: the thinning policy.
- ``supervise``: one job in a worker process (fresh or forked by the fork server); job kinds' modules.
- ``recovery``: runs left by a dead scheduler; the one-scheduler-per-data-directory lock.
- ``windows``: running a window (queued runs, then the programme); ``gallery schedule once``.
- ``daemon``: APScheduler, its job store, ``gallery schedule run``.
- ``demo``: ``gallery demo``'s step; ``cli``: ``gallery schedule …`` and ``gallery runs``.

This package itself exports one name, lazily: ``scheduled_window``, because job stores written before
the package split (and since: ``daemon.WINDOW_JOB_REF``) name it ``generator.schedule:scheduled_window``.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "scheduled_window":  # the job store's reference (see the docstring); imported on first use
        from generator.schedule.daemon import scheduled_window

        return scheduled_window
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
