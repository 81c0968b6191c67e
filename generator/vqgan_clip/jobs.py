"""Job ``vqclip.progression``: one VQGAN+CLIP run stored as one *progression* artwork.

Media: a ``frame`` PNG per snapshot (meta ``iteration``), a ``grid`` PNG of the snapshots, the final
image as ``poster``, a ``thumbnail``, and an H.264 ``video`` of every ``video_stride``-th iteration and
the last (``vqclip.video_stride``, default 1: every iteration; with ``zoom``, the zooming run). The
video's frames go to the encoder as the loop decodes them; none are kept in memory.
"""

from __future__ import annotations

import bisect
import platform
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from catalogue import ArtworkDraft, MediaDraft
from gallery.errors import BadInput
from gallery.hashing import sha256_file
from gallery.imaging import png_bytes, thumbnail
from gallery.media import DEFAULTS as MEDIA_DEFAULTS
from gallery.media import limits_of
from gallery.media import read_image as read_media_image
from generator.vqgan_clip.prompts import parse_story

if TYPE_CHECKING:
    from gallery.config import Settings
    from generator.job_params import VQClipProgression
    from generator.jobs import JobContext

GENERATOR = "vqclip.progression"
VERSION = 1
VIDEO_MIN_SIDE = 256  # videos of tiny images are upscaled (nearest) so a screen shows them crisply
# total-variation weight with the shipped tiny VQGAN when vqclip.tv_weight is null (bench/vqclip.py follow)
TINY_TV_WEIGHT = 3.0


def default_tv_weight(settings: Settings) -> float:
    """vqclip.tv_weight, or when null: TINY_TV_WEIGHT with the shipped tiny VQGAN, else 0."""
    tv = settings.vqclip.tv_weight
    if tv is not None:
        return float(tv)
    from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, resolve

    return TINY_TV_WEIGHT if resolve(settings)[0] == SHIPPED_VQGAN else 0.0



# Image prompts and init images are decoded reduced to no less than this on the short side (CLIP looks at
# 224, the loop's canvas is at most a few hundred pixels a side).
PROMPT_IMAGE_SIDE = 1024


def read_image(path: str | Path, what: str, max_pixels: int = MEDIA_DEFAULTS.max_image_pixels,
               side: int = PROMPT_IMAGE_SIDE) -> tuple[np.ndarray, str]:
    """RGB uint8 and sha256 of an image file, through the one reader (gallery.media: refused over
    ``media.max_image_pixels`` from its header, decoded reduced to no less than ``side`` on the short
    side); BadInput when it is missing, over the budget or not an image."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{what} {p} does not exist")
    arr = read_media_image(p, what=f"{what} {p}", max_pixels=max_pixels, fit=(side, side), cover=True)
    return arr, sha256_file(p)


def parse_image_prompt(s: str) -> tuple[str, float]:
    """``path`` or ``path:weight``."""
    head, sep, tail = s.rpartition(":")
    if sep:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return s, 1.0



def grid(images: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(images, axis=1)


class VideoStream:
    """An H.264 yuv420p MP4 written one frame at a time through imageio-ffmpeg: only the frame being
    sent is held. Small images are upscaled (nearest) to at least VIDEO_MIN_SIDE a side; the size is
    taken from the first frame. Use as a context manager: the encoder is closed on errors too."""

    def __init__(self, path: Path, fps: int) -> None:
        self.path, self.fps = Path(path), fps
        self.frames = 0
        self.size: tuple[int, int] | None = None
        self._writer: Any = None

    def add(self, rgb: np.ndarray, repeat: int = 1) -> None:
        if self._writer is None:
            import imageio_ffmpeg

            h, w = rgb.shape[:2]
            k = max(1, -(-VIDEO_MIN_SIDE // max(h, w)))
            vw, vh = w * k, h * k
            self.size = (vw + vw % 2, vh + vh % 2)
            self._writer = imageio_ffmpeg.write_frames(str(self.path), self.size, fps=self.fps, codec="libx264",
                                                       pix_fmt_out="yuv420p", macro_block_size=1,
                                                       output_params=["-threads", "1"])
            self._writer.send(None)
        big = np.ascontiguousarray(cv2.resize(rgb, self.size, interpolation=cv2.INTER_NEAREST))
        for _ in range(repeat):
            self._writer.send(big)
            self.frames += 1

    def close(self) -> tuple[int, int]:
        """Finish the file; returns (width, height)."""
        if self._writer is not None:
            w, self._writer = self._writer, None
            w.close()
        if self.size is None:
            raise ValueError("no frames were written")
        return self.size

    def __enter__(self) -> VideoStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            w, self._writer = self._writer, None
            w.close()


def write_video(frames: list[np.ndarray], path: Path, fps: int, hold: int = 1) -> tuple[int, int]:
    """H.264 yuv420p MP4 of frames (each shown ``hold`` times); returns (width, height)."""
    with VideoStream(path, fps) as v:
        for fr in frames:
            v.add(fr, hold)
        return v.close()


def frame_times(iterations: list[int], shown: list[int], fps: int) -> list[float]:
    """Seconds into a video of the iterations ``shown`` (one frame each) at which each of ``iterations`` is
    reached (between two shown iterations, in proportion)."""
    out = []
    for it in iterations:
        j = max(0, bisect.bisect_right(shown, it) - 1)
        frac = 0.0 if j + 1 >= len(shown) else (it - shown[j]) / (shown[j + 1] - shown[j])
        out.append(round((j + frac) / fps, 6))
    return out


def progression_title(phases: list[list[Any]], iterations: int) -> str:
    """“first text” (VQGAN+CLIP, N steps); a story names every phase (its first text with a positive weight)."""
    from generator.titles import prompt_title

    return prompt_title([next((p.text for p in ph if p.weight > 0), "") for ph in phases], iterations)


def build_params(params: VQClipProgression, settings: Settings, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """Job params (and the job's seed) into LoopParams and the recipe (everything needed to re-render)."""
    from generator.vqgan_clip.loop import LoopParams

    vq = settings.vqclip
    prompt = params.prompt
    phases = parse_story(prompt)
    size = params.size or vq.size
    width = params.width or size
    height = params.height or size
    iterations = params.iterations or vq.iterations
    snaps = sorted(set(params.snapshots or vq.snapshots))
    if any(s < 0 for s in snaps):
        raise BadInput(f"snapshots must be iteration numbers >= 0, got {snaps}")
    snaps = [s for s in snaps if s <= iterations]
    if iterations not in snaps:
        snaps.append(iterations)
    image_prompts, ip_recipe = [], []
    for spec in params.image_prompts or []:
        path, w = parse_image_prompt(str(spec))
        im, sha = read_image(path, "image prompt", limits_of(settings).max_image_pixels)
        image_prompts.append((im, w))
        ip_recipe.append({"sha256": sha, "weight": w, "name": Path(path).name})
    init_image, init_recipe = None, None
    if params.init_image:
        init_image, sha = read_image(params.init_image, "init image", limits_of(settings).max_image_pixels)
        init_recipe = {"sha256": sha, "name": Path(params.init_image).name}
    zoom = params.zoom
    stride = params.video_stride
    if stride is None and params.video:  # the old flag: a video of every iteration
        stride = 1
    stride = vq.video_stride if stride is None else stride
    if not 1 <= stride <= 100_000:
        raise BadInput(f"video_stride must be 1..100000 (the video shows every Nth iteration), got {stride}")
    lp = LoopParams(
        phases=phases, iterations=iterations, width=width, height=height, seed=seed,
        cutouts=params.cutouts or vq.cutouts, cut_pow=params.cut_pow or vq.cut_pow,
        min_cut=params.min_cut or LoopParams.min_cut,
        optimiser=params.optimiser or vq.optimiser, lr=params.lr or vq.lr,
        story_every=params.story_every or 0, snapshots=snaps,
        frame_every=stride,
        finetune_decoder=params.finetune_decoder,
        decoder_lr=params.decoder_lr or 1e-4,
        zoom_every=(params.zoom_every or 10) if zoom else 0,
        zoom_scale=params.zoom_scale or 1.04,
        image_prompts=image_prompts, init_image=init_image,
        tv_weight=default_tv_weight(settings) if params.tv_weight is None else params.tv_weight,
        channels_last=vq.channels_last, decoder_checkpoint=vq.decoder_checkpoint)
    if lp.optimiser not in ("adam", "adamw", "sgd"):
        raise BadInput(f"unknown optimiser {lp.optimiser!r}; known: adam, adamw, sgd")
    if not 0 < lp.min_cut <= 1:
        raise BadInput(f"min_cut must be in (0, 1] (a fraction of the image side), got {lp.min_cut}")
    if not 0 <= lp.tv_weight <= 100:
        raise BadInput(f"tv_weight must be in [0, 100], got {lp.tv_weight}")
    if not 1 <= lp.cutouts <= 256:
        raise BadInput(f"cutouts must be 1..256, got {lp.cutouts}")
    if not 16 <= width <= 2048 or not 16 <= height <= 2048:
        raise BadInput(f"size {width}x{height} is out of range (16..2048 pixels a side)")
    recipe = {"prompt": prompt, "phases": [[p.as_dict() for p in ph] for ph in phases],
              "iterations": iterations, "width": width, "height": height, "seed": lp.seed,
              "cutouts": lp.cutouts, "cut_pow": lp.cut_pow, "min_cut": lp.min_cut, "augment": lp.augment,
              "optimiser": lp.optimiser, "lr": lp.lr, "tv_weight": lp.tv_weight, "story_every": lp.story_every,
              "snapshots": snaps,
              "video_stride": stride, "zoom": zoom, "zoom_every": lp.zoom_every,
              "zoom_scale": lp.zoom_scale, "finetune_decoder": lp.finetune_decoder, "decoder_lr": lp.decoder_lr,
              "image_prompts": ip_recipe, "init_image": init_recipe, "init": "image" if init_recipe else "noise"}
    return lp, recipe


def start_latent(params: VQClipProgression, lp: Any, vqgan: Any,
                 vary_raw: list[dict[str, Any]] | None = None) -> tuple[Any, dict[str, Any]]:
    """The loop's start for a variation (params ``init_codes`` and/or ``vary_raw``: the job's ``ctx.vary``)
    and its recipe facts; (None, {}) for an ordinary run. ``init_codes`` [zh][zw] (a progression's ``final_codes``) start from
    that image's latent, otherwise from the run's own seeded noise; ``vary`` steps then move it."""
    import torch

    from generator.variation import perturb, vary_steps
    from generator.vqgan_clip.loop import noise_latent

    vary, codes = vary_steps(vary_raw), params.init_codes
    if not vary and codes is None:
        return None, {}
    f = vqgan.downsample_factor
    zh, zw = lp.height // f, lp.width // f
    dev = vqgan.quantize.embedding.weight.device
    with torch.no_grad():
        if codes is not None:
            try:
                idx = np.asarray(codes, dtype=np.int64)
            except (TypeError, ValueError):
                raise BadInput("init_codes must be rows of codebook indices") from None
            if idx.shape != (zh, zw) or idx.min() < 0 or idx.max() >= vqgan.n_embed:
                raise BadInput(f"init_codes: {zh}x{zw} indices in 0..{vqgan.n_embed - 1} are needed for a "
                               f"{lp.width}x{lp.height} image, got shape {idx.shape}")
            z = vqgan.quantize.lookup(torch.from_numpy(idx)[None].to(dev))
        elif lp.init_image is not None:
            raise BadInput("a variation of a run that started from an init image needs its init_codes")
        else:  # the loop's own start: random codes drawn from the seed
            z = noise_latent(vqgan, zh, zw, torch.Generator().manual_seed(lp.seed), dev)
        centre = vqgan.quantize.embedding.weight.double().mean(0).cpu().numpy()
        moved = perturb(z.permute(0, 2, 3, 1).double().cpu().numpy(), vary, key=(0,), centre=centre)
        z = torch.from_numpy(moved).permute(0, 3, 1, 2).float().to(dev)
    facts: dict[str, Any] = {"vary": vary} if vary else {}
    if codes is not None:
        facts["init_codes"] = np.asarray(codes).tolist()
    return z, facts


def progression(params: VQClipProgression, ctx: JobContext) -> list[ArtworkDraft]:
    import torch

    from gallery.progress import report
    from generator import fastpath
    from generator.vqgan_clip.checkpoints import load, resolve, resolve_model
    from generator.vqgan_clip.clip import load_clip
    from generator.vqgan_clip.loop import frame_iterations, run_loop

    settings = ctx.settings
    lp, recipe = build_params(params, settings, ctx.seed)
    device = ctx.device
    fastpath.configure(settings)  # per-machine fast-path choices are cached under data_dir
    report(ctx, "loading CLIP and VQGAN", 0, None)
    clip = load_clip(settings, device=device, guide=True)
    if params.model:  # a registered VQGAN (imported or fine-tuned on a dataset) or a weights file
        ref = resolve_model(params.model, settings, ctx.catalogue)
        vq_path, vq_arch = ref.path, ref.arch_name
    else:
        vq_path, vq_arch = resolve(settings)
    vqgan, vq_sha, arch = load(vq_path, device, arch_name=vq_arch)
    if params.model and params.tv_weight is None and settings.vqclip.tv_weight is None:
        from generator.vqgan_clip.presets import VQGAN_ARCHS

        # the tiny layout smooths as the shipped model does
        lp.tv_weight = recipe["tv_weight"] = TINY_TV_WEIGHT if arch == VQGAN_ARCHS["tiny"] else 0.0
    ctx.log.info("vqclip: %r, %d iterations at %dx%d (seed %d)", recipe["prompt"], lp.iterations, lp.width,
                 lp.height, lp.seed)
    fps = params.fps or settings.vqclip.fps
    shown = frame_iterations(lp.iterations, lp.frame_every)
    lp.init_z, start = start_latent(params, lp, vqgan, ctx.vary)
    with tempfile.TemporaryDirectory(prefix="vqclip-") as td:
        vpath = Path(td) / "progression.mp4"
        with VideoStream(vpath, fps) as video:
            stage = f"optimising ({len(lp.phases)} story phases)" if len(lp.phases) > 1 else "optimising"
            res = run_loop(lp, vqgan, clip, device=device, on_frame=lambda _it, rgb: video.add(rgb),
                           on_step=lambda it: report(ctx, stage, it + 1, lp.iterations))
            vw, vh = video.close()
        duration = video.frames / fps
        video_media = MediaDraft(role="video", mime="video/mp4", data=vpath.read_bytes(), width=vw, height=vh,
                                 duration=duration, meta={"frames": video.frames, "video_stride": lp.frame_every,
                                                          "zoom": recipe["zoom"]})
    recipe.update({"generator": GENERATOR, "version": VERSION, "clip": {"name": clip.name, "sha256": clip.model_sha256},
                   "vqgan": {"sha256": vq_sha, **({"model": params.model} if params.model else {}), "n_embed": arch["n_embed"], "embed_dim": arch["embed_dim"]},
                   "torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
                   "device": str(device), **start,
                   "final_codes": None if res.codes is None else res.codes.tolist()})
    iters = sorted(res.snapshots)
    final = res.snapshots[lp.iterations]
    media = [MediaDraft(role="frame", mime="image/png", data=png_bytes(res.snapshots[i]), width=lp.width,
                        height=lp.height, meta={"iteration": i}) for i in iters]
    media.append(MediaDraft(role="grid", mime="image/png", data=png_bytes(grid([res.snapshots[i] for i in iters])),
                            width=lp.width * len(iters), height=lp.height, meta={"iterations": iters}))
    media.append(MediaDraft(role="poster", mime="image/png", data=png_bytes(final), width=lp.width,
                            height=lp.height, meta={"iteration": lp.iterations}))
    th = thumbnail(final, upscale="nearest")
    media.append(MediaDraft(role="thumbnail", mime="image/png", data=png_bytes(th), width=th.shape[1],
                            height=th.shape[0]))
    media.append(video_media)
    recipe["timeline"] = {"duration": duration, "fps": fps, "keyframe_times": frame_times(iters, shown, fps)}
    return [ArtworkDraft(
        kind="progression", recipe=recipe, media=media, title=progression_title(lp.phases, lp.iterations),
        model_sha256=vq_sha, tags=["vqclip", "progression"] + (["story"] if len(lp.phases) > 1 else []),
        duration=duration,
        extra={"losses": [round(v, 5) for v in res.losses[:: max(1, len(res.losses) // 100)]],
               "phase_switches": res.phase_switches, "seconds": round(res.seconds, 2),
               "seconds_per_iteration": {k: round(v, 5) for k, v in res.timings.items()},
               "clip_model_sha256": clip.model_sha256},
    )]
