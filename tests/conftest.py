"""Shared fixtures: a throwaway data directory, settings pointing at it, and an open catalogue."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Headless defaults for every test: no sound card, no display; GL goes through EGL.
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/numba-cache")
os.environ.setdefault("OMP_NUM_THREADS", "2")
for k in [k for k in os.environ if k.startswith("GALLERY__") or k == "GALLERY_CONFIG"]:
    del os.environ[k]

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``cuda`` run where torch sees a GPU and are skipped (with the reason) elsewhere."""
    marked = [item for item in items if "cuda" in item.keywords]
    if not marked:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in marked:
        item.add_marker(skip)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir: Path):
    from gallery.config import load_settings

    return load_settings(None, environ={}, overrides={"data_dir": str(data_dir),
                                                      "catalogue": {"fsync": False, "gc_grace_seconds": 0}})


@pytest.fixture
def catalogue(settings):
    from catalogue import open_catalogue

    cat = open_catalogue(settings)
    yield cat
    cat.close()


@pytest.fixture
def config_file(tmp_path: Path, data_dir: Path) -> Path:
    """A minimal config.yaml pointing at the throwaway data directory."""
    p = tmp_path / "config.yaml"
    p.write_text(f"data_dir: {data_dir}\ncatalogue:\n  fsync: false\n  gc_grace_seconds: 0\n")
    return p
