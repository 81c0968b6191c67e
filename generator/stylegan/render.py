"""Rendering helpers: latents -> frames (batched, no grad), resizing, PNG and H.264 encoding."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from generator.stylegan.model import Generator, to_uint8


@torch.no_grad()
def z_to_ws(G: Generator, z: np.ndarray | torch.Tensor, psi: float = 1.0, batch: int = 64) -> torch.Tensor:
    """z [N, z_dim] -> ws [N, num_ws, w_dim] (truncated towards w_avg by psi)."""
    z = torch.as_tensor(np.asarray(z, np.float32) if not isinstance(z, torch.Tensor) else z, dtype=torch.float32)
    dev = G.mapping.w_avg.device
    out = [G.mapping(z[i:i + batch].to(dev), truncation_psi=psi) for i in range(0, len(z), batch)]
    return torch.cat(out) if out else torch.empty(0, G.num_ws, G.w_dim)


@torch.no_grad()
def w_to_ws(G: Generator, w: np.ndarray | torch.Tensor) -> torch.Tensor:
    """w [N, w_dim] -> ws [N, num_ws, w_dim]; W+ input [N, num_ws, w_dim] passes through."""
    w = torch.as_tensor(np.asarray(w, np.float32) if not isinstance(w, torch.Tensor) else w, dtype=torch.float32)
    w = w.to(G.mapping.w_avg.device)
    return w if w.ndim == 3 else w.unsqueeze(1).repeat(1, G.num_ws, 1)


def resize(img: np.ndarray, size: int) -> np.ndarray:
    if not size or img.shape[0] == size:
        return img
    interp = cv2.INTER_AREA if size < img.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)


@torch.no_grad()
def iter_frames(G: Generator, ws: torch.Tensor, batch: int = 8, noise_mode: str = "const",
                size: int = 0) -> Iterator[np.ndarray]:
    """Render ws [N, num_ws, w_dim] in batches; yields RGB uint8 frames (resized to ``size`` when set)."""
    for i in range(0, len(ws), batch):
        imgs = to_uint8(G.synthesis(ws[i:i + batch].to(G.mapping.w_avg.device), noise_mode=noise_mode))
        for im in imgs:
            yield resize(im, size)


def render(G: Generator, ws: torch.Tensor, batch: int = 8, noise_mode: str = "const", size: int = 0) -> np.ndarray:
    frames = list(iter_frames(G, ws, batch, noise_mode, size))
    return np.stack(frames) if frames else np.zeros((0, size or G.img_resolution, size or G.img_resolution, 3),
                                                    np.uint8)


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: int) -> tuple[int, int, int]:
    """H.264 (yuv420p) through imageio-ffmpeg; returns (frames written, width, height)."""
    import imageio_ffmpeg

    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError("no frames to write")
    h, w = first.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 needs even frame sizes, got {w}x{h}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         macro_block_size=1, ffmpeg_log_level="error",
                                         output_params=["-crf", "18", "-threads", "1"])
    writer.send(None)
    n = 0
    for frame in [first] if first is not None else []:
        writer.send(np.ascontiguousarray(frame))
        n += 1
    for frame in it:
        writer.send(np.ascontiguousarray(frame))
        n += 1
    writer.close()
    return n, w, h
