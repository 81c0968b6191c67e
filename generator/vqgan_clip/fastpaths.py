"""Which decoder fast paths the VQGAN+CLIP loop takes on this machine (see :mod:`generator.fastpath`).

Two choices, each measured once per machine and image size by a short calibration (a few
ms-scale reps of the decoder's largest-level res block, on a tile of the requested image, input
gradient only as in the loop), or forced by config (``vqclip.channels_last``,
``vqclip.decoder_checkpoint``: auto | on | off):

- ``channels_last``: run the decoder on NHWC tensors (oneDNN's native layout; no reorders around
  each convolution) or on plain NCHW ones. Which is faster depends on the processor and the torch
  build (docs/performance.md).
- ``decoder_checkpoint``: recompute the res blocks of the ``CHECKPOINT_LEVELS`` largest decoder
  levels in backward instead of keeping their inputs. It saves memory (about 0.2 GiB at 256x256)
  and always costs time (a second forward of those levels); auto keeps it only where the
  calibration finds it within 5% of the plain backward. Force ``on`` where memory is tight.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

from generator import fastpath
from generator.vqgan_clip.model import VQModel

CHECKPOINT_LEVELS = 2  # the two largest decoder levels (at 256x256: 256 and 128 px, ~75% of decoder FLOPs)
TILE = 64  # calibration tile side (pixels): ms-scale reps, the same kernels as the full image


def _sync(dev: torch.device) -> Any:
    return torch.cuda.synchronize if dev.type == "cuda" else None


def _probe(model: VQModel, width: int, height: int, dev: torch.device) -> tuple[torch.nn.Module, tuple[int, ...]]:
    block = model.decoder.up[0].block[0]  # the full-resolution level: where the decoder spends its time
    c = block.norm1.num_channels
    return block, (1, c, min(height, TILE), min(width, TILE))


def _step(block: torch.nn.Module, x0: torch.Tensor, g: torch.Tensor, ckpt: bool) -> None:
    x = x0.detach().requires_grad_(True)
    y = checkpoint(block, x, use_reentrant=False) if ckpt else block(x)
    y.backward(g)


def decoder_choices(model: VQModel, width: int, height: int, device: Any = "cpu", channels_last: str = "auto",
                    decoder_checkpoint: str = "auto") -> tuple[bool, int]:
    """(run the decoder channels-last?, how many decoder levels to recompute in backward).

    Weights must already be frozen (the loop's case); a decoder being fine-tuned takes the defaults
    (channels-last on the CPU, no recompute below 256x256) without calibrating."""
    dev = torch.device(device)
    size_key = f"vqgan{model.decoder.up[0].block[0].norm1.num_channels}x{len(model.decoder.up)}@{width}x{height}"
    big = width * height >= 256 * 256
    if any(p.requires_grad for p in model.decoder.parameters()):
        cl = channels_last == "on" or (channels_last == "auto" and dev.type == "cpu")
        return cl, CHECKPOINT_LEVELS if decoder_checkpoint == "on" or (decoder_checkpoint == "auto" and big) else 0
    block, shape = _probe(model, width, height, dev)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(dev)
    g = torch.randn(shape[0], block.conv2.out_channels, *shape[2:], generator=gen).to(dev)
    fmt = {"on": torch.channels_last, "off": torch.contiguous_format}

    def layout(mode: str, ckpt: bool) -> Any:
        xm, gm = x.contiguous(memory_format=fmt[mode]), g.contiguous(memory_format=fmt[mode])
        return lambda: _step(block, xm, gm, ckpt)

    with torch.enable_grad():
        cl_choice = fastpath.choose("vqgan.channels_last", size_key, {"on": layout("on", False),
                                                                      "off": layout("off", False)},
                                    default="on" if dev.type == "cpu" else "off", force=channels_last,
                                    device=dev, sync=_sync(dev))
        ck_choice = "off"
        if decoder_checkpoint == "on" or (decoder_checkpoint == "auto" and big):
            ck_choice = fastpath.choose("vqgan.decoder_checkpoint", f"{size_key}|cl={cl_choice}",
                                        {"on": layout(cl_choice, True), "off": layout(cl_choice, False)},
                                        default="on" if big else "off", force=decoder_checkpoint, device=dev,
                                        prefer_within=0.05, sync=_sync(dev))
    return cl_choice == "on", CHECKPOINT_LEVELS if ck_choice == "on" else 0
