"""StyleGAN's batch-1 fast path, chosen per machine (see :mod:`generator.fastpath`).

At batch 1 a modulated convolution can be computed two ways with the same arithmetic:
"on" (ours): scale the input by the styles, one shared convolution, scale the output by the
demodulation coefficients (two passes over activations, no weight copy); "off": fold styles and
demodulation into a copy of the weights (rosinality's grouped convolution at batch 1: one pass over
the weights, none over activations). Which is faster depends on the layer's activation size against
its weight size and on the machine's memory bandwidth and convolution kernels, so the synthesis
network measures both once per machine and model size on its largest block (the one that dominates
the frame time), at the real size on CUDA (a 64 px input tile on the CPU), and caches the answer;
``stylegan.walk_fast_path`` (auto | on | off) can force it.
"""

from __future__ import annotations

from typing import Any

import torch

from generator import fastpath

CPU_TILE = 64  # the largest input side the CPU calibration runs (ms-scale reps)


def batch1_choice(net: Any, device: Any, force: str = "auto") -> str:
    """"on" (scale activations, shared conv) or "off" (modulated weights) for ``net`` (a SynthesisNetwork)."""
    dev = torch.device(device)
    res = net.img_resolution
    block = getattr(net, f"b{res}")
    layers = [m for m in (getattr(block, "conv0", None), block.conv1) if m is not None]
    cin = layers[0].weight.shape[1]
    side = res // 2 if hasattr(block, "conv0") else res
    if dev.type == "cpu":
        side = min(side, CPU_TILE)
    size_key = f"stylegan{res}-c{cin}-{block.conv1.weight.shape[0]}-w{layers[0].affine.weight.shape[1]}"
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, cin, side, side, generator=gen).to(dev)
    w = torch.randn(1, layers[0].affine.weight.shape[1], generator=gen).to(dev)

    def run(modulate: bool) -> Any:
        def go() -> None:
            saved = [m.modulate_weights for m in layers]
            try:
                for m in layers:
                    m.modulate_weights = modulate
                with torch.no_grad():
                    x = x0
                    for m in layers:
                        x = m(x, w, noise_mode="none")
            finally:
                for m, s in zip(layers, saved, strict=True):
                    m.modulate_weights = s
        return go

    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    return fastpath.choose("stylegan.batch1", size_key, {"on": run(False), "off": run(True)}, default="on",
                           force=force, device=dev, sync=sync)


def apply_batch1_choice(net: Any, device: Any) -> str:
    """Set every synthesis layer of ``net`` to the batch-1 variant chosen for this machine (once per
    network, device and forced value)."""
    key = (str(net.fast_path), str(device))
    done = getattr(net, "_batch1_applied", None)
    if done is not None and done[0] == key:
        return done[1]
    choice = batch1_choice(net, device, net.fast_path)
    for m in net.modules():
        if hasattr(m, "modulate_weights") and hasattr(m, "affine") and hasattr(m, "noise_const"):
            m.modulate_weights = choice == "off"
    object.__setattr__(net, "_batch1_applied", (key, choice))
    return choice
