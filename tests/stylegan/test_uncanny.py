"""The amplified uncanny's snapshot schedule and video: the change keeps going to the end."""

from __future__ import annotations

import itertools

import imageio_ffmpeg
import numpy as np
import pytest

from generator.jobs import JobSpec
from generator.run import execute_run
from generator.stylegan import uncanny
from generator.stylegan.checkpoints import load
from generator.stylegan.uncanny import along_path, amplify, even_steps, n_snapshots, path_schedule


def _shares(path: np.ndarray, idx: list[int]) -> np.ndarray:
    return np.diff(path[idx])


@pytest.mark.parametrize("steps", [
    0.9 ** np.arange(200),                      # exponential decay, like the drift of the faces
    1.0 / (1 + np.arange(200)) ** 1.5,          # a power law
    np.r_[[4.6, 2.9, 4.3, 1.9], np.full(196, 0.08)],  # a fast start, then a slow crawl
    np.abs(np.sin(np.arange(200))) * 0.01 + 0.1,  # nearly steady, with jitter
    0.99 ** np.arange(1000),                    # a slow decay recorded finely
    np.r_[np.full(100, 0.9), np.full(900, 0.02)],  # a sudden slowdown
])
def test_path_schedule_gives_equal_shares_where_even_steps_collapse(steps: np.ndarray) -> None:
    path = np.r_[0.0, np.cumsum(steps)]
    n = 9
    idx = path_schedule(path, n)
    assert idx[0] == 0 and idx[-1] == len(path) - 1 and len(idx) == n
    assert all(b > a for a, b in itertools.pairwise(idx))
    share = path[-1] / (n - 1)
    for k in range(1, n - 1):  # each inner point: nearest to an equal share of what is left, or the next step
        prev, i = idx[k - 1], idx[k]
        target = path[prev] + (path[-1] - path[prev]) / (n - k)
        assert i == prev + 1 or abs(path[i] - target) <= 0.5 * steps[i - 1:i + 1].max() + 1e-12
    got = _shares(path, idx)
    even = _shares(path, even_steps(len(steps), len(steps) // (n - 1)))
    if steps.max() <= share / 4:  # fine enough recording: every interval within half its share
        assert got.min() >= 0.5 * share and got.max() <= 1.5 * share
        assert got[1:].min() >= 0.5 * got[0]  # the goal: none after the first below half of the first
    assert got[1:].min() / got[0] >= even[1:].min() / even[0]  # never worse than the even schedule


def test_path_schedule_edge_cases() -> None:
    assert path_schedule(np.zeros(11), 3) == [0, 5, 10]  # nothing moved: evenly spaced
    jump = np.r_[np.zeros(50), np.full(50, 7.0)]  # all the change in one step
    idx = path_schedule(jump, 5)
    assert len(idx) == 5 and idx[0] == 0 and idx[-1] == 99 and all(b > a for a, b in itertools.pairwise(idx))
    assert path_schedule(np.arange(4.0), 10) == [0, 1, 2, 3]  # more points asked than recorded
    assert path_schedule(np.arange(4.0), 2) == [0, 3]
    assert path_schedule(np.array([0.0]), 3) == [0]
    for bad in (np.array([0.0, 2.0, 1.0]), np.array([0.0, np.nan]), np.array([])):
        with pytest.raises(ValueError, match=r"path_schedule: (the path must be finite and non-decreasing|an empty path)"):
            path_schedule(bad, 3)
    assert n_snapshots(200, 25) == 9 and n_snapshots(7, 3) == len(even_steps(7, 3)) == 4
    assert n_snapshots(5, 10) == 2 and n_snapshots(3, 1) == 4


def test_video_frames_move_at_constant_speed() -> None:
    levels = 200 * (1 - 0.8 ** np.arange(30))  # renders whose change decays fast
    images = [np.full((2, 4, 4, 3), v, np.float32) for v in levels]
    path = np.r_[0.0, np.cumsum(np.abs(np.diff(levels)))]
    frames = list(along_path(images, path, 41))
    assert len(frames) == 41
    assert np.array_equal(frames[0], images[0]) and np.allclose(frames[-1], images[-1])
    moves = np.array([np.abs(b - a).mean() for a, b in itertools.pairwise(frames)])
    assert np.allclose(moves, path[-1] / 40, rtol=1e-4)  # every frame moves as much as the next
    # the old cross-fade (equal time per snapshot every 3 renders) stands nearly still by the end
    snaps = images[::3]
    old = [a + (b - a) * t for a, b in itertools.pairwise(snaps) for t in np.arange(4) / 4]
    old_moves = np.array([np.abs(b - a).mean() for a, b in itertools.pairwise(old)])
    assert old_moves[-4:].max() < 0.05 * old_moves[:4].max()


def test_amplify_places_snapshots_at_equal_shares_of_the_measured_path(small_weights) -> None:
    m = load(small_weights)
    run = amplify(m.G, m.D, [1, 2], 12, 4, lr=0.01, batch=2, seed=0)
    path = run.trace.path()
    assert run.trace.steps == list(range(13))  # every step recorded
    steps = [s.step for s in run.snapshots]
    assert len(steps) == 4 and steps[0] == 0 and steps[-1] == 12 and steps == sorted(set(steps))
    biggest = float(np.diff(path).max())
    for k in range(1, 3):
        prev, st = steps[k - 1], steps[k]
        assert st == prev + 1 or abs(path[st] - path[prev] - (path[-1] - path[prev]) / (4 - k)) <= 0.5 * biggest + 1e-9
    assert [s.d_score for s in run.snapshots] == [run.trace.d_scores[s] for s in steps]
    short = amplify(m.G, m.D, [1, 2], 12, 4, lr=0.01, batch=2, seed=0, record_bytes=1)  # no room: a stride
    assert short.trace.steps[0] == 0 and short.trace.steps[-1] == 12 and len(short.trace.steps) < 13
    even = amplify(m.G, m.D, [1, 2], 12, 4, lr=0.01, batch=2, seed=0, schedule="even")
    assert [s.step for s in even.snapshots] == [0, 4, 8, 12]
    g, snaps = even  # the older (G, snapshots) form still unpacks
    assert g is even.G and snaps is even.snapshots


def _count_frames(path) -> int:
    reader = imageio_ffmpeg.read_frames(str(path))
    next(reader)
    return sum(1 for _ in reader)


def test_uncanny_job_video_and_a_repeated_request_is_not_recomputed(job_ctx, catalogue, small_weights,
                                                                      monkeypatch, caplog) -> None:
    params = {"model": str(small_weights), "steps": 8, "snapshot_every": 4, "faces": 2, "size": 32, "batch": 2,
              "lr": 0.01, "fps": 8, "seconds_per_snapshot": 0.5}
    (aid,) = execute_run(JobSpec(kind="stylegan.uncanny", params=params, seed=0), job_ctx)
    art = catalogue.get(aid)
    r = art.recipe
    assert r["schedule"] == "path" and len(r["snapshot_steps"]) == 3 and r["recorded_steps"] == 9
    video = next(m for m in art.media if m.role == "video")
    assert _count_frames(catalogue.media_path(video)) == 4 * 2 + 1  # hold 4 frames per snapshot interval
    kt = r["timeline"]["keyframe_times"]
    assert len(kt) == 3 and kt[0] == 0 and all(b > a for a, b in itertools.pairwise(kt)) and kt[-1] <= art.duration

    def boom(*a, **k):
        raise AssertionError("recomputed")

    monkeypatch.setattr(uncanny, "amplify", boom)
    with caplog.at_level("INFO", logger="gallery.job"):
        again = execute_run(JobSpec(kind="stylegan.uncanny", params=params, seed=0), job_ctx)
    assert again == [aid] and f"artwork {aid} already has this recipe" in caplog.text
    for changed in ({"steps": 9}, {"lr": 0.02}, {"schedule": "even"}, {"faces": 3}):
        with pytest.raises(AssertionError, match="recomputed"):
            execute_run(JobSpec(kind="stylegan.uncanny", params=dict(params, **changed), seed=0), job_ctx)
    with pytest.raises(AssertionError, match="recomputed"):
        execute_run(JobSpec(kind="stylegan.uncanny", params=params, seed=1), job_ctx)


def test_decaying_drifts_collapse_with_even_steps_but_not_with_the_path_schedule() -> None:
    for steps in (0.99 ** np.arange(1000), np.r_[np.full(100, 0.9), np.full(900, 0.02)]):
        path = np.r_[0.0, np.cumsum(steps)]
        even = _shares(path, even_steps(1000, 125))
        got = _shares(path, path_schedule(path, 9))
        assert even[1:].min() < 0.5 * even[0]  # what the issue saw: the change dies out
        assert got[1:].min() >= 0.5 * got[0]
