"""Runs queued from curation ("variations around this", "between these two") run first in a window."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from schedutil import FakeClock, sched_settings
from sqlalchemy import select

from catalogue import ArtworkDraft, MediaDraft
from catalogue.models import Feature, Lineage, Run
from gallery.errors import BadInput
from generator import registry
from generator.schedule.windows import _claim, queued_runs, run_once, run_window

NIGHT = {"name": "night", "start": "22:00", "end": "07:00"}
T22 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
END = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
GREY = "schedtestjobs:latent_grey"  # importable in the workers (tests/schedule is on their PYTHONPATH)
BOOM = "schedtestjobs:boom"


@pytest.fixture
def kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Curation queues only kinds it knows; the workers resolve these as module:function.
    monkeypatch.setitem(registry.KINDS, GREY, registry.JobKind(GREY, GREY))
    monkeypatch.setitem(registry.KINDS, BOOM, registry.JobKind(BOOM, BOOM))


def _parent(cat, job_kind: str, latent: list[float], title: str) -> int:
    return cat.add(ArtworkDraft(kind="image", title=title, recipe={"job_kind": job_kind, "latent": latent},
                                media=[MediaDraft(role="image", mime="text/plain", data=title.encode())]))


def _run(cat, rid: int) -> Run:
    with cat.read() as s:
        return s.get(Run, rid)


def _lineage(cat) -> list[tuple[int, int, str]]:
    with cat.read() as s:
        return sorted((x.child_id, x.parent_id, x.relation) for x in s.scalars(select(Lineage)))


def test_queued_runs_run_first_update_their_rows_and_link_their_parents(settings, catalogue, kinds):
    from curation.generate import queue_between, queue_variations, queued

    s = sched_settings(settings, windows=[{**NIGHT, "jobs": [{"kind": "noop", "count": 1}]}])
    w = s.schedule.windows[0]
    a = _parent(catalogue, GREY, [0.5, -1.0, 0.25, 2.0], "A")
    b = _parent(catalogue, GREY, [1.0, 1.0, -0.5, 0.0], "B")
    (var,) = queue_variations(catalogue, a, count=1, sigma=0.2, seed=3, window="tonight")
    btw = queue_between(catalogue, a, b, steps=4, window="night")  # this window by name
    elsewhere = queue_between(catalogue, b, a, steps=4, window="afternoon")  # another window's
    now = queue_variations(catalogue, b, count=1, window=None)[0]  # "now": for curation's run_now
    assert [rid for rid, _ in queued_runs(catalogue, "night")] == [var, btw]

    rep = run_window(s, catalogue, w, T22, END, FakeClock(T22))

    assert [o.run_id for o in rep.outcomes[:2]] == [var, btw]  # oldest first, before the programme
    assert [o.state for o in rep.outcomes] == ["done", "done", "done"]
    assert rep.queued_runs == 2 and rep.summary()["queued_runs"] == 2 and rep.stopped_by == "programme done"
    with catalogue.read() as ses:
        assert ses.scalar(select(Run).where(Run.job_kind == "noop")).id == rep.outcomes[2].run_id
        assert len(list(ses.scalars(select(Run)))) == 5  # the queued rows were updated, not copied
    v, bt = _run(catalogue, var), _run(catalogue, btw)
    for r in (v, bt):
        assert r.state == "done" and r.error is None and r.started and r.started <= r.ended
        assert r.host == socket.gethostname() and r.extra["ran_in"] == {"window": "night",
                                                                        "occurrence": T22.isoformat()}
        assert r.extra["exit_code"] == 0 and len(r.artwork_ids) == 1
        assert catalogue.get(r.artwork_ids[0]).run_id == r.id
    (child_v,), (child_b,) = v.artwork_ids, bt.artwork_ids
    # The variation rendered the perturbed latent the run row holds.
    assert catalogue.get(child_v).recipe["latent"] == pytest.approx(v.spec["job"]["params"]["latent"])
    assert _lineage(catalogue) == sorted([(child_v, a, "variation"), (child_b, a, "between"),
                                          (child_b, b, "between")])
    # Features on insert, computed by the worker (curation.index_on_insert is on by default).
    with catalogue.read() as ses:
        names = set(ses.scalars(select(Feature.name).where(Feature.artwork_id == child_v)))
    assert {"brightness", "colourfulness", "sharpness", "emb_hist"} <= names
    # Runs for another window and runs for "now" are left alone.
    for rid in (elsewhere, now):
        r = _run(catalogue, rid)
        assert r.state == "queued" and r.host is None and r.started is None
    assert [r.id for r in queued(catalogue)] == [elsewhere, now]


def test_a_failing_queued_run_is_marked_failed_and_the_window_goes_on(settings, catalogue, kinds):
    from curation.generate import queue_variations

    s = sched_settings(settings, windows=[{**NIGHT, "jobs": [{"kind": "noop", "count": 1}]}])
    bad = _parent(catalogue, BOOM, [1.0, 2.0], "explodes")
    good = _parent(catalogue, GREY, [0.1, 0.2, 0.3], "fine")
    (r_bad,) = queue_variations(catalogue, bad, count=1, window="tonight")
    (r_good,) = queue_variations(catalogue, good, count=1, window="tonight")

    rep = run_once(s, catalogue, "night", minutes=5)  # `gallery schedule once` runs them too

    assert [(o.run_id, o.state) for o in rep.outcomes[:2]] == [(r_bad, "failed"), (r_good, "done")]
    assert rep.outcomes[2].state == "done" and rep.stopped_by == "programme done"
    failed = _run(catalogue, r_bad)
    assert "ValueError: the job exploded on purpose" in failed.error
    assert failed.artwork_ids == [] and failed.ended is not None
    (child,) = _run(catalogue, r_good).artwork_ids
    assert _lineage(catalogue) == [(child, good, "variation")]  # none for the failed run's parent


def test_a_queued_run_is_claimed_once(settings, catalogue, kinds):
    from curation.generate import queue_variations, run_now

    s = sched_settings(settings, windows=[{**NIGHT, "jobs": [{"kind": "noop", "count": 1}]}])
    w = s.schedule.windows[0]
    a = _parent(catalogue, GREY, [0.3, 0.1], "A")
    (rid,) = queue_variations(catalogue, a, count=1, window="tonight")
    assert _claim(catalogue, rid, w, "occ") is True
    assert _claim(catalogue, rid, w, "occ") is False  # a second scheduler does not take it again
    assert queued_runs(catalogue, "night") == []
    r = _run(catalogue, rid)
    assert r.state == "running" and r.host == socket.gethostname()
    with pytest.raises(BadInput, match="not queued"):
        run_now(s, catalogue, rid)  # nor does curation's "run now"
    assert _claim(catalogue, 10_000, w, "occ") is False  # gone
