"""StyleGAN's batch-1 fast path, chosen per machine: both variants compute the same frame, forcing
sets every synthesis layer, auto measures once per model size and caches the answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from generator import fastpath
from generator.stylegan.fastpaths import apply_batch1_choice
from generator.stylegan.model import Generator, SynthesisLayer

from .conftest import SMALL


@pytest.fixture
def cache(tmp_path: Path):
    path = fastpath.configure(tmp_path / "fastpath.json")
    yield path
    fastpath.configure(None)


@pytest.fixture
def G() -> Generator:
    torch.manual_seed(0)
    g = Generator(SMALL).eval().requires_grad_(False)
    for name, p in g.named_parameters():
        if name.endswith("noise_strength"):
            p.fill_(0.1)  # noise on, so the noise path is compared too
    return g


def _layers(G: Generator) -> list[SynthesisLayer]:
    return [m for m in G.modules() if isinstance(m, SynthesisLayer)]


def test_modulated_weights_give_the_shared_conv_frame(G: Generator, cache: Path) -> None:
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ws = G.mapping(z, truncation_psi=0.7)
        G.synthesis.fast_path = "on"
        a = G.synthesis(ws)
        assert not any(m.modulate_weights for m in _layers(G))
        G.synthesis.fast_path = "off"
        b = G.synthesis(ws)
        assert all(m.modulate_weights for m in _layers(G))
        batch = G.synthesis(torch.cat([ws, ws]))  # batch > 1 always takes the shared conv
    assert torch.allclose(a, b, atol=1e-5, rtol=1e-4) and not torch.equal(a, torch.zeros_like(a))
    assert torch.allclose(batch[0], a[0], atol=1e-5, rtol=1e-4)
    assert not cache.exists()  # forced: nothing measured


def test_auto_measures_once_and_the_cache_answers_next_time(G: Generator, cache: Path, monkeypatch) -> None:
    with torch.no_grad():
        G(torch.randn(1, G.z_dim))
    (key, rec), = json.loads(cache.read_text())["choices"].items()
    assert "stylegan.batch1" in key and f"stylegan{SMALL.resolution}-" in key
    assert rec["choice"] in ("on", "off") and set(rec["median_s"]) == {"on", "off"}
    assert all(m.modulate_weights == (rec["choice"] == "off") for m in _layers(G))
    fastpath.configure(None)
    fastpath.configure(cache)
    monkeypatch.setattr(fastpath, "measure", lambda *a, **k: pytest.fail("measured again"))
    torch.manual_seed(0)
    G2 = Generator(SMALL).eval().requires_grad_(False)
    assert apply_batch1_choice(G2.synthesis, "cpu") == rec["choice"]


def test_the_walk_setting_reaches_the_network(settings, small_weights: Path) -> None:
    from types import SimpleNamespace

    from generator.stylegan.common import load_model

    s = settings.model_copy(update={"stylegan": settings.stylegan.model_copy(
        update={"walk_fast_path": "off", "model": str(small_weights)})})
    ctx = SimpleNamespace(settings=s, catalogue=None, device=torch.device("cpu"))
    try:
        m = load_model(SimpleNamespace(model=None), ctx)
        assert m.G.synthesis.fast_path == "off"
        assert fastpath.cache_file() == s.path(fastpath.CACHE_NAME)
    finally:
        fastpath.configure(None)
