"""Named configurations as data: the tiny presets this project trains, and the real taming VQGANs.

Torch-free, so the CLI and settings can list them cheaply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def preset_file(path: str | Path) -> Path:
    """A weights file a preset names (``init``, ``resume``): as given if it exists or is absolute, else
    relative to the repository, where presets name the shipped files."""
    path = Path(path)
    return path if path.is_absolute() or path.exists() else REPO / path


@dataclass(frozen=True)
class ClipTrainPreset:
    """A training preset of the tiny CLIP (`gallery train clip --preset NAME`). The optional fields are left
    out of :meth:`to_dict` when unset, so the recorded ``params`` name only what the preset sets."""

    model: str
    image_size: int
    steps: int
    batch: int
    lr: float
    warmup: int
    weight_decay: float
    pool: int
    seed: int
    hard_groups: int | None = None  # groups of hard negatives per batch (images that differ in shape only)
    hard_colours: int | None = None  # colours per hard group (1: shape only)
    hard_single: float | None = None  # share of single-object images among the hard negatives
    hard_short: float | None = None  # share of bare "a red circle" captions among them
    hard_pool: int | None = None  # hard groups drawn
    distinct_captions: bool | None = None  # repeated captions in a batch are not each other's negatives
    adv_eps: float | None = None  # adversarial training: per-pixel budget
    adv_steps: int | None = None  # ... and steps of projected gradient ascent
    init: str | None = None  # start from these weights (fine-tuning)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class VQGANTrainPreset:
    """A training preset of the tiny VQGAN (`gallery train vqgan --preset NAME`); optional fields as above."""

    arch: str  # a key of VQGAN_ARCHS
    image_size: int
    steps: int
    batch: int
    lr: float
    perceptual_weight: float
    codebook_beta: float
    adversarial_weight: float
    adversarial_start: int
    pool: int
    seed: int
    crop: int | None = None  # side of the random training crops (the trainer's default: 32)
    object_weight: float | None = None  # reconstruction loss on object pixels weighed up
    resume: str | None = None  # go on training these weights

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


# open_clip model configuration of the tiny CLIP (registered with open_clip under CLIP_TINY_NAME).
CLIP_TINY_NAME = "lg-tiny-shapes-clip"
CLIP_TINY_CONFIG: dict[str, Any] = {
    "embed_dim": 96,
    "vision_cfg": {"image_size": 64, "layers": 3, "width": 128, "patch_size": 16, "head_width": 64},
    "text_cfg": {"context_length": 24, "vocab_size": 49408, "width": 96, "heads": 2, "layers": 2},
}

# Training presets of `gallery train clip --preset NAME`.
CLIP_PRESETS: dict[str, ClipTrainPreset] = {
    "tiny-shapes": ClipTrainPreset(model=CLIP_TINY_NAME, image_size=64, steps=2000, batch=64, lr=1e-3,
                                   warmup=100, weight_decay=0.1, pool=10000, seed=0),
    # second stage: the shipped weights fine-tuned on batches with hard negatives (groups of images that differ
    # in shape only, with bare "a red circle" captions mixed in), so that the model has to tell shapes apart
    "tiny-shapes-hard": ClipTrainPreset(model=CLIP_TINY_NAME, image_size=64, steps=4500, batch=96, lr=5e-4,
                                        warmup=30, weight_decay=0.1, pool=10000, seed=0, hard_groups=8,
                                        hard_pool=3000, init="generator/weights/vqgan_clip/clip-tiny-shapes.pt"),
    # third stage: hard groups that vary shape AND colour together (6 shapes x 2 colours, everything else
    # shared), mostly single objects with bare "a red circle" captions; repeated captions in a batch are not
    # counted as each other's negatives
    "tiny-shapes-joint": ClipTrainPreset(model=CLIP_TINY_NAME, image_size=64, steps=3000, batch=96, lr=3e-4,
                                         warmup=30, weight_decay=0.1, pool=10000, seed=0, hard_groups=4,
                                         hard_colours=2, hard_single=0.6, hard_short=0.6, hard_pool=1500,
                                         distinct_captions=True, init="generator/weights/vqgan_clip/clip-tiny-shapes.pt"),
    # the loop's guide (its own file): the joint weights fine-tuned on adversarial images only (each batch's
    # images pushed, within 16/255 per pixel, to where the model matches them worst, by three steps of
    # projected gradient ascent), so that the loop's gradient paints what the words say rather than textures
    # that only this network reads that way
    "tiny-shapes-robust": ClipTrainPreset(model=CLIP_TINY_NAME, image_size=64, steps=1500, batch=96, lr=2e-4,
                                          warmup=30, weight_decay=0.1, pool=10000, seed=0, hard_groups=4,
                                          hard_colours=2, hard_single=0.6, hard_short=0.6, hard_pool=1500,
                                          distinct_captions=True, adv_eps=16 / 255, adv_steps=3,
                                          init="generator/weights/vqgan_clip/clip-tiny-shapes.pt"),
    # a quick smoke-test preset (tests, CI): learns something, not much
    "smoke": ClipTrainPreset(model=CLIP_TINY_NAME, image_size=64, steps=30, batch=32, lr=1e-3,
                             warmup=5, weight_decay=0.1, pool=256, seed=0),
}

# taming-transformers VQGAN "ddconfig"s. The two ImageNet f16 models share the autoencoder and differ in
# the codebook size only.
TAMING_F16_DDCONFIG: dict[str, Any] = {
    "double_z": False, "z_channels": 256, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
    "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2, "attn_resolutions": [16], "dropout": 0.0,
}
VQGAN_ARCHS: dict[str, dict[str, Any]] = {
    "f16_1024": {"ddconfig": TAMING_F16_DDCONFIG, "n_embed": 1024, "embed_dim": 256},
    "f16_16384": {"ddconfig": TAMING_F16_DDCONFIG, "n_embed": 16384, "embed_dim": 256},
    # ours: 64x64 images -> 16x16 codes (f4), 256 codes of 16 dims
    "tiny": {"ddconfig": {"double_z": False, "z_channels": 32, "resolution": 64, "in_channels": 3, "out_ch": 3,
                          "ch": 16, "ch_mult": [1, 2, 2], "num_res_blocks": 1, "attn_resolutions": [16],
                          "dropout": 0.0},
             "n_embed": 256, "embed_dim": 16},
}

VQGAN_PRESETS: dict[str, VQGANTrainPreset] = {
    "tiny-shapes": VQGANTrainPreset(arch="tiny", image_size=64, steps=1200, batch=16, lr=1e-3,
                                    perceptual_weight=0.5, codebook_beta=0.25, adversarial_weight=0.0,
                                    adversarial_start=800, pool=4000, seed=0),
    # second stage: the shipped weights trained on whole 64x64 images (the attention block then sees the
    # 16x16 latent it sees in the loop) with object pixels weighted up, so that objects keep their colours
    "tiny-shapes-colour": VQGANTrainPreset(arch="tiny", image_size=64, steps=2000, batch=8, lr=3e-4,
                                           perceptual_weight=0.1, codebook_beta=0.25, adversarial_weight=0.0,
                                           adversarial_start=0, pool=4000, seed=0, crop=64, object_weight=4.0,
                                           resume="generator/weights/vqgan_clip/vqgan-tiny-shapes.pt"),
    "smoke": VQGANTrainPreset(arch="tiny", image_size=32, steps=40, batch=8, lr=2e-3,
                              perceptual_weight=0.2, codebook_beta=0.25, adversarial_weight=0.1,
                              adversarial_start=30, pool=16, seed=0),
}
