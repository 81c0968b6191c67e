"""Generation jobs end to end on a small random model: artworks, media, recipes, re-renders."""

from __future__ import annotations

import json

import imageio_ffmpeg
import numpy as np
import pytest

from gallery.errors import BadInput
from generator.job_params import StyleGANWalk
from generator.jobs import JobSpec
from generator.run import execute_run
from generator.stylegan.checkpoints import load
from generator.stylegan.jobs import walk_plan

from .conftest import cli


def _media(cat, art, role):
    return [m for m in art.media if m.role == role]


def _probe(path):
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    n = sum(1 for _ in reader)
    return meta, n


def test_endless_walk_video_and_recipe(job_ctx, catalogue, small_weights):
    params = {"model": str(small_weights), "mode": "endless", "seconds": 1.0, "seconds_per_keyframe": 0.5,
              "fps": 12, "size": 64}
    (aid,) = execute_run(JobSpec(kind="stylegan.walk", params=params, seed=5), job_ctx)
    art = catalogue.get(aid)
    assert art.kind == "walk" and art.duration == pytest.approx(1.0)
    tl = art.recipe["timeline"]
    assert tl == {"duration": 1.0, "fps": 12, "keyframe_times": [0.0, 0.5]}
    assert art.recipe["next_segment"] == 2 and art.model_id is not None
    (video,) = _media(catalogue, art, "video")
    meta, n = _probe(catalogue.media_path(video))
    assert n == 12 and "h264" in meta["codec"] and meta["size"] == (64, 64)
    assert {m.role for m in art.media} == {"video", "poster", "thumbnail"}
    # Re-running the recipe gives the same pixels (bit-for-bit on CPU).
    (again,) = execute_run(JobSpec(kind="stylegan.walk", params=params, seed=5), job_ctx)
    assert _media(catalogue, catalogue.get(again), "poster")[0].sha256 == _media(catalogue, art, "poster")[0].sha256


def test_endless_segments_chain(small_weights):
    m = load(small_weights)
    base = {"mode": "endless", "seconds": 2.0, "seconds_per_keyframe": 1.0}
    one = walk_plan(StyleGANWalk(**base), m, fps=10, psi=0.7, seed=9)
    two = walk_plan(StyleGANWalk(**dict(base, seconds=1.0, start_segment=1)), m, fps=10, psi=0.7, seed=9)
    ts = np.arange(10) / 10
    assert np.allclose(one["segments"][1](ts), two["segments"][0](ts))
    assert np.allclose(one["segments"][0](np.array([1.0])), one["segments"][1](np.array([0.0])))


@pytest.mark.parametrize(("mode", "space"), [("chain", "w"), ("loop", "z"), ("loop", "w")])
def test_other_walks(job_ctx, catalogue, small_weights, mode, space):
    params = {"model": str(small_weights), "mode": mode, "space": space, "seconds": 0.5, "fps": 8,
              "seconds_per_keyframe": 0.25, "size": 32, "constant_speed": mode == "chain"}
    (aid,) = execute_run(JobSpec(kind="stylegan.walk", params=params, seed=1), job_ctx)
    art = catalogue.get(aid)
    n = _probe(catalogue.media_path(_media(catalogue, art, "video")[0]))[1]
    assert n == (5 if mode == "chain" else 4)  # an open chain ends on its last keyframe
    if mode == "loop":
        plan = walk_plan(StyleGANWalk(**params), load(small_weights), 8, 0.7, seed=1)
        seg = plan["segments"][0]
        assert np.allclose(seg(np.array([0.0])), seg(np.array([1.0])))  # seamless


def test_mix_grid(job_ctx, catalogue, small_weights):
    (aid,) = execute_run(JobSpec(kind="stylegan.mix", params={"model": str(small_weights), "row_seeds": [1, 2],
                                                          "col_seeds": [3, 4, 5], "layers": "middle",
                                                          "size": 32}, seed=0), job_ctx)
    art = catalogue.get(aid)
    img = _media(catalogue, art, "image")[0]
    assert (img.width, img.height) == (4 * 32, 3 * 32)
    assert art.recipe["layers"] == [4, 5, 6, 7]
    with pytest.raises(BadInput, match="layers"):
        execute_run(JobSpec(kind="stylegan.mix", params={"model": str(small_weights), "layers": "ears"}, seed=0),
                    job_ctx)


def test_bend_ops_change_the_picture_deterministically(job_ctx, small_weights):
    from generator.stylegan.bend import OPS, bent
    from generator.stylegan.render import render, z_to_ws

    m = load(small_weights)
    ws = z_to_ws(m.G, np.random.default_rng(0).standard_normal((1, m.G.z_dim)), 0.7)
    plain = render(m.G, ws)
    for op in OPS:
        spec = [{"layer": "b8.conv1", "op": op, "fraction": 1.0}]
        with bent(m.G, spec) as norm:
            a, b = render(m.G, ws), render(m.G, ws)
        assert np.array_equal(a, b), op
        assert not np.array_equal(a, plain), op
        assert norm[0]["channels"] == list(range(m.G.synthesis.b8.conv1.weight.shape[0]))
    assert np.array_equal(render(m.G, ws), plain)  # hooks removed afterwards
    with pytest.raises(BadInput, match="unknown layer"), bent(m.G, [{"layer": "b999.conv1", "op": "rotate"}]):
        pass
    with pytest.raises(BadInput, match="odd"), bent(m.G, [{"layer": "b8.conv1", "op": "erode", "amount": 2}]):
        pass


def test_bend_job_and_bent_walk(job_ctx, catalogue, small_weights):
    bends = [{"layer": "b16.conv0", "op": "rotate", "amount": 90, "fraction": 0.5, "seed": 2}]
    ids = execute_run(JobSpec(kind="stylegan.bend", params={"model": str(small_weights), "bends": bends,
                                                        "seeds": [1, 2], "size": 32}, seed=0), job_ctx)
    arts = [catalogue.get(i) for i in ids]
    assert [a.kind for a in arts] == ["bend", "bend"] and len(arts[0].recipe["bends"][0]["channels"]) == 8  # half of 16
    (wid,) = execute_run(JobSpec(kind="stylegan.walk", params={"model": str(small_weights), "bends": bends,
                                                           "seconds": 0.25, "fps": 8, "size": 32}, seed=0), job_ctx)
    assert catalogue.get(wid).recipe["bends"] == arts[0].recipe["bends"]


def test_uncanny_scores_fall(job_ctx, catalogue, small_weights):
    (aid,) = execute_run(JobSpec(kind="stylegan.uncanny", params={"model": str(small_weights), "steps": 6,
                                                              "snapshot_every": 3, "faces": 2, "size": 32,
                                                              "batch": 2, "lr": 0.01, "schedule": "even"},
                                     seed=0), job_ctx)
    art = catalogue.get(aid)
    scores = art.recipe["d_scores"]
    assert art.recipe["snapshot_steps"] == [0, 3, 6] and scores[-1] < scores[0]
    assert {"video", "poster", "thumbnail", "grid", "frame"} <= {m.role for m in art.media}
    assert len(_media(catalogue, art, "frame")) == 3


def test_project_recovers_a_generated_image(job_ctx, catalogue, small_weights, tmp_path):
    import cv2

    from generator.stylegan.render import render, z_to_ws

    m = load(small_weights)
    target = render(m.G, z_to_ws(m.G, np.random.default_rng(42).standard_normal((1, m.G.z_dim)), 1.0))[0]
    p = tmp_path / "target.png"
    cv2.imwrite(str(p), cv2.cvtColor(target, cv2.COLOR_RGB2BGR))
    (aid,) = execute_run(JobSpec(kind="stylegan.project", params={"model": str(small_weights), "image": str(p),
                                                              "steps": 60, "size": 32}, seed=0), job_ctx)
    art = catalogue.get(aid)
    r = art.recipe
    def mse(img):
        return np.square(img / 127.5 - target / 127.5).mean()

    found = cv2.cvtColor(cv2.imread(str(catalogue.media_path(_media(catalogue, art, "image")[0]))), cv2.COLOR_BGR2RGB)
    average_face = render(m.G, z_to_ws(m.G, np.zeros((1, m.G.z_dim)), 0.0))[0]
    assert r["loss_wplus"] <= r["loss_w"]
    assert mse(found) < 0.5 * mse(average_face)
    assert len(r["w"]) == m.G.w_dim and len(r["ws"]) == m.G.num_ws
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    with pytest.raises(BadInput, match="not a readable image"):
        execute_run(JobSpec(kind="stylegan.project", params={"model": str(small_weights), "image": str(bad)}, seed=0),
                    job_ctx)


def test_cli_generate_and_bad_input(config_file, small_weights, capsys):
    assert cli("-c", str(config_file), "generate", "walk", "--model", str(small_weights), "--seconds", "0.25",
               "--fps", "8", "--size", "32", "--json") == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["artworks"]
    assert cli("-c", str(config_file), "generate", "walk", "--model", "no-such-model") == 2
    assert "unknown StyleGAN model" in capsys.readouterr().err
    assert cli("-c", str(config_file), "generate", "bend", "--model", str(small_weights),
               "--bend", "b8.conv1:melt") == 2
    assert cli("-c", str(config_file), "generate", "walk", "--model", str(small_weights), "--mode", "spiral") == 2
