"""Progression videos of every iteration (or every Nth), streamed; story titles name every phase."""

from __future__ import annotations

import itertools
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from gallery.errors import BadInput
from generator.jobs import JobContext, JobSpec
from generator.registry import validate as validate_params
from generator.run import execute_run
from generator.vqgan_clip.jobs import VideoStream, build_params, frame_times, progression_title
from generator.vqgan_clip.loop import LoopParams, frame_iterations, run_loop
from generator.vqgan_clip.prompts import parse_story


def _frames(path: Path) -> list[np.ndarray]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]


@pytest.fixture(scope="module")
def models():
    from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load
    from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip_file

    return load(SHIPPED_VQGAN)[0], load_clip_file(SHIPPED_CLIP, device="cpu")


def test_frame_iterations() -> None:
    assert frame_iterations(10, 1) == list(range(11))
    assert frame_iterations(10, 3) == [0, 3, 6, 9, 10]  # the last iteration always ends the video
    assert frame_iterations(9, 3) == [0, 3, 6, 9]
    assert frame_iterations(5, 50) == [0, 5]
    assert frame_iterations(5, 0) == []
    assert frame_times([0, 5, 10], [0, 3, 6, 9, 10], 10) == [0.0, pytest.approx(0.1 + 0.2 / 3, abs=1e-6), 0.4]


def test_loop_streams_every_nth_image_and_keeps_none(models) -> None:
    vqgan, clip = models
    got: list[tuple[int, np.ndarray]] = []
    lp = LoopParams(phases=parse_story("a red circle"), iterations=10, snapshots=[0, 4, 10], seed=3, cutouts=4,
                    frame_every=4)
    r = run_loop(lp, vqgan, clip, on_frame=lambda it, rgb: got.append((it, rgb)))
    assert [it for it, _ in got] == [0, 4, 8, 10] and r.frames == []
    for it, rgb in got:
        if it in r.snapshots:
            assert rgb.tobytes() == r.snapshots[it].tobytes()
    assert got[1][1].tobytes() != got[2][1].tobytes()  # the frames differ: it moves
    assert run_loop(lp, vqgan, clip).frames == []  # without on_frame nothing is streamed or kept
    with pytest.raises(BadInput, match="frame_every"):
        run_loop(LoopParams(phases=parse_story("x"), iterations=2, frame_every=-1), vqgan, clip,
                 on_frame=lambda it, rgb: None)


@pytest.mark.parametrize(("iterations", "stride"), [(10, 1), (10, 3), (9, 3), (4, 10)])
def test_progression_video_has_iterations_over_stride_frames(settings, catalogue, tmp_path, iterations,
                                                               stride) -> None:
    ctx = JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "work", seed=0)
    story = "a large red circle ^ a blue square|red:-0.5 ^ green:-1|a yellow star"
    (aid,) = execute_run(JobSpec(kind="vqclip.progression", params={
        "prompt": story, "iterations": iterations, "cutouts": 2, "video_stride": stride,
        "snapshots": [0, iterations // 2, iterations]}, seed=1), ctx)
    art = catalogue.get(aid)
    want = iterations // stride + 1 + (1 if iterations % stride else 0)
    video = next(m for m in art.media if m.role == "video")
    frames = _frames(catalogue.media_path(video))
    assert len(frames) == want == video.meta["frames"] and art.recipe["video_stride"] == stride
    assert art.duration == pytest.approx(want / settings.vqclip.fps)
    kt = art.recipe["timeline"]["keyframe_times"]
    assert kt[0] == 0 and all(b > a for a, b in itertools.pairwise(kt)) and kt[-1] <= art.duration
    for name in ("a large red circle", "a blue square", "a yellow star"):
        assert f"“{name}”" in art.title
    assert "green" not in art.title and "“red”" not in art.title  # pushed-away texts name no phase
    assert [m.meta["iteration"] for m in art.media if m.role == "frame"] == sorted({0, iterations // 2, iterations})


def test_titles_name_every_phase() -> None:
    assert progression_title(parse_story("a red circle"), 30) == "“a red circle” (VQGAN+CLIP, 30 steps)"
    t = progression_title(parse_story("dawn ^ blue:-1|noon ^ dusk|night:0.5"), 90)
    assert t == "“dawn” to “noon” to “dusk” (VQGAN+CLIP, 90 steps)"
    many = "^".join(f"phase {i}" for i in range(64))
    t = progression_title(parse_story(many), 10)  # a title fits the catalogue's 300 characters
    assert len(t) <= 300 and t.endswith("to … (VQGAN+CLIP, 10 steps)")
    assert all(f"“phase {i}”" in t for i in range(10))


@pytest.mark.parametrize("bad", [0, -2, "x", 10 ** 6, 1.5j])
def test_bad_video_stride(settings, bad) -> None:
    with pytest.raises(BadInput, match="video_stride"):
        build_params(validate_params("vqclip.progression", {"prompt": "red", "video_stride": bad}), settings)


def test_video_stream_writes_as_it_goes_and_closes_on_errors(tmp_path) -> None:
    p = tmp_path / "v.mp4"
    with VideoStream(p, 10) as v:
        for k in range(7):
            v.add(np.full((32, 48, 3), k * 30, np.uint8))
        assert v.frames == 7 and v.size == (288, 192)  # 6 x: the longer side reaches 256
        assert v.close() == (288, 192)
    assert len(_frames(p)) == 7
    with pytest.raises(RuntimeError, match="stop"), VideoStream(tmp_path / "w.mp4", 10) as w:  # noqa: PT012 - an error inside the stream's block
        w.add(np.zeros((16, 16, 3), np.uint8))
        raise RuntimeError("stop")
    assert w._writer is None  # the encoder was shut down
    with pytest.raises(ValueError, match="no frames"):
        VideoStream(tmp_path / "x.mp4", 10).close()
