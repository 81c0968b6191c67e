"""Windows run for real: each job in a worker subprocess, with a fake clock for the window's times."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from schedutil import FakeClock, sched_settings
from sqlalchemy import select

from catalogue.models import Artwork, Run
from generator.schedule.guards import guard_reason
from generator.schedule.recovery import recover_interrupted
from generator.schedule.windows import run_window

NIGHT = {"name": "night", "start": "22:00", "end": "07:00"}
T22 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
END = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)


def _window(settings, jobs, **kw):
    s = sched_settings(settings, windows=[{**NIGHT, "jobs": jobs}], **kw)
    return s, s.schedule.windows[0]


def _runs(cat) -> list[Run]:
    with cat.read() as s:
        return list(s.scalars(select(Run).order_by(Run.id)))


@pytest.mark.parametrize("worker_start", ["fork-server", "fresh"])
def test_a_window_runs_its_programme_and_a_raising_job_fails_alone(settings, catalogue, worker_start):
    s, w = _window(settings, [{"kind": "procedural.images", "count": 1, "params": {"count": 2, "size": 32}},
                              {"kind": "schedtestjobs:boom", "count": 1},
                              {"kind": "noop", "count": 1}], worker_start=worker_start)
    rep = run_window(s, catalogue, w, T22, END, FakeClock(T22))
    assert rep.stopped_by == "programme done"
    runs = _runs(catalogue)
    assert [r.state for r in runs] == ["done", "failed", "done"]
    made, failed, noop = runs
    assert len(made.artwork_ids) == 2
    for aid in made.artwork_ids:
        assert catalogue.get(aid).run_id == made.id
    assert made.spec["job"]["kind"] == "procedural.images" and made.spec["job"]["params"] == {"count": 2, "size": 32}
    assert made.started <= made.ended and made.window == "night" and made.host == socket.gethostname()
    assert made.extra["occurrence"] == T22.isoformat() and made.extra["exit_code"] == 0
    assert made.extra["worker"] == worker_start and made.pid != os.getpid()
    assert "ValueError: the job exploded on purpose" in failed.error
    assert failed.artwork_ids == [] and failed.ended is not None
    assert noop.artwork_ids == [] and noop.error is None
    # The seed recorded in the spec is the one the job saw.
    assert f"seed {failed.spec['job']['seed']}" in failed.error
    assert not (s.path("runs") / str(made.id)).exists()  # work folders are cleaned


@pytest.mark.parametrize("worker_start", ["fork-server", "fresh"])
def test_a_job_is_stopped_at_the_window_end(settings, catalogue, worker_start):
    s, w = _window(settings, [{"kind": "schedtestjobs:sleepy", "count": 1, "params": {"seconds": 120}}],
                   worker_start=worker_start)
    rep = run_window(s, catalogue, w, T22, END, FakeClock(END - timedelta(seconds=4)))
    (run,) = _runs(catalogue)
    assert run.state == "timed-out"
    assert run.artwork_ids == []
    assert rep.outcomes[0].wall_s < 4 + 1 + 3  # the window's end, the kill grace, slack for a busy machine
    assert not (s.path("runs") / str(run.id)).exists()  # the half-made file went with the work folder
    # Too close to the end (less than the kill grace + MIN_JOB_S) nothing more starts.
    rep = run_window(s, catalogue, w, T22, END, FakeClock(END - timedelta(seconds=2.5)), occurrence="again")
    assert rep.stopped_by == "window ended" and rep.outcomes == []


@pytest.mark.parametrize("worker_start", ["fork-server", "fresh"])
def test_sigkill_and_out_of_memory_kill_one_job_not_the_window(settings, catalogue, worker_start):
    s, w = _window(settings, [{"kind": "schedtestjobs:sigkill_self", "count": 1},
                              {"kind": "schedtestjobs:hog", "count": 1, "params": {"mb": 4096}},
                              {"kind": "noop", "count": 1}], worker_memory_mb=1536,
                   worker_start=worker_start)
    run_window(s, catalogue, w, T22, END, FakeClock(T22))
    killed, oom, after = _runs(catalogue)
    assert killed.state == "failed" and "SIGKILL" in killed.error and killed.extra["exit_code"] == -9
    assert oom.state == "failed" and "out of memory" in oom.error
    assert after.state == "done"
    with catalogue.read() as sess:
        assert sess.scalar(select(Artwork.id)) is None  # nothing half-written


def test_guards_stop_generation_with_a_clear_log_line(settings, catalogue, caplog):
    s, w = _window(settings, [{"kind": "procedural.images", "count": 1, "params": {"count": 2, "size": 32}},
                              {"kind": "noop", "weight": 1}], max_artworks=2)
    with caplog.at_level(logging.WARNING, logger="gallery.schedule"):
        rep = run_window(s, catalogue, w, T22, END, FakeClock(T22))
    assert [r.state for r in _runs(catalogue)] == ["done", "skipped"]
    assert "max_artworks = 2" in rep.stopped_by
    assert any("generation stopped in window night" in r.getMessage() and "max_artworks" in r.getMessage()
               for r in caplog.records)
    s2, w2 = _window(settings, [{"kind": "noop", "count": 1}], min_free_disk_mb=10**9)
    rep = run_window(s2, catalogue, w2, T22, END, FakeClock(T22), occurrence="disk")
    assert "free disk" in rep.stopped_by and "min_free_disk_mb" in rep.stopped_by
    assert _runs(catalogue)[-1].state == "skipped"
    # The media size guard counts each blob once.
    media_mb = sum(m.size for a in catalogue.page(limit=10) for m in a.media) / 2**20
    assert guard_reason(sched_settings(settings, max_catalogue_mb=media_mb * 1.01), catalogue) is None
    big = guard_reason(sched_settings(settings, max_catalogue_mb=media_mb * 0.99), catalogue)
    assert "max_catalogue_mb" in big


def test_a_sound_pairs_with_the_latest_visual_of_the_window(settings, catalogue):
    s, w = _window(settings, [{"kind": "schedtestjobs:pair_echo", "count": 2, "pair_with": "previous_visual",
                               "prompts": ["hum"]},
                              {"kind": "procedural.images", "count": 1, "params": {"count": 1, "size": 32}}])
    run_window(s, catalogue, w, T22, END, FakeClock(T22))
    skipped, visual, paired = _runs(catalogue)
    assert skipped.state == "skipped" and "no visual artwork" in skipped.error
    assert visual.state == "done" and paired.state == "done"
    sound = catalogue.get(paired.artwork_ids[0])
    assert sound.recipe["pair_with"] == visual.artwork_ids[0]
    assert sound.recipe["prompt"] == "hum"


def test_an_interrupted_run_is_marked_and_the_window_carries_on(settings, catalogue):
    from catalogue import ArtworkDraft, MediaDraft

    s, w = _window(settings, [{"kind": "noop", "count": 3}])
    occ = T22.isoformat()
    with catalogue.write() as sess:
        dead = Run(job_kind="noop", window="night", state="running", spec={"job": {"kind": "noop"}}, artwork_ids=[],
                   host=socket.gethostname(), extra={"occurrence": occ, "slot": 0, "scheduler_pid": 1})
        sess.add(dead)
        sess.flush()
        dead_id = dead.id
    # What the dead worker had committed is whole; the run row must say so.
    aid = catalogue.add(ArtworkDraft(kind="image", recipe={"x": 1}, run_id=dead_id,
                                     media=[MediaDraft(role="image", mime="image/png", data=b"png")]))
    assert recover_interrupted(catalogue) == [dead_id]
    rep = run_window(s, catalogue, w, T22, END, FakeClock(T22 + timedelta(hours=2)))
    runs = _runs(catalogue)
    assert runs[0].state == "failed-interrupted" and "interrupted" in runs[0].error
    assert runs[0].artwork_ids == [aid]
    assert [r.extra["slot"] for r in runs[1:]] == [1, 2]  # the rest of the window, not the interrupted slot
    assert [o.state for o in rep.outcomes] == ["done", "done"]


def test_the_fork_server_dying_fails_its_job_and_is_restarted(settings, catalogue):
    s, w = _window(settings, [{"kind": "schedtestjobs:kill_server", "count": 1},
                              {"kind": "procedural.images", "count": 1, "params": {"count": 1, "size": 32}}],
                   worker_start="fork-server")
    rep = run_window(s, catalogue, w, T22, END, FakeClock(T22))
    dead, after = _runs(catalogue)
    assert dead.state == "failed" and "SIGKILL" in dead.error
    assert rep.outcomes[0].wall_s < 25  # it died with its server, it did not sleep on
    assert after.state == "done" and len(after.artwork_ids) == 1


def test_recovery_never_kills_a_stranger_with_a_recycled_pid(settings, catalogue):
    import subprocess
    import sys

    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with catalogue.write() as sess:
            sess.add(Run(job_kind="noop", window="night", state="running", spec={}, artwork_ids=[], pid=stranger.pid,
                         host=socket.gethostname(), extra={"occurrence": "x", "slot": 0}))
        assert len(recover_interrupted(catalogue)) == 1
        assert stranger.poll() is None  # the run is marked, the unrelated process lives on
    finally:
        stranger.kill()
        stranger.wait()


def test_a_window_falls_back_to_fresh_workers_when_the_fork_server_cannot_start(settings, catalogue, caplog):
    s, w = _window(settings, [{"kind": "schedforkhostile:run", "count": 2}], worker_start="fork-server")
    with caplog.at_level(logging.WARNING, logger="gallery.schedule"):
        run_window(s, catalogue, w, T22, END, FakeClock(T22))
    runs = _runs(catalogue)
    assert [r.state for r in runs] == ["done", "done"]
    assert [r.extra["worker"] for r in runs] == ["fresh", "fresh"]
    assert any("fresh interpreter per job" in r.getMessage() for r in caplog.records)


def test_a_missing_job_function_fails_its_run_with_the_reason(settings, catalogue):
    s, w = _window(settings, [{"kind": "schedtestjobs:no_such_job", "count": 1}])
    run_window(s, catalogue, w, T22, END, FakeClock(T22))
    (run,) = _runs(catalogue)
    assert run.state == "failed"
    assert "'schedtestjobs:no_such_job' cannot be imported" in run.error and "Traceback" not in run.error


@pytest.mark.parametrize("worker_start", ["fork-server", "fresh"])
def test_worker_threads_sets_the_torch_threads_of_each_job(settings, catalogue, worker_start):
    default = int(subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                                 capture_output=True, text=True, check=True).stdout)
    for n, expected in ((None, default), (1, 1)):  # on a machine of 2 or more cores the two differ
        s, w = _window(settings, [{"kind": "schedtestjobs:torch_threads", "count": 1}], worker_threads=n,
                       worker_start=worker_start)
        run_window(s, catalogue, w, T22, END, FakeClock(T22), occurrence=f"threads-{n}")
        run = _runs(catalogue)[-1]
        assert run.state == "done", run.error
        assert catalogue.get(run.artwork_ids[0]).recipe["threads"] == expected
