"""StyleGAN3 (T and R) against NVIDIA's reference: pickles and expected outputs made by the reference code
itself (scripts/fixtures/make_stylegan3_fixture.py), imported through the safe reader, then every job kind."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from gallery.errors import BadInput
from generator.jobs import JobSpec
from generator.run import execute_run
from generator.stylegan.checkpoints import import_checkpoint, load
from generator.stylegan.sg3_import import read_sg3
from generator.stylegan.sg3_model import SG3Config, SG3Generator, filtered_lrelu

from .conftest import cli

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "stylegan3"
TOL = 1e-4


def _expected(variant: str) -> dict[str, np.ndarray]:
    return dict(np.load(FIX / f"sg3{variant}-64-expected.npz", allow_pickle=False))


@pytest.mark.parametrize("variant", ["t", "r"])
def test_matches_the_reference(variant):
    cfg, G, D, meta = read_sg3(FIX / f"sg3{variant}-64.pkl")
    e = _expected(variant)
    assert meta["architecture"] == f"stylegan3-{variant}" and cfg.variant == variant
    assert (cfg.conv_kernel, cfg.use_radial_filters) == ((1, True) if variant == "r" else (3, False))
    mags = [float(getattr(G.synthesis, n).magnitude_ema) for n in G.synthesis.names]
    assert np.allclose(mags, e["magnitude_ema"]) and not np.allclose(mags, 1.0)  # the EMA is used, not 1
    with torch.no_grad():
        z = torch.from_numpy(e["z"])
        assert float((G.mapping(z) - torch.from_numpy(e["ws1"])).abs().max()) < TOL
        assert float((G.mapping(z, truncation_psi=0.7) - torch.from_numpy(e["ws7"])).abs().max()) < TOL
        diffs = {k: float((G.synthesis(torch.from_numpy(e[w])) - torch.from_numpy(e[k])).abs().max())
                 for k, w in (("img1", "ws1"), ("img7", "ws7"), ("imgp", "wplus"))}
        assert max(diffs.values()) < TOL, diffs
        assert float((D(torch.from_numpy(e["img1"])) - torch.from_numpy(e["d1"])).abs().max()) < TOL
        # the output really depends on w through the input's rotation / translation and the styles
        assert float((G.synthesis(torch.from_numpy(e["ws1"][:1])) - G.synthesis(torch.from_numpy(e["ws1"][1:2])))
                     .abs().max()) > 0.01


@pytest.mark.parametrize("variant", ["t", "r"])
def test_filters_designed_as_the_reference_stored_them(variant):
    cfg, G, _, _ = read_sg3(FIX / f"sg3{variant}-64.pkl")
    fresh = SG3Generator(cfg)
    radial = 0
    for n in G.synthesis.names:
        for f in ("up_filter", "down_filter"):
            a, b = getattr(getattr(G.synthesis, n), f), getattr(getattr(fresh.synthesis, n), f)
            assert (a is None) == (b is None)
            if a is not None:
                assert a.shape == b.shape and float((a - b).abs().max()) < 1e-6, (n, f)
                radial += a.ndim == 2
    assert (radial > 0) == (variant == "r")  # jinc filters only in R


def test_filtered_lrelu_steps():
    x = torch.randn(1, 2, 5, 5)
    b = torch.tensor([0.5, -0.5])
    # identity filters, no resampling: bias, leaky ReLU, gain, clamp
    y = filtered_lrelu(x, None, None, b, gain=2.0, slope=0.2, clamp=0.7)
    ref = (torch.nn.functional.leaky_relu(x + b.reshape(1, 2, 1, 1), 0.2) * 2).clamp(-0.7, 0.7)
    assert torch.equal(y, ref)
    # up 2 with the linear-interpolation filter [1/4, 1/2, 1/4] (times the gain up**2, split over the two
    # passes): the samples stay, the inserted points are the means of their neighbours; down 2 takes them back
    f = torch.tensor([0.25, 0.5, 0.25])
    up = filtered_lrelu(x, f, None, None, up=2, padding=(1, 1, 1, 1), gain=1.0, slope=1.0)
    assert up.shape == (1, 2, 10, 10)
    assert float((up[:, :, ::2, ::2] - x).abs().max()) < 1e-6
    assert float((up[:, :, ::2, 1:-1:2] - (x[..., :-1] + x[..., 1:]) / 2).abs().max()) < 1e-6
    down = filtered_lrelu(x, f, None, None, up=2, down=2, padding=(1, 1, 1, 1), gain=1.0, slope=1.0)
    assert float((down - x).abs().max()) < 1e-6


@pytest.mark.parametrize(("up", "pad"), [(2, (9, 8, 9, 8)), (4, (-6, -9, -6, -9)), (2, (14, 3, -2, 15)), (4, (30, 0, 1, 1))])
def test_polyphase_upsampling_equals_zero_insertion(up, pad):
    """The separable filter runs polyphase; the same filter as a 2-D kernel runs by zero insertion."""
    g = torch.Generator().manual_seed(up)
    x = torch.randn(2, 3, 16, 18, generator=g)
    f = torch.randn(6 * up, generator=g)
    a = filtered_lrelu(x, f, None, None, up=up, padding=pad, gain=1.0, slope=1.0)
    b = filtered_lrelu(x, torch.outer(f, f), None, None, up=up, padding=pad, gain=1.0, slope=1.0)
    assert a.shape == b.shape and float((a - b).abs().max()) < 1e-4 * float(b.abs().max())


def test_import_registers_and_loads_back(settings, catalogue):
    info = import_checkpoint(FIX / "sg3t-64.pkl", settings, catalogue, name="sg3-t")
    assert info["architecture"] == "stylegan3-t" and info["has_discriminator"] and info["resolution"] == 64
    m = load(Path(info["path"]))
    assert isinstance(m.cfg, SG3Config) and m.D is not None and m.G.num_ws == 16
    e = _expected("t")
    with torch.no_grad():
        img = m.G.synthesis(torch.from_numpy(e["ws7"]))
    assert float((img - torch.from_numpy(e["img7"])).abs().max()) < TOL
    info = import_checkpoint(FIX / "sg3t-64-noD.pkl", settings, catalogue, name="sg3-t-noD")
    assert not info["has_discriminator"] and "absent" in info["discriminator"]


def test_cli_import_says_what_it_found(config_file, capsys):
    assert cli("-c", str(config_file), "import", "stylegan", str(FIX / "sg3r-64.pkl"), "--name", "r64") == 0
    out = capsys.readouterr().out
    assert "stylegan3-r" in out and "discriminator: present" in out


def test_a_hostile_sg3_pickle_is_refused_without_running(tmp_path, settings, catalogue):
    class Boom:
        def __reduce__(self):
            return (print, ("ran",))

    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"G_ema": Boom()}))
    with pytest.raises(BadInput, match="refused"):
        import_checkpoint(p, settings, catalogue)


@pytest.fixture
def sg3_model(settings, catalogue) -> str:
    return import_checkpoint(FIX / "sg3t-64.pkl", settings, catalogue, name="sg3t")["path"]


def test_walks_and_mixing(job_ctx, catalogue, sg3_model):
    for mode, space in (("endless", "w"), ("loop", "w"), ("chain", "z")):
        (aid,) = execute_run(JobSpec(kind="stylegan.walk", params={"model": sg3_model, "mode": mode, "space": space,
                                                                   "seconds": 0.5, "fps": 6, "size": 32},
                                     seed=3), job_ctx)
        art = catalogue.get(aid)
        assert art.kind == "walk" and art.recipe["noise_mode"] == "none"
    m = load(Path(sg3_model))
    ranges = m.G.synthesis.style_ranges()
    assert ranges["coarse"][0] == 0 and ranges["fine"][1] == 16 and ranges["coarse"][1] < ranges["fine"][0]
    grids = {}
    for layers in ("coarse", "fine"):
        (aid,) = execute_run(JobSpec(kind="stylegan.mix", params={"model": sg3_model, "row_seeds": [1, 2],
                                                                  "col_seeds": [3], "layers": layers, "size": 32},
                             seed=0), job_ctx)
        art = catalogue.get(aid)
        assert art.recipe["layers"] == list(range(*ranges[layers]))
        grids[layers] = art.media[0].sha256
    assert grids["coarse"] != grids["fine"]


def test_bend_on_sg3_layers(job_ctx, catalogue, sg3_model):
    m = load(Path(sg3_model))
    names = m.G.synthesis.layer_names()
    assert names[0].startswith("L0_") and len(names) == 14
    shas = set()
    for bends in ([{"layer": names[3], "op": "rotate", "amount": 90}], [{"layer": names[3], "op": "ablate"}]):
        (aid,) = execute_run(JobSpec(kind="stylegan.bend", params={"model": sg3_model, "bends": bends, "size": 32},
                             seed=1), job_ctx)
        shas.add(catalogue.get(aid).media[0].sha256)
    assert len(shas) == 2
    with pytest.raises(BadInput, match="unknown layer"):
        execute_run(JobSpec(kind="stylegan.bend", params={"model": sg3_model, "bends": [{"layer": "b8.conv1",
                                                                                        "op": "rotate"}]}, seed=1),
                    job_ctx)


def test_projection_without_noise_inputs(job_ctx, catalogue, sg3_model, tmp_path):
    import cv2

    from generator.stylegan.render import render, z_to_ws

    m = load(Path(sg3_model))
    target = render(m.G, z_to_ws(m.G, np.random.default_rng(4).standard_normal((1, m.G.z_dim)), 1.0))[0]
    p = tmp_path / "t.png"
    cv2.imwrite(str(p), cv2.cvtColor(target, cv2.COLOR_RGB2BGR))
    (aid,) = execute_run(JobSpec(kind="stylegan.project", params={"model": sg3_model, "image": str(p), "steps": 24,
                                                              "size": 64}, seed=0), job_ctx)
    art = catalogue.get(aid)
    r = art.recipe
    assert r["noise_mode"] == "none" and len(r["ws"]) == 16 and len(r["w"]) == 32
    found = cv2.cvtColor(cv2.imread(str(catalogue.media_path(art.media[0]))), cv2.COLOR_BGR2RGB)
    average = render(m.G, z_to_ws(m.G, np.zeros((1, m.G.z_dim)), 0.0))[0]

    def mse(img):
        return np.square(img / 127.5 - target / 127.5).mean()

    assert mse(found) < 0.5 * mse(average)


def test_uncanny_uses_the_pickles_discriminator(job_ctx, catalogue, sg3_model, settings):
    (aid,) = execute_run(JobSpec(kind="stylegan.uncanny", params={"model": sg3_model, "steps": 2, "snapshot_every": 1,
                                                              "faces": 1, "size": 32, "batch": 2,
                                                              "schedule": "even"}, seed=0), job_ctx)
    art = catalogue.get(aid)
    assert art.recipe["snapshot_steps"] == [0, 1, 2] and len(art.recipe["d_scores"]) == 3
    from sqlalchemy import select

    from catalogue.models import Model

    with catalogue.read() as s:  # the drifted generator is a StyleGAN3 model of its own, loadable and walkable
        drifted = s.scalars(select(Model).where(Model.name == art.recipe["result_model"]["name"])).one()
    m = load(Path(drifted.path))
    assert isinstance(m.G, SG3Generator) and m.D is not None
    execute_run(JobSpec(kind="stylegan.walk", params={"model": drifted.path, "seconds": 0.2, "fps": 5, "size": 32},
                        seed=0), job_ctx)
    nod = import_checkpoint(FIX / "sg3t-64-noD.pkl", settings, catalogue, name="nod")["path"]
    with pytest.raises(BadInput, match=r"no discriminator.*StyleGAN3"):
        execute_run(JobSpec(kind="stylegan.uncanny", params={"model": nod, "steps": 2}, seed=0), job_ctx)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    _, G, _, _ = read_sg3(FIX / "sg3r-64.pkl")
    e = _expected("r")
    with torch.no_grad():
        img = G.cuda().synthesis(torch.from_numpy(e["wplus"]).cuda()).cpu()
    assert float((img - torch.from_numpy(e["imgp"])).abs().max()) < 1e-3
