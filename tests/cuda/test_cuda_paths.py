"""What runs on the CPU runs on CUDA from the same code (skipped without a GPU: tests/conftest.py).

Each test runs the same call on the CPU and on the GPU and compares: StyleGAN walks (batch 1, with
the batch-1 fast path measured on the GPU, and batch 8), a few VQGAN+CLIP steps (CLIP under bf16
autocast on CUDA), an LTS soundscape's frames and a MusicVAE sample. The show draws with OpenGL
(installation/render.py) and uploads frames as GL textures: no torch device is involved there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from generator import fastpath

pytestmark = pytest.mark.cuda
CUDA = torch.device("cuda")


@pytest.fixture
def cache(tmp_path: Path):
    path = fastpath.configure(tmp_path / "fastpath.json")
    yield path
    fastpath.configure(None)


def test_stylegan_walk_on_cuda_matches_cpu_at_batch_1_and_8(cache: Path) -> None:
    from generator.stylegan.checkpoints import SHIPPED, load
    from generator.stylegan.render import render, z_to_ws

    cpu, gpu = load(SHIPPED["tiny-faces64"]), load(SHIPPED["tiny-faces64"], CUDA)
    z = torch.randn(8, cpu.G.z_dim, generator=torch.Generator().manual_seed(0))
    for batch in (1, 8):
        a = render(cpu.G, z_to_ws(cpu.G, z, 0.7), batch=batch).astype(int)
        b = render(gpu.G, z_to_ws(gpu.G, z, 0.7), batch=batch).astype(int)
        assert a.shape == b.shape == (8, 64, 64, 3)
        assert np.abs(a - b).mean() < 1.0 and np.abs(a - b).max() <= 16  # TF32 convolutions on the GPU
    keys = list(json.loads(cache.read_text())["choices"]) if cache.exists() else list(fastpath.recorded())
    assert any(k.startswith("cuda|") and "stylegan.batch1" in k for k in keys)


def test_vqgan_clip_steps_on_cuda(cache: Path) -> None:
    from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load
    from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip_file
    from generator.vqgan_clip.loop import LoopParams, run_loop
    from generator.vqgan_clip.prompts import parse_story

    lp = LoopParams(phases=parse_story("a red circle"), iterations=4, snapshots=[0, 4], seed=2, cutouts=8)
    res = {}
    for dev in ("cpu", "cuda"):
        vq, _, _ = load(SHIPPED_VQGAN, dev)
        clip = load_clip_file(SHIPPED_CLIP, device=dev)
        res[dev] = run_loop(lp, vq, clip, device=dev)
    a, b = res["cpu"], res["cuda"]
    assert np.abs(a.snapshots[0].astype(int) - b.snapshots[0].astype(int)).max() <= 2  # same start, same decoder
    assert len(b.losses) == 4 and all(np.isfinite(b.losses))
    assert abs(a.losses[0] - b.losses[0]) < 0.05 * abs(a.losses[0]) + 1e-3  # bf16 CLIP on CUDA
    assert b.fast_paths["checkpoint_levels"] == 0 and "channels_last" in b.fast_paths


def test_lts_frames_on_cuda_match_cpu(settings) -> None:
    from generator.lts import synth
    from generator.lts.checkpoints import load_configured

    cpu, gpu = load_configured(settings), load_configured(settings, device=CUDA)
    z = np.random.default_rng(0).standard_normal((40, cpu.model.latent)).astype(np.float32)
    a, b = synth.decode(cpu, z), synth.decode(gpu, z)
    assert a.shape == b.shape and np.allclose(a, b, rtol=1e-3, atol=1e-4)
    audio, _ = synth.render(gpu, z, 8000, loop=False, n_iter=2, device=CUDA)
    assert audio.shape == (8000,) and np.isfinite(audio).all() and np.abs(audio).max() > 0


def test_musicvae_sample_on_cuda_matches_cpu() -> None:
    from generator.musicvae.checkpoints import SHIPPED, load

    path = SHIPPED / "tiny-2bar.pt"
    cpu, gpu = load(path), load(path, CUDA)
    z = torch.randn(4, cpu.model.cfg.latent, generator=torch.Generator().manual_seed(0))
    greedy_cpu = cpu.model.decode(z)
    greedy_gpu = gpu.model.decode(z.to(CUDA)).cpu()
    assert (greedy_cpu == greedy_gpu).float().mean() > 0.9  # greedy: the same melody (cuDNN's LSTM rounds apart)
    sampled = gpu.model.decode(z.to(CUDA), temperature=1.0, generator=torch.Generator(CUDA).manual_seed(1))
    assert sampled.shape == greedy_gpu.shape and sampled.device.type == "cuda"
