"""The CLIP-guided VQGAN loop: optimise a latent so CLIP finds the decoded image close to the prompts.

Each step: straight-through quantise z to the codebook, decode, cut ``cutouts`` random squares out of
the image (sizes drawn with ``cut_pow``; all cut and resampled in one batched ``roi_align`` call),
jitter them (noise, brightness, contrast: torch ops on a seeded generator), embed them with CLIP and
minimise the weighted spherical distance to the prompt embeddings (text and image prompts; a
negative weight pushes away), plus ``tv_weight`` times the image's total variation. Optionally
the decoder's weights are fine-tuned as well, the variant the chapter describes.

Speed and memory (fp32 throughout, nothing approximated): CLIP's image tower runs through
:mod:`generator.vqgan_clip.fastclip` (oneDNN matrix products, input gradients only); the decoder
keeps only what the input gradient needs in its frozen convolutions and group-norm+swish. Whether
the decoder runs channels-last and whether its two largest levels are recomputed in backward is
chosen per machine and size (:mod:`generator.vqgan_clip.fastpaths`: a short calibration, cached).
``bench/vqclip.py speed`` measures it against the notebook loop.

Every random choice comes from generators seeded from ``seed``: on a CPU, the same inputs give the
same frames, byte for byte.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gallery.errors import BadInput
from generator import fastpath
from generator.vqgan_clip.fastclip import fast_image_encoder
from generator.vqgan_clip.fastpaths import CHECKPOINT_LEVELS as CHECKPOINT_LEVELS  # re-exported
from generator.vqgan_clip.fastpaths import decoder_choices
from generator.vqgan_clip.model import VQModel
from generator.vqgan_clip.prompts import Prompt, phase_at

log = logging.getLogger(__name__)


@dataclass
class LoopParams:
    phases: list[list[Prompt]]
    iterations: int = 500
    width: int = 64
    height: int = 64
    seed: int = 0
    cutouts: int = 16
    cut_pow: float = 1.0
    min_cut: float = 0.4  # smallest cutout side as a fraction of the image's shorter side
    augment: bool = True
    optimiser: str = "adam"
    lr: float = 0.1
    story_every: int = 0  # story mode: switch phase every N iterations (0: iterations / phases)
    snapshots: list[int] = field(default_factory=lambda: [0, 100, 250, 500])
    keep_every_frame: bool = False
    frame_every: int = 0  # >0: pass every N-th iteration's image (and the last) to run_loop's on_frame
    finetune_decoder: bool = False
    decoder_lr: float = 1e-4
    zoom_every: int = 0  # >0: every N iterations zoom into the image and re-encode it (zoom video)
    zoom_scale: float = 1.04
    image_prompts: list[tuple[np.ndarray, float]] = field(default_factory=list)
    init_image: np.ndarray | None = None
    grad_checkpoint: int | None = None  # decoder levels recomputed in backward (None: decoder_checkpoint decides)
    channels_last: str = "auto"  # decoder layout: auto (measured per machine and size) | on | off
    decoder_checkpoint: str = "auto"  # recompute the 2 largest decoder levels: auto (measured) | on | off
    autocast: bool = True  # on CUDA, CLIP's image tower in bf16 (the CPU always runs fp32)
    tv_weight: float = 0.0  # total variation of the decoded image: >0 smooths speckle and flat areas
    init_z: Any = None  # a start latent (1, C, zh, zw) instead of the noise (variations); the noise is still drawn


@dataclass
class LoopResult:
    snapshots: dict[int, np.ndarray]  # iteration -> RGB uint8
    frames: list[np.ndarray]  # every iteration's image when keep_every_frame, else []
    losses: list[float]
    phase_switches: list[int]
    seconds: float
    timings: dict[str, float]
    codes: np.ndarray | None = None  # the final latent's codebook indices (zh, zw): what the last image decodes
    fast_paths: dict[str, Any] = field(default_factory=dict)  # the decoder layout and recomputed levels used


def spherical_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared great-circle distance between rows of a (N, D) and b (M, D) after normalising: (N, M)."""
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    return (a[:, None] - b[None]).norm(dim=-1).div(2).clamp(max=1.0).arcsin().pow(2).mul(2)


def quantise_st(model: VQModel, z: torch.Tensor, channels_last: bool | None = None) -> torch.Tensor:
    """Nearest codes with the straight-through gradient (the image is decoded from real codes).

    ``channels_last`` (None: on the CPU) returns it channels-last, so the decoder's convolutions,
    group norms and activations all run on NHWC tensors (oneDNN's native layout)."""
    zq = model.quantize.lookup(model.quantize.codes(z))
    out = z + (zq - z).detach()
    if channels_last is None:
        channels_last = out.device.type == "cpu"
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


def to_image(x: torch.Tensor) -> torch.Tensor:
    """Decoder output in [-1, 1] -> [0, 1]; clamped with the gradient passed through."""
    y = (x + 1) / 2
    return y + (y.clamp(0, 1) - y).detach()


def image_to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x[0].detach().clamp(0, 1).permute(1, 2, 0).mul(255).round().to(torch.uint8).cpu().numpy())


def noise_latent(model: VQModel, zh: int, zw: int, g: torch.Generator, device: Any = "cpu") -> torch.Tensor:
    """The loop's noise start: a (1, C, zh, zw) latent of codebook entries drawn uniformly with ``g``."""
    idx = torch.randint(0, model.n_embed, (1, zh, zw), generator=g).to(device)
    return model.quantize.lookup(idx)


def clamp_to_codebook(model: VQModel) -> Callable[[torch.Tensor], None]:
    """A function that clamps a latent in place, channel by channel, to the range the codebook spans."""
    emb = model.quantize.embedding.weight
    lo, hi = emb.min(0).values.view(1, -1, 1, 1), emb.max(0).values.view(1, -1, 1, 1)

    def clamp(z: torch.Tensor) -> None:
        with torch.no_grad():
            z.copy_(torch.maximum(torch.minimum(z, hi), lo))

    return clamp


def make_cutouts(img: torch.Tensor, n: int, out_size: int, cut_pow: float, min_cut: float,
                 g: torch.Generator, augment: bool) -> torch.Tensor:
    """n random square cutouts of img (1, 3, H, W), resampled to out_size, batched in one roi_align."""
    from torchvision.ops import roi_align

    _, _, h, w = img.shape
    side = min(h, w)
    lo = max(2.0, min_cut * side)
    sizes = lo + (side - lo) * torch.rand(n, generator=g).pow(cut_pow)
    x0 = torch.rand(n, generator=g) * (w - sizes)
    y0 = torch.rand(n, generator=g) * (h - sizes)
    boxes = torch.stack([torch.zeros(n), x0, y0, x0 + sizes, y0 + sizes], 1).to(img)
    cuts = roi_align(img, boxes, output_size=out_size, spatial_scale=1.0, sampling_ratio=2, aligned=True)
    if augment:
        dev = img.device
        bright = (torch.rand(n, 1, 1, 1, generator=g) - 0.5).mul(0.1).to(dev)
        contrast = (1 + (torch.rand(n, 1, 1, 1, generator=g) - 0.5).mul(0.2)).to(dev)
        noise_amp = torch.rand(n, 1, 1, 1, generator=g).mul(0.08).to(dev)
        noise = torch.randn(cuts.shape, generator=g).to(dev)
        mean = cuts.mean(dim=(1, 2, 3), keepdim=True)
        cuts = (cuts - mean) * contrast + mean + bright + noise_amp * noise
    return cuts


def total_variation(img: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels of img (1, 3, H, W) in [0, 1]."""
    return (img[..., 1:, :] - img[..., :-1, :]).abs().mean() + (img[..., :, 1:] - img[..., :, :-1]).abs().mean()


def zoom(img: torch.Tensor, scale: float) -> torch.Tensor:
    """Zoom into the centre of img (1, 3, H, W) by scale, keeping the size."""
    _, _, h, w = img.shape
    ch, cw = max(1, round(h / scale)), max(1, round(w / scale))
    top, left = (h - ch) // 2, (w - cw) // 2
    return F.interpolate(img[:, :, top:top + ch, left:left + cw], size=(h, w), mode="bilinear",
                         align_corners=False)


def check_size(model: VQModel, width: int, height: int) -> None:
    f = model.downsample_factor
    for name, v in (("width", width), ("height", height)):
        if v % f or v < f:
            raise BadInput(f"{name} {v} must be a positive multiple of {f} (the VQGAN's downsampling factor)")


def frame_iterations(iterations: int, every: int) -> list[int]:
    """The iterations whose images a video of every ``every``-th iteration shows: 0, every, … and the last."""
    if every < 1:
        return []
    return sorted({*range(0, iterations + 1, every), iterations})


def run_loop(params: LoopParams, vqgan: VQModel, clip: Any, device: Any = "cpu",
             on_step: Callable[[int], None] | None = None,
             on_frame: Callable[[int, np.ndarray], None] | None = None) -> LoopResult:
    """Run the optimisation; returns the snapshot images (and every frame when asked).

    With ``params.frame_every`` and ``on_frame``, ``on_frame(iteration, rgb)`` receives the image of
    every ``frame_every``-th iteration and of the last one as soon as it is decoded (a video writer
    streams them; nothing is kept here)."""
    t_start = time.monotonic()
    dev = torch.device(device)
    check_size(vqgan, params.width, params.height)
    if params.iterations < 1:
        raise BadInput(f"iterations must be at least 1, got {params.iterations}")
    g = torch.Generator().manual_seed(params.seed)
    model = copy.deepcopy(vqgan).to(dev).eval() if params.finetune_decoder else vqgan.to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if params.finetune_decoder:
        for p in list(model.decoder.parameters()) + list(model.post_quant_conv.parameters()):
            p.requires_grad_(True)
    # per machine and size (measured once, cached): decoder layout, and whether to recompute the
    # largest levels in backward rather than keep their activations
    cl, ckpt = decoder_choices(model, params.width, params.height, dev, params.channels_last,
                               params.decoder_checkpoint)
    if params.grad_checkpoint is not None:
        ckpt = params.grad_checkpoint
    model.decoder.grad_checkpoint = ckpt
    f = model.downsample_factor
    zh, zw = params.height // f, params.width // f
    with torch.no_grad():
        if params.init_image is not None:
            im = torch.from_numpy(np.ascontiguousarray(params.init_image)).permute(2, 0, 1)[None].float().div(127.5)
            im = F.interpolate(im.sub(1), size=(params.height, params.width), mode="bilinear",
                               align_corners=False, antialias=True).to(dev)
            z0 = model.encode(im)
        else:  # noise: random codes
            z0 = noise_latent(model, zh, zw, g, dev)
        if params.init_z is not None:
            if tuple(params.init_z.shape) != tuple(z0.shape):
                raise BadInput(f"start latent {tuple(params.init_z.shape)} does not fit a {params.width}x"
                               f"{params.height} image ({tuple(z0.shape)})")
            z0 = params.init_z.to(device=dev, dtype=z0.dtype)
    z = z0.clone().requires_grad_(True)
    clamp = clamp_to_codebook(model)

    # prompt embeddings per phase
    targets: list[tuple[torch.Tensor, torch.Tensor]] = []
    with torch.no_grad():
        img_targets = [(torch.from_numpy(clip.encode_images([im])), w) for im, w in params.image_prompts]
        for phase in params.phases:
            embs = [F.normalize(clip.text_features([p.text]).float(), dim=-1).cpu() for p in phase]
            ws = [p.weight for p in phase]
            embs += [e for e, _ in img_targets]
            ws += [w for _, w in img_targets]
            targets.append((torch.cat(embs).to(dev), torch.tensor(ws, dtype=torch.float32, device=dev)))
    n_phases = len(targets)
    # the same embedding as clip.image_features, computed faster where the architecture allows
    encode = fast_image_encoder(clip)
    if encode is None:
        def encode(x: torch.Tensor) -> torch.Tensor:
            return clip.image_features(x, resize=False)
    every = params.story_every or (params.iterations // n_phases if n_phases > 1 else 0)

    def make_opt(zp: torch.Tensor) -> torch.optim.Optimizer:
        groups: list[dict[str, Any]] = [{"params": [zp], "lr": params.lr}]
        if params.finetune_decoder:
            groups.append({"params": [p for p in model.parameters() if p.requires_grad], "lr": params.decoder_lr})
        if params.optimiser == "adam":
            return torch.optim.Adam(groups)
        if params.optimiser == "adamw":
            return torch.optim.AdamW(groups, weight_decay=0.01)
        if params.optimiser == "sgd":
            return torch.optim.SGD(groups, momentum=0.9)
        raise BadInput(f"unknown optimiser {params.optimiser!r}; known: adam, adamw, sgd")

    opt = make_opt(z)
    snapshots: dict[int, np.ndarray] = {}
    frames: list[np.ndarray] = []
    losses: list[float] = []
    switches: list[int] = []
    want = {s for s in params.snapshots if s <= params.iterations} | {params.iterations}
    if params.frame_every < 0:
        raise BadInput(f"frame_every must be >= 0, got {params.frame_every}")
    stream = set(frame_iterations(params.iterations, params.frame_every)) if on_frame is not None else set()
    timings = {"decode": 0.0, "cutouts": 0.0, "clip": 0.0, "backward": 0.0}
    phase = -1
    for it in range(params.iterations + 1):
        ph = phase_at(it, n_phases, every)
        if ph != phase:
            if phase >= 0:
                switches.append(it)
            phase = ph
        if params.zoom_every and it > 0 and it % params.zoom_every == 0 and it < params.iterations:
            with torch.no_grad():
                cur = zoom(to_image(model.decode(quantise_st(model, z, cl))), params.zoom_scale)
                z = model.encode(cur.mul(2).sub(1)).clone().requires_grad_(True)
            opt = make_opt(z)
        t0 = time.perf_counter()
        img = to_image(model.decode(quantise_st(model, z, cl)))
        t1 = time.perf_counter()
        if it in want or params.keep_every_frame or it in stream:
            frame = image_to_uint8(img)
            if it in want:
                snapshots[it] = frame
            if params.keep_every_frame:
                frames.append(frame)
            if it in stream:
                on_frame(it, frame)
        if it == params.iterations:
            break
        cuts = make_cutouts(img, params.cutouts, clip.image_size, params.cut_pow, params.min_cut, g, params.augment)
        t2 = time.perf_counter()
        with fastpath.autocast(dev, params.autocast):  # bf16 CLIP on CUDA; nothing on the CPU
            feats = encode(cuts).float()
        tgt, ws = targets[phase]
        d = spherical_distance(feats, tgt).mean(0)  # (n_targets,)
        loss = (ws * d).sum()
        if params.tv_weight:
            loss = loss + params.tv_weight * total_variation(img)
        t3 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        clamp(z)
        t4 = time.perf_counter()
        timings["decode"] += t1 - t0
        timings["cutouts"] += t2 - t1
        timings["clip"] += t3 - t2
        timings["backward"] += t4 - t3
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(it)
    steps = max(1, params.iterations)
    with torch.no_grad():
        codes = model.quantize.codes(z.detach())[0].cpu().numpy()
    return LoopResult(snapshots=snapshots, frames=frames, losses=losses, phase_switches=switches,
                      seconds=time.monotonic() - t_start,
                      timings={k: v / steps for k, v in timings.items()}, codes=codes,
                      fast_paths={"channels_last": cl, "checkpoint_levels": ckpt})
