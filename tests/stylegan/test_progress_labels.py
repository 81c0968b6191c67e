"""StyleGAN jobs report their progress through ctx.progress, and the style-mixing grid is labelled."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from generator.jobs import JobSpec
from generator.run import execute_run


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float | None]] = []

    def __call__(self, stage: str, done: float, total: float | None = None, **figures: object) -> None:
        self.calls.append((stage, done, total))

    def stages(self) -> list[str]:
        out: list[str] = []
        for s, _, _ in self.calls:
            if not out or out[-1] != s:
                out.append(s)
        return out

    def last(self, stage: str) -> tuple[float, float | None]:
        done, total = [(d, t) for s, d, t in self.calls if s == stage][-1]
        return done, total


def test_walk_project_uncanny_report_every_stage_to_its_end(job_ctx, small_weights, tmp_path):
    rec = Recorder()
    job_ctx.progress = rec
    execute_run(JobSpec(kind="stylegan.walk", params={"model": str(small_weights), "seconds": 0.5, "fps": 6,
                                                  "seconds_per_keyframe": 0.25, "size": 32}, seed=1), job_ctx)
    assert rec.stages()[:2] == ["rendering frames", "saving to the catalogue"]
    assert rec.last("rendering frames") == (4, 4)  # 2 segments of round(0.25 s * 6 fps) = 2 frames
    frames = [d for s, d, _ in rec.calls if s == "rendering frames"]
    assert frames == sorted(frames) and frames[0] == 1  # counts up, frame by frame

    face = tmp_path / "face.png"
    cv2.imwrite(str(face), np.full((40, 40, 3), 128, np.uint8))
    rec.calls.clear()
    execute_run(JobSpec(kind="stylegan.project", params={"model": str(small_weights), "image": str(face), "steps": 6},
                    seed=0), job_ctx)
    assert rec.stages()[0] == "projecting (W, then W+)" and rec.last("projecting (W, then W+)") == (6, 6)

    rec.calls.clear()
    execute_run(JobSpec(kind="stylegan.uncanny", params={"model": str(small_weights), "steps": 4, "snapshot_every": 2,
                                                     "faces": 1, "size": 32, "fps": 4,
                                                     "seconds_per_snapshot": 0.5}, seed=0), job_ctx)
    tune = "fine-tuning against D (inverted)"
    assert rec.stages()[:2] == [tune, "rendering video"]
    assert [d for s, d, _ in rec.calls if s == tune] == [1, 2, 3, 4] and rec.last(tune)[1] == 4  # every step
    assert rec.last("rendering video") == (5, 5)  # 3 snapshots, 2 frames between each, and the last


def test_a_job_without_progress_runs_as_before(job_ctx, small_weights):
    assert job_ctx.progress is None
    (aid,) = execute_run(JobSpec(kind="stylegan.walk", params={"model": str(small_weights), "seconds": 0.25, "fps": 4,
                                                           "size": 32}, seed=2), job_ctx)
    assert aid > 0


@pytest.mark.parametrize("layers", ["coarse", "fine", [1, 3]])
def test_mix_grid_labels_headers_and_fills_the_corner(job_ctx, catalogue, small_weights, layers):
    def grid(labels: bool) -> tuple[np.ndarray, dict]:
        (aid,) = execute_run(JobSpec(kind="stylegan.mix", params={
            "model": str(small_weights), "row_seeds": [1, 2], "col_seeds": [3, 4, 5], "layers": layers,
            "size": 48, "labels": labels}, seed=0), job_ctx)
        art = catalogue.get(aid)
        m = next(m for m in art.media if m.role == "image")
        img = cv2.cvtColor(cv2.imread(str(catalogue.media_path(m))), cv2.COLOR_BGR2RGB)
        return img, art.recipe

    plain, r0 = grid(False)
    labelled, r1 = grid(True)
    s = 48
    assert r0["labels"] is False and r1["labels"] is True
    assert plain.shape == labelled.shape == (3 * s, 4 * s, 3)
    # the body (the mixed faces) is untouched
    assert np.array_equal(plain[s:, s:], labelled[s:, s:])
    # the corner was blank; now it holds a legend: dark, with light text
    assert (plain[:s, :s] == 255).all()
    corner = labelled[:s, :s]
    assert corner.mean() < 128 and (corner > 200).any()
    # every row and column header carries its label (a dark band with light text at its foot)
    headers = [labelled[:s, (j + 1) * s:(j + 2) * s] for j in range(3)] + \
              [labelled[(i + 1) * s:(i + 2) * s, :s] for i in range(2)]
    originals = [plain[:s, (j + 1) * s:(j + 2) * s] for j in range(3)] + \
                [plain[(i + 1) * s:(i + 2) * s, :s] for i in range(2)]
    for h, o in zip(headers, originals, strict=True):
        assert not np.array_equal(h, o)
        assert np.array_equal(h[: s // 2], o[: s // 2])  # the face above the band stays visible
    # the text differs from header to header ("style 3", "style 4", ...): its light pixels differ
    text = [(h[s // 2:] > 200).all(axis=2) for h in headers]
    assert all(t.any() for t in text)
    assert not np.array_equal(text[0], text[1]) and not np.array_equal(text[3], text[4])
