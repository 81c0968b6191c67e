"""Importing real checkpoints safely: NVIDIA network pickles, rosinality .pt, and malicious files."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from gallery.errors import BadInput
from generator.stylegan.checkpoints import load
from generator.stylegan.importers import read_checkpoint, safe_load_pickle
from generator.stylegan.model import Generator
from generator.stylegan.presets import preset

from .conftest import SMALL, cli
from .nvidia_pickle import write_malicious_pickle, write_nvidia_pickle


@pytest.fixture(scope="module")
def ffhq256_pkl(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("pkl")
    marker = d / "module_src_ran"
    torch.set_num_threads(1)
    return write_nvidia_pickle(d / "ffhq-res256-mirror-paper256-noaug.pkl", preset("ffhq256-paper256"), marker), marker


def test_ffhq256_structure_loads_strictly_without_running_module_src(ffhq256_pkl):
    path, marker = ffhq256_pkl
    cfg, G, D, meta = read_checkpoint(path)
    assert not marker.exists()  # the embedded source code was never executed
    assert (cfg.resolution, cfg.channel_base, cfg.channel_max, cfg.mapping_layers, cfg.conv_clamp) == \
        (256, 16384, 512, 8, 256.0)
    assert D is not None and meta["source_format"] == "nvidia-pkl"
    assert meta["training_set_kwargs"]["path"] == "ffhq256.zip"
    # The tensors are the file's: compare with an independent plain read of G_ema's w_avg (set to noise).
    raw = safe_load_pickle(path)["G_ema"]
    mapping = raw.state["_modules"]["mapping"]
    assert torch.equal(G.mapping.w_avg, mapping.state["_buffers"]["w_avg"])
    with torch.no_grad():
        img = G(torch.randn(1, 512), truncation_psi=0.5)
    assert img.shape == (1, 3, 256, 256) and torch.isfinite(img).all()


def test_import_cli_registers_model(ffhq256_pkl, config_file, catalogue):
    path, marker = ffhq256_pkl
    assert cli("-c", str(config_file), "import", "stylegan", str(path), "--name", "ffhq256") == 0
    from sqlalchemy import select

    from catalogue.models import Model

    with catalogue.read() as s:
        m = s.scalars(select(Model).where(Model.name == "ffhq256")).one()
        assert m.family == "stylegan" and m.preset == "ffhq256-paper256" and m.config["resolution"] == 256
        stored = Path(m.path)
    loaded = load(stored)
    assert loaded.cfg.resolution == 256 and loaded.D is not None
    assert not marker.exists()


@pytest.mark.parametrize("hidden", [True, False])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, config_file, hidden, capsys):
    marker = tmp_path / "pwned"
    bad = write_malicious_pickle(tmp_path / "evil.pkl", marker, hidden=hidden)
    with pytest.raises(BadInput, match=r"posix.system|os.system|nt.system"):
        read_checkpoint(bad)
    assert cli("-c", str(config_file), "import", "stylegan", str(bad)) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists()
    # Sanity check of the test itself: an ordinary pickle.load would have run the command.
    with open(bad, "rb") as f:
        pickle.load(f)
    assert marker.exists()


def test_malicious_rosinality_pt_is_refused(tmp_path):
    from .nvidia_pickle import _System

    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pt"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(2)}, "x": _System(f"touch {marker}")}, bad)
    with pytest.raises(BadInput, match="refused"):
        read_checkpoint(bad)
    assert not marker.exists()


def test_garbage_and_truncated_files_exit_2(tmp_path, config_file, ffhq256_pkl):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a checkpoint at all")
    assert cli("-c", str(config_file), "import", "stylegan", str(junk)) == 2
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(ffhq256_pkl[0].read_bytes()[:100_000])
    with pytest.raises(BadInput, match="not a readable checkpoint"):
        read_checkpoint(cut)
    assert cli("-c", str(config_file), "import", "stylegan", str(tmp_path / "missing.pkl")) == 2


def _to_rosinality(G: Generator) -> dict[str, torch.Tensor]:
    """Our (NVIDIA-named) generator state in rosinality/stylegan2-pytorch's layout."""
    sd = G.state_dict()
    out = {}
    for i in range(G.cfg.mapping_layers):
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"]
    out["input.input"] = sd["synthesis.b4.const"][None]

    def conv(src: str, dst: str, noise: int) -> None:
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = sd[f"{src}.noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = sd[f"{src}.bias"]
        out[f"noises.noise_{noise}"] = sd[f"{src}.noise_const"][None, None]

    def rgb(src: str, dst: str) -> None:
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(1, -1, 1, 1)

    conv("synthesis.b4.conv1", "conv1", 0)
    rgb("synthesis.b4.torgb", "to_rgb1")
    for k, res in enumerate(G.synthesis.block_resolutions[1:]):
        conv(f"synthesis.b{res}.conv0", f"convs.{2 * k}", 2 * k + 1)
        conv(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", 2 * k + 2)
        rgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")
    return out


def test_rosinality_pt_round_trip(tmp_path):
    torch.manual_seed(3)
    G = Generator(SMALL).eval()
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        for m in G.modules():
            if hasattr(m, "noise_strength"):
                m.noise_strength.fill_(0.1)
    path = tmp_path / "550000.pt"
    torch.save({"g_ema": _to_rosinality(G), "latent_avg": G.mapping.w_avg.clone()}, path)
    cfg, G2, D, meta = read_checkpoint(path)
    assert D is None and meta["source_format"] == "rosinality-pt" and cfg.channel_base == SMALL.channel_base
    z = torch.randn(2, SMALL.z_dim)
    with torch.no_grad():
        assert torch.allclose(G(z, truncation_psi=0.7), G2(z, truncation_psi=0.7), atol=1e-6)


def test_stylegan3_and_conditional_generators_are_refused_clearly():
    from generator.stylegan.importers import config_from_state

    base = {"mapping.fc0.weight": torch.zeros(8, 8), "mapping.w_avg": torch.zeros(8)}
    with pytest.raises(BadInput, match="StyleGAN3"):
        config_from_state({**base, "synthesis.input.affine.weight": torch.zeros(4, 8),
                           "synthesis.L0_36_512.weight": torch.zeros(1)})
    with pytest.raises(BadInput, match="conditional"):
        config_from_state({**base, "mapping.embed.weight": torch.zeros(8, 10)})
