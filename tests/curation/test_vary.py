""""Variations around this" for every family's works: each queues the family's own job, which really runs
(tiny sizes, the shipped tiny weights) and links its result back; works with no latent are refused."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from gallery.errors import BadInput

SG = {"size": 16}
# kind -> (job kind, params of the parent's job): each as small as the job allows
PARENTS = {
    "walk-chain": ("stylegan.walk", dict(SG, mode="chain", keyframes=[1, 2], seconds=0.2, seconds_per_keyframe=0.1,
                                         fps=10)),
    "walk-endless": ("stylegan.walk", dict(SG, mode="endless", seconds=0.2, seconds_per_keyframe=0.1, fps=10)),
    "walk-loop-w": ("stylegan.walk", dict(SG, mode="loop", space="w", seconds=0.2, fps=10)),
    "mix": ("stylegan.mix", dict(SG, row_seeds=[1], col_seeds=[2])),
    "bend": ("stylegan.bend", dict(SG, bends=[{"layer": "b8.conv1", "op": "rotate"}])),
    "projection": ("stylegan.project", dict(SG, steps=2, wplus=True)),
    "uncanny": ("stylegan.uncanny", dict(SG, steps=2, faces=1, snapshot_every=1, fps=4, seconds_per_snapshot=0.25)),
    "progression": ("vqclip.progression", {"prompt": "a red circle", "iterations": 2, "size": 32, "cutouts": 2,
                                           "snapshots": [0]}),
    "melody-sample": ("musicvae.sample", {"bars": 2}),
    "melody-attribute": ("musicvae.attribute", {"bars": 2, "melody": "corpus:bach/bwv66.6", "amounts": [0.0, 1.0]}),
    "soundscape-between": ("lts.soundscape", {"duration": 0.5, "iterations": 0}),
}
MAIN_MEDIA = ("video", "image", "audio")


def _make(settings, catalogue, tmp_path, name: str, seed: int = 3) -> int:
    from generator.jobs import JobContext, JobSpec
    from generator.run import execute_run

    kind, params = PARENTS[name]
    params = dict(params)
    if kind == "stylegan.project":
        img = tmp_path / "target.png"
        cv2.imwrite(str(img), np.full((32, 32, 3), (60, 90, 140), np.uint8))
        params["image"] = str(img)
    ctx = JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "work", seed=seed)
    return execute_run(JobSpec(kind=kind, params=params, seed=seed), ctx)[0]


def _main_sha(art) -> str:
    for role in MAIN_MEDIA:
        for m in art.media:
            if m.role == role:
                return m.sha256
    raise AssertionError(f"artwork {art.id} has none of {MAIN_MEDIA}")


def _lineage(catalogue) -> list[tuple[int, int, str]]:
    from catalogue.models import Lineage

    with catalogue.read() as s:
        return sorted((x.child_id, x.parent_id, x.relation) for x in s.query(Lineage))


def _runs(catalogue) -> list:
    from catalogue.models import Run

    with catalogue.read() as s:
        return list(s.query(Run).order_by(Run.id))


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("name", list(PARENTS))
def test_a_variation_of_each_kind_runs_and_is_linked(settings, catalogue, tmp_path, name):
    from curation.generate import can_vary, queue_variations, run_now

    parent = _make(settings, catalogue, tmp_path, name)
    pa = catalogue.get(parent)
    assert can_vary(pa)
    before = len(_runs(catalogue))
    runs = queue_variations(catalogue, parent, count=2, sigma=0.3, seed=7, window=None)
    again = queue_variations(catalogue, parent, count=2, sigma=0.3, seed=7, window=None)
    rows = {r.id: r for r in _runs(catalogue)}
    assert len(rows) == before + 4
    jobs = [rows[r].spec["job"] for r in runs]
    assert [rows[r].spec["job"] for r in again] == jobs  # seeded: the same jobs again
    assert all(j["kind"] == PARENTS[name][0] and j["parents"] == [[parent, "variation"]] for j in jobs)
    steps = [j["vary"] for j in jobs]
    assert all(len(s) == 1 and s[0]["sigma"] == 0.3 for s in steps) and steps[0] != steps[1]
    made = run_now(settings, catalogue, runs[0])
    assert len(made) == 1
    child = catalogue.get(made[0])
    assert child.kind == pa.kind and child.recipe["vary"] == steps[0]
    assert child.recipe["generator"] == pa.recipe["generator"]
    assert _main_sha(child) != _main_sha(pa)  # moved in latent space: not the parent again
    assert _rows_for(catalogue, made) == [(c, parent, "variation") for c in sorted(made)]
    assert [r.state for r in _runs(catalogue) if r.id == runs[0]] == ["done"]


def _rows_for(catalogue, children: list[int]) -> list[tuple[int, int, str]]:
    return [row for row in _lineage(catalogue) if row[0] in children]


def test_variation_latents_move_by_sigma_and_keep_what_matters(settings, catalogue, tmp_path):
    """What each family records of the moved latent: a melody's z (same norm, closer for a smaller sigma),
    a projection's w and W+ (moved about w_avg), a progression's start codes (its parent's final ones)."""
    from curation.generate import queue_variations, run_now

    mel = _make(settings, catalogue, tmp_path, "melody-sample")
    z0 = np.asarray(catalogue.get(mel).recipe["z"])
    dist = {}
    for sigma in (0.05, 1.0):
        (r,) = queue_variations(catalogue, mel, count=1, sigma=sigma, seed=1, window=None)
        z = np.asarray(catalogue.get(run_now(settings, catalogue, r)[0]).recipe["z"])
        assert np.isclose(np.linalg.norm(z), np.linalg.norm(z0), rtol=1e-5)
        dist[sigma] = float(np.linalg.norm(z - z0))
    assert 0 < dist[0.05] < dist[1.0]

    proj = _make(settings, catalogue, tmp_path, "projection")
    pr = catalogue.get(proj).recipe
    (r,) = queue_variations(catalogue, proj, count=1, sigma=0.2, seed=1, window=None)
    cr = catalogue.get(run_now(settings, catalogue, r)[0]).recipe
    assert cr["rendered_from"] == "latent" and cr["target"] == pr["target"] and cr["wplus"]
    assert np.asarray(cr["ws"]).shape == np.asarray(pr["ws"]).shape and not np.allclose(cr["ws"], pr["ws"])
    assert not np.allclose(cr["w"], pr["w"])

    prog = _make(settings, catalogue, tmp_path, "progression")
    final = catalogue.get(prog).recipe["final_codes"]
    assert np.asarray(final).ndim == 2
    (r,) = queue_variations(catalogue, prog, count=1, sigma=0.2, seed=1, window=None)
    cr = catalogue.get(run_now(settings, catalogue, r)[0]).recipe
    assert cr["init_codes"] == final and cr["prompt"] == "a red circle" and cr["seed"] == 3


def test_older_progression_recipes_vary_from_their_seeded_start(settings, catalogue, tmp_path):
    """A progression recorded before final_codes still varies (prompt + seed: its noise start moved)."""
    from catalogue.models import Artwork
    from curation.generate import queue_variations, run_now

    prog = _make(settings, catalogue, tmp_path, "progression")
    with catalogue.write() as s:
        a = s.get(Artwork, prog)
        a.recipe = {k: v for k, v in a.recipe.items() if k != "final_codes"}
    (r,) = queue_variations(catalogue, prog, count=1, sigma=0.2, seed=2, window=None)
    job = next(x for x in _runs(catalogue) if x.id == r).spec["job"]
    assert "init_codes" not in job["params"] and job["params"]["prompt"] == "a red circle"
    (child,) = run_now(settings, catalogue, r)
    cr = catalogue.get(child).recipe
    assert "init_codes" not in cr and cr["vary"] == job["vary"] and cr["final_codes"]
    assert _main_sha(catalogue.get(child)) != _main_sha(catalogue.get(prog))  # the same run, started elsewhere
    assert _rows_for(catalogue, [child]) == [(child, prog, "variation")]


def test_a_variation_of_a_variation_carries_both_steps(settings, catalogue, tmp_path):
    from curation.generate import queue_variations, run_now

    parent = _make(settings, catalogue, tmp_path, "bend")
    (r1,) = queue_variations(catalogue, parent, count=1, sigma=0.3, seed=1, window=None)
    (v1,) = run_now(settings, catalogue, r1)
    (r2,) = queue_variations(catalogue, v1, count=1, sigma=0.3, seed=1, window=None)
    (v2,) = run_now(settings, catalogue, r2)
    s1, s2 = catalogue.get(v1).recipe["vary"], catalogue.get(v2).recipe["vary"]
    assert len(s1) == 1 and len(s2) == 2 and s2[0] == s1[0]
    assert len({_main_sha(catalogue.get(i)) for i in (parent, v1, v2)}) == 3
    assert _rows_for(catalogue, [v1, v2]) == [(v1, parent, "variation"), (v2, v1, "variation")]


def test_soundscape_paired_to_a_timeline_varies_its_anchors(settings, catalogue, tmp_path):
    from curation.generate import queue_variations, run_now
    from generator.jobs import JobContext, JobSpec
    from generator.run import execute_run

    walk = _make(settings, catalogue, tmp_path, "walk-chain")
    ctx = JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "work", seed=1)
    (snd,) = execute_run(JobSpec(kind="lts.soundscape", seed=1, params={"mode": "timeline", "visual_id": walk,
                                                                     "iterations": 0}), ctx)
    (r,) = queue_variations(catalogue, snd, count=1, sigma=0.5, seed=4, window=None)
    params = next(x for x in _runs(catalogue) if x.id == r).spec["job"]["params"]
    assert params["mode"] == "timeline" and params["visual_id"] == walk
    assert params["anchors"] == [a["name"] for a in catalogue.get(snd).recipe["anchors"]]
    (child,) = run_now(settings, catalogue, r)
    c = catalogue.get(child)
    assert c.kind == "soundscape" and c.recipe["anchors"] == catalogue.get(snd).recipe["anchors"]
    assert _main_sha(c) != _main_sha(catalogue.get(snd))
    assert _rows_for(catalogue, [child]) == [(child, snd, "variation")]


def test_between_queues_only_runs_that_run(settings, catalogue, tmp_path):
    """Between two StyleGAN works of one checkpoint: a chain walk that runs; two projections (whose seed is not
    their latent) or a projection and a melody: refused, nothing queued."""
    from curation.generate import queue_between, run_now

    bend, mix = _make(settings, catalogue, tmp_path, "bend", seed=3), _make(settings, catalogue, tmp_path, "mix", seed=4)
    r = queue_between(catalogue, bend, mix, window=None)
    job = _runs(catalogue)[0].spec["job"]
    assert job["kind"] == "stylegan.walk" and job["params"]["keyframes"] == [3, 4]
    (walk,) = run_now(settings, catalogue, r)
    assert catalogue.get(walk).kind == "walk"
    assert _rows_for(catalogue, [walk]) == [(walk, bend, "between"), (walk, mix, "between")]
    p1, p2 = _make(settings, catalogue, tmp_path, "projection"), _make(settings, catalogue, tmp_path, "projection", 5)
    mel = _make(settings, catalogue, tmp_path, "melody-sample")
    for x, y in ((p1, p2), (p1, mel), (mel, bend)):
        with pytest.raises(BadInput, match="no walk between artworks"):
            queue_between(catalogue, x, y)
    assert len(_runs(catalogue)) == 1


# ---- refused up front: nothing queued ----------------------------------------------------------------
def _fake(kind: str, recipe: dict) -> object:
    from tests.curation.helpers import draw, image_draft

    return image_draft(draw("circle", "red", "white"), kind, recipe=recipe, kind=kind)


HOSTILE = [
    ("image", {"generator": "procedural.images", "seed": 1}, "procedural images"),
    ("image", {"generator": "test"}, "holds no latent position"),
    ("image", {}, "holds no latent position"),
    ("projection", {"generator": "stylegan.project", "model": {"name": "tiny-faces64"}}, "no projected w"),
    ("walk", {"generator": "stylegan.walk", "mode": "chain"}, "names no StyleGAN model"),
    ("bend", {"generator": "stylegan.bend", "model": {"name": "tiny-faces64"}, "bends": []}, "holds no bends"),
    ("image", {"generator": "stylegan.train", "model": {"name": "x"}}, "no latent position this tool knows"),
    ("progression", {"generator": "vqclip.progression", "prompt": "x", "image_prompts": [{"name": "a.png"}]},
     "image prompts are files"),
    ("progression", {"generator": "vqclip.progression", "prompt": "x", "init_image": {"name": "a.png"}},
     "init image outside the catalogue"),
    ("melody", {"generator": "musicvae", "op": "sample"}, "holds no melody latent"),
    ("melody", {"generator": "musicvae", "op": "interpolate", "a": {"ref": "x.mid"}}, "holds no melody latent"),
    ("soundscape", {"generator": "lts.soundscape", "mode": "between", "a": {"name": "rain", "sha256": "ab"},
                    "b": {"name": "wind"}}, "were audio files"),
    ("soundscape", {"generator": "lts.soundscape", "mode": "timeline", "anchors": []}, "names no anchor sounds"),
    ("melody", {"generator": "musicvae", "op": "sample", "z": [0.1], "vary": [{"sigma": 9, "seed": 1}]},
     "vary steps are unreadable"),
    ("melody", {"generator": "musicvae", "op": "sample", "z": [0.1], "vary": "lots"}, "vary steps are unreadable"),
]


@pytest.mark.parametrize(("kind", "recipe", "message"), HOSTILE)
def test_works_without_a_latent_are_refused_and_nothing_is_queued(catalogue, kind, recipe, message):
    from curation.generate import can_vary, queue_variations

    a = catalogue.add(_fake(kind, recipe))
    assert not can_vary(catalogue.get(a))
    with pytest.raises(BadInput, match=message):
        queue_variations(catalogue, a, count=3)
    assert _runs(catalogue) == []


def test_the_jobs_refuse_bad_vary_steps_and_latents(settings, catalogue, tmp_path):
    from generator.jobs import JobContext, JobSpec
    from generator.run import execute_run
    from generator.variation import vary_steps

    for bad, why in [({"sigma": 0, "seed": 1}, "sigma must be"), ({"sigma": 3, "seed": 1}, "sigma must be"),
                     ({"sigma": float("nan"), "seed": 1}, "sigma must be"), ({"sigma": 0.1}, "needs a number"),
                     ({"sigma": 0.1, "seed": -1}, "non-negative"), ({"sigma": "x", "seed": 1}, "needs a number"),
                     ([{"sigma": 0.1, "seed": 1}] * 40, "at most")]:
        with pytest.raises(BadInput, match=why):
            vary_steps(bad)
    ctx = JobContext(settings=settings, catalogue=catalogue, workdir=tmp_path / "w", seed=0)
    for params, why in [({"w": [0.0] * 3}, "do not fit model"),
                        ({"w": ["a"]}, r"params\.w\.0: Input should be a valid number"),  # the model, before the job
                        ({"w": [float("inf")] * 64, "ws": None}, r"params\.w\[63\]: must be a finite number")]:
        with pytest.raises(BadInput, match=why):
            execute_run(JobSpec(kind="stylegan.project", params=dict(SG, **params), seed=0), ctx)
    with pytest.raises(BadInput, match="latent vectors of"):
        execute_run(JobSpec(kind="musicvae.sample", params={"bars": 2, "z": [[0.0, 1.0]]}, seed=0), ctx)
    with pytest.raises(BadInput, match="init_codes"):
        execute_run(JobSpec(kind="vqclip.progression", params={"prompt": "x", "iterations": 1, "size": 32,
                                                           "init_codes": [[0]]}, seed=0), ctx)
    from catalogue.models import Artwork

    with catalogue.read() as s:
        assert s.query(Artwork).count() == 0  # nothing half-made


def test_perturb_and_the_varied_endless_walk():
    from generator.latent import EndlessWalk
    from generator.variation import VariedEndlessWalk, perturb

    x = np.random.default_rng(0).standard_normal((3, 16))
    step = [{"sigma": 0.2, "seed": 5}]
    assert np.array_equal(perturb(x, []), x)
    a, b = perturb(x, step, key=(1,)), perturb(x, step, key=(1,))
    assert np.array_equal(a, b) and not np.allclose(a, x) and not np.allclose(a, perturb(x, step, key=(2,)))
    kept = perturb(x, step, keep_norm=True)
    assert np.allclose(np.linalg.norm(kept, axis=1), np.linalg.norm(x, axis=1))
    centre = np.full(16, 10.0)
    moved = perturb(centre + 0.01 * x, [{"sigma": 1.0, "seed": 1}], centre=centre)
    assert np.abs(moved - centre).max() < 0.2  # the scale is the spread about the centre, not the norm
    plain, varied = EndlessWalk(16, 3), VariedEndlessWalk(16, 3, steps=step)
    for i in (-1, 0, 5):
        assert not np.allclose(plain.keyframe(i), varied.keyframe(i))
        assert np.isclose(np.linalg.norm(varied.keyframe(i)), 4.0)
    # still one seamless walk: segment i ends where segment i+1 starts
    assert np.allclose(varied.position(2, 1.0), varied.position(3, 0.0))


# ---- the CLI, as the README shows it -----------------------------------------------------------------
def _cli(capsys, config_file, *args: str) -> tuple[int, str, str]:
    from gallery.cli import main

    code = 0
    try:
        main(["--config", str(config_file), *args])
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_vary_then_queue_run(capsys, config_file, settings, catalogue, tmp_path):
    parent = _make(settings, catalogue, tmp_path, "mix")
    melody = _make(settings, catalogue, tmp_path, "melody-sample")
    plain = catalogue.add(_fake("image", {"generator": "procedural.images", "seed": 1}))
    code, _, err = _cli(capsys, config_file, "curate", "vary", str(plain))
    assert code == 2 and "procedural images" in err
    assert _runs(catalogue) == []
    code, out, _ = _cli(capsys, config_file, "curate", "vary", str(parent), "--count", "2")
    assert code == 0 and "queued run(s) [1, 2]" in out
    code, out, _ = _cli(capsys, config_file, "curate", "vary", str(melody), "--count", "1", "--sigma", "0.5")
    assert code == 0 and "queued run(s) [3]" in out
    code, out, _ = _cli(capsys, config_file, "curate", "queue", "--json")
    listed = json.loads(out)
    assert [(q["run"], q["kind"], q["window"]) for q in listed] == [
        (1, "stylegan.mix", "tonight"), (2, "stylegan.mix", "tonight"), (3, "musicvae.sample", "tonight")]
    code, out, err = _cli(capsys, config_file, "curate", "queue", "--run")
    assert code == 0, err
    made = [int(x) for line in out.splitlines() for x in line.split("[")[1].rstrip("]").split(",")]
    assert len(made) == 3
    assert [(c, p) for c, p, _ in _rows_for(catalogue, made)] == [(made[0], parent), (made[1], parent),
                                                                  (made[2], melody)]
    assert [catalogue.get(i).kind for i in made] == ["mix", "mix", "melody"]
    code, out, _ = _cli(capsys, config_file, "curate", "queue")
    assert code == 0 and "nothing queued" in out
