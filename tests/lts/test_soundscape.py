"""Trajectories, rendering, the soundscape job (between and paired to a visual timeline) and the CLI."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import soundfile as sf

from catalogue import ArtworkDraft, MediaDraft
from gallery.errors import BadInput
from generator.jobs import JobContext, JobSpec
from generator.lts import synth
from generator.lts.checkpoints import load
from generator.run import execute_run


def test_parse_curve_and_values():
    c = synth.parse_curve("0:0, 0.5:1.5, 1:-0.25")
    assert c.tolist() == [[0, 0], [0.5, 1.5], [1, -0.25]]
    v = synth.curve_values(c, 100)
    assert v.max() > 1.4 and v.min() < -0.2  # extrapolation past 0..1 is kept
    for bad, msg in (("0:0,0:1", "strictly increase"), ("0:0,1.5:1", "0..1"), ("a:b", "t:w"),
                     ([[0, float("nan")]], "finite"), ([[0, 0], [1, 20]], "8"), ([1, 2, 3], "pairs")):
        with pytest.raises(BadInput, match=msg):
            synth.parse_curve(bad)


def test_between_extrapolates_beyond_the_sounds():
    za, zb = np.zeros((3, 4)), np.ones((5, 4))
    z = synth.between_trajectory(za, zb, np.array([0.0, 1.0, 1.5, -0.5]))
    assert np.allclose(z[:, 0], [0, 1, 1.5, -0.5])
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    zs = synth.between_trajectory(a, b, np.array([0.0, 1.0, 0.5, 0.5]), "slerp")
    assert np.allclose(zs[0], a[0]) and np.allclose(zs[1], b[1])
    mid = zs[2] / np.linalg.norm(zs[2])
    assert np.allclose(mid, (a[2] / np.linalg.norm(a[2]) + b[2] / np.linalg.norm(b[2])) /
                       np.linalg.norm(a[2] / np.linalg.norm(a[2]) + b[2] / np.linalg.norm(b[2])))
    with pytest.raises(BadInput, match="lerp or slerp"):
        synth.between_trajectory(za, zb, np.zeros(2), "cubic")


def test_timeline_trajectory_reaches_anchors_at_keyframes():
    rng = np.random.default_rng(0)
    anchors = [rng.standard_normal((1, 8)) for _ in range(3)]
    dur, n = 6.0, 600
    kt = [0.0, 2.0, 4.0]
    z = synth.timeline_trajectory(anchors, kt, dur, n, loop=True)
    t = (np.arange(n) + 0.5) * dur / n
    for a, k in zip(anchors, kt, strict=True):
        i = int(np.argmin(np.abs(t - k)))
        assert np.allclose(z[i], a[0], atol=0.05)
    # a loop ends where it begins: the wrap segment leads from the last anchor back to the first
    assert np.linalg.norm(z[-1] - z[0]) < 0.1 * np.linalg.norm(anchors[0])
    z_open = synth.timeline_trajectory(anchors, kt, dur, n, loop=False)
    assert np.allclose(z_open[-1], anchors[2][0])  # holds the last anchor after its keyframe
    with pytest.raises(BadInput):
        synth.timeline_trajectory(anchors, [0.0, 3.0, 2.0], dur, n, loop=False)


def test_render_loop_joins_without_click(small_ckpt):
    loaded = load(small_ckpt)
    names = loaded.anchors["names"]
    a = synth.source_latents(loaded, names[0])
    b = synth.source_latents(loaded, names[1])
    n_frames = 500
    w = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(n_frames) + 0.5) / n_frames)  # 0 -> 1 -> 0
    z = synth.between_trajectory(a.latents, b.latents, w)
    n_samples = round(n_frames * 128 * 1.0003)  # not a whole number of hops: resampled, still periodic
    y, S = synth.render(loaded, z, n_samples, loop=True, n_iter=2)
    assert len(y) == n_samples and S.shape == (192, n_frames)
    assert np.abs(y).max() == pytest.approx(10 ** (-1 / 20), rel=1e-3)
    assert synth.loop_seam(y) < 3.0  # the jump across the loop point is like any neighbouring step
    y2, _ = synth.render(loaded, z, n_samples, loop=True, n_iter=2)
    assert np.array_equal(y, y2)  # CPU re-runs are bit-for-bit
    # the same trajectory as a one-shot fades in and out
    y3, _ = synth.render(loaded, z, n_samples, loop=False, n_iter=2)
    assert abs(y3[0]) < 1e-3 and abs(y3[-1]) < 1e-3


def test_source_from_file_and_bad_sources(small_ckpt, tmp_path):
    loaded = load(small_ckpt)
    wav = next(small_ckpt.parent.glob("*.wav"))
    src = synth.source_latents(loaded, str(wav))
    assert src.latents.shape[1] == 32 and src.sha256 and src.name == wav.stem
    with pytest.raises(BadInput, match="neither an audio file nor an anchor"):
        synth.source_latents(loaded, "no-such-sound")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"nope")
    with pytest.raises(BadInput, match=re.escape("broken.wav")):
        synth.source_latents(loaded, str(broken))


def _ctx(settings, catalogue, tmp_path, seed=0):
    return JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path, seed=seed)


def _visual(catalogue, duration=4.0, kt=(0.0, 2.0, 4.0), loop=True, kind="walk") -> int:
    from gallery.imaging import png_bytes
    from generator.procedural import draw

    png = png_bytes(draw(1, 64))
    recipe = {"generator": "test", "loop": loop}
    if duration is not None:
        recipe["timeline"] = {"duration": duration, "fps": 12, "keyframe_times": list(kt)}
    return catalogue.add(ArtworkDraft(kind=kind, recipe=recipe, duration=duration,
                                      media=[MediaDraft(role="poster", mime="image/png", data=png)]))


def test_job_between(settings, catalogue, tmp_path, small_ckpt):
    names = load(small_ckpt).anchors["names"]
    spec = JobSpec(kind="lts.soundscape", seed=2, params={
        "checkpoint": str(small_ckpt), "a": names[0], "b": names[-1], "duration": 2.0,
        "curve": [[0, -0.2], [0.5, 0.5], [1, 1.3]], "iterations": 2})
    (aid,) = execute_run(spec, _ctx(settings, catalogue, tmp_path))
    art = catalogue.get(aid)
    assert art.kind == "soundscape" and art.duration == 2.0
    assert {m.role for m in art.media} == {"audio", "spectrogram", "thumbnail"}
    audio, sr = sf.read(io.BytesIO(catalogue.media_path(art.first_media("audio")).read_bytes()))
    assert sr == 44100 and len(audio) == 88200
    info = sf.info(str(catalogue.media_path(art.first_media("audio"))))
    assert info.subtype == "PCM_16"
    r = art.recipe
    assert r["curve"][2] == [1, 1.3] and r["a"]["name"] == names[0] and len(r["checkpoint_sha256"]) == 64
    # re-running the recipe gives the same artwork (idempotent add of identical media)
    assert execute_run(spec, _ctx(settings, catalogue, tmp_path)) == [aid]


def test_job_paired_to_visual_timeline(settings, catalogue, tmp_path, small_ckpt):
    from sqlalchemy import select

    from catalogue.models import Pairing

    vid = _visual(catalogue, duration=3.0, kt=(0.0, 1.0, 2.0), loop=True)
    (sid,) = execute_run(JobSpec(kind="lts.soundscape", seed=1, params={
        "mode": "timeline", "visual_id": vid, "checkpoint": str(small_ckpt), "iterations": 2}),
        _ctx(settings, catalogue, tmp_path))
    art = catalogue.get(sid)
    assert art.duration == 3.0 and art.recipe["loop"] is True
    assert art.recipe["timeline"]["keyframe_times"] == [0.0, 1.0, 2.0] and len(art.recipe["anchors"]) == 3
    with catalogue.read() as s:
        pairs = list(s.scalars(select(Pairing).where(Pairing.sound_id == sid)))
    assert len(pairs) == 1 and pairs[0].visual_id == vid and pairs[0].timeline["duration"] == 3.0
    audio, _ = sf.read(str(catalogue.media_path(art.first_media("audio"))))
    assert len(audio) == 3 * 44100
    assert synth.loop_seam(audio) < 3.0
    # a loop whose keyframes include the closing one at the very end comes back to its first anchor
    vid2 = _visual(catalogue, duration=2.0, kt=(0.0, 1.0, 2.0), loop=True)
    (sid2,) = execute_run(JobSpec(kind="lts.soundscape", seed=1, params={
        "mode": "timeline", "visual_id": vid2, "checkpoint": str(small_ckpt), "iterations": 1}),
        _ctx(settings, catalogue, tmp_path))
    anchors = catalogue.get(sid2).recipe["anchors"]
    assert anchors[0] == anchors[-1] and anchors[0] != anchors[1]
    # a keyframe a hair past the end (frame-time rounding) is clamped; one well past it is refused
    vid3 = _visual(catalogue, duration=2.0, kt=(0.0, 2.0 + 1e-9), loop=False)
    (sid3,) = execute_run(JobSpec(kind="lts.soundscape", params={
        "mode": "timeline", "visual_id": vid3, "checkpoint": str(small_ckpt), "iterations": 0}),
        _ctx(settings, catalogue, tmp_path))
    assert catalogue.get(sid3).recipe["timeline"]["keyframe_times"] == [0.0, 2.0]
    vid4 = _visual(catalogue, duration=2.0, kt=(0.0, 3.0), loop=False)
    with pytest.raises(BadInput, match="outside"):
        execute_run(JobSpec(kind="lts.soundscape", params={"mode": "timeline", "visual_id": vid4,
                                                       "checkpoint": str(small_ckpt)}),
                    _ctx(settings, catalogue, tmp_path))


def test_job_bad_requests(settings, catalogue, tmp_path, small_ckpt):
    ctx = _ctx(settings, catalogue, tmp_path)
    base = {"checkpoint": str(small_ckpt)}
    still = _visual(catalogue, duration=None, kind="image")
    cases = [({"mode": "timeline"}, "visual_id"), ({"mode": "timeline", "visual_id": 999}, "not in the catalogue"),
             ({"mode": "timeline", "visual_id": still}, "no timeline"), ({"mode": "sideways"}, "mode"),
             ({"duration": -1}, "duration"), ({"iterations": 9999}, "iterations"),
             ({"checkpoint": "/nope/x.pt"}, "does not exist")]
    for params, msg in cases:
        with pytest.raises(BadInput, match=msg):
            execute_run(JobSpec(kind="lts.soundscape", params={**base, **params}), ctx)
    # a still gets a soundscape when the caller gives the timeline
    (sid,) = execute_run(JobSpec(kind="lts.soundscape", params={
        **base, "mode": "timeline", "visual_id": still, "iterations": 1,
        "timeline": {"duration": 1.5, "keyframe_times": [0.0, 0.75]}}), ctx)
    assert catalogue.get(sid).duration == 1.5


def test_cli_generate_and_train(config_file, tmp_path, small_ckpt, capsys):
    from gallery.cli import main

    def run(*args: str) -> int:
        with pytest.raises(SystemExit) as e:
            main(["--config", str(config_file), *args])
        return e.value.code

    out_wav = tmp_path / "out.wav"
    assert run("generate", "soundscape", "--checkpoint", str(small_ckpt), "--duration", "1.5",
               "--iterations", "1", "--curve", "0:0,1:1.2", "--save-wav", str(out_wav), "--json") == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["artworks"]
    assert sf.info(str(out_wav)).duration == pytest.approx(1.5, abs=1e-3)
    assert run("generate", "soundscape", "--checkpoint", str(small_ckpt), "--curve", "1:0,0:1") == 2
    assert "strictly increase" in capsys.readouterr().err
    assert run("train", "lts", "--audio", str(tmp_path / "missing")) == 2
    # train on a folder with one broken file: it is named, the rest trains
    folder = tmp_path / "sounds"
    from .conftest import write_textures

    write_textures(folder, n=3, seconds=0.5)
    (folder / "broken.ogg").write_bytes(b"not audio")
    assert run("train", "lts", "--audio", str(folder), "--steps", "3", "--threads", "1",
               "--out", str(tmp_path / "mine.pt"), "--json") == 0
    cap = capsys.readouterr()
    assert "broken.ogg" in cap.err
    res = json.loads(cap.out.strip().splitlines()[-1])
    assert len(res["files"]) == 3 and res["skipped"]
    assert load(tmp_path / "mine.pt").preset.name == "tiny"
    assert run("lts", "anchors", "--checkpoint", str(tmp_path / "mine.pt"), "--json") == 0
    assert json.loads(capsys.readouterr().out)["anchors"]


def test_demo_step_pairs_with_the_walk(settings, catalogue, tmp_path):
    """Uses the shipped tiny weights, as `gallery demo` does on a fresh machine."""
    from gallery.demo import DemoContext
    from generator.lts.demo import soundscape_step

    still = _visual(catalogue, duration=None, kind="image")
    walk = _visual(catalogue, duration=2.5, kt=(0.0, 1.25), loop=False, kind="walk")
    dc = DemoContext(settings=settings, catalogue=catalogue, out_dir=tmp_path, quick=True,
                     results={"demo_step": {"walks": [walk]}})
    res = soundscape_step(dc)
    assert res["paired_with"] == walk and res["seconds"] == 2.5
    art = catalogue.get(res["soundscape"])
    assert art.recipe["timeline"]["keyframe_times"] == [0.0, 1.25]
    assert sf.info(res["wav"]).duration == pytest.approx(2.5, abs=1e-3)
    # without a walk anywhere, the newest visual (a still) gets one with its own timeline
    dc2 = DemoContext(settings=settings, catalogue=catalogue, out_dir=tmp_path, quick=True)
    catalogue.set_status(walk, "hidden", "test")
    assert soundscape_step(dc2)["paired_with"] == still
