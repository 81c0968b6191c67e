"""What a run on an image dataset starts from: a configuration derived from the dataset's resolution, or
the networks of a model of the same resolution (transfer learning), and which discriminator blocks to freeze.

- :func:`data_config`: 64 px -> the ``tiny-faces64`` shape (what the shipped model and the faces use);
  larger -> the same idea scaled up (channels doubled per octave up to 64, a wider latent).
- :func:`transfer_source`: ``--resume MODEL`` (a shipped name, a registered model, a preset name of a
  registered model, a weights path) -> its config and networks; a different resolution or a channel
  layout other than RGB is refused (BadInput) before anything is written.
- :func:`freeze_d`: Freeze-D (Mo et al. 2020): the first K discriminator blocks, counted from the
  top-resolution side, keep their weights (``requires_grad=False`` and no optimiser state).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gallery.errors import BadInput
from generator.stylegan.model import Discriminator, Generator
from generator.stylegan.presets import PRESETS, StyleGANConfig


def data_config(resolution: int) -> StyleGANConfig:
    """The configuration a run from scratch on a dataset of this resolution uses."""
    base = PRESETS["tiny-faces64"]
    if resolution == 64:
        return base
    if resolution < 64:
        return base.with_(resolution=resolution)
    octaves = resolution.bit_length() - 7  # 128 -> 1, 256 -> 2 ...
    return base.with_(resolution=resolution, z_dim=128, w_dim=128, mapping_layers=4,
                      channel_base=base.channel_base * 2 ** (octaves + 1), channel_max=64,
                      batch=max(4, base.batch // 2 ** octaves))


@dataclass
class Source:
    name: str
    path: Path
    sha256: str
    cfg: StyleGANConfig
    G: Generator  # the source's G_ema (our weights files keep no separate G); G and G_ema both start from it
    D: Discriminator


def transfer_source(spec: str, resolution: int, settings: Any = None, catalogue: Any = None) -> Source:
    """Load the model ``spec`` names and check that it can train on images of ``resolution`` px."""
    from generator.stylegan.checkpoints import load, resolve

    name, path = resolve(spec, settings, catalogue)
    m = load(path, "cpu", name=name)
    if m.cfg.img_channels != 3:
        raise BadInput(f"--resume {spec}: the model makes {m.cfg.img_channels}-channel images; datasets are RGB "
                       "(3 channels)")
    if m.cfg.resolution != resolution:
        raise BadInput(f"--resume {spec}: the model makes {m.cfg.resolution} px images, the dataset is {resolution} "
                       f"px; transfer needs the same resolution (make the dataset with --resolution "
                       f"{m.cfg.resolution}, or train from scratch without --resume)")
    if m.D is None:
        raise BadInput(f"--resume {spec}: the weights have no discriminator ({path}); transfer needs G and D")
    m.G.requires_grad_(True).train()
    m.D.requires_grad_(True).train()
    return Source(m.name, m.path, m.sha256, m.cfg, m.G, m.D)


def check_freeze(D: Discriminator, k: int) -> None:
    n = len(D.block_resolutions)
    if k < 0 or k > n:
        raise BadInput(f"--freeze-d {k}: the discriminator has {n} blocks above 4x4 "
                       f"({', '.join(f'b{r}' for r in D.block_resolutions)}); use 0 to {n}")


def freeze_d(D: Discriminator, k: int) -> list[str]:
    """Freeze the first ``k`` blocks (b<resolution>, from the top); returns their names."""
    check_freeze(D, k)
    names = [f"b{r}" for r in D.block_resolutions[:k]]
    for n in names:
        getattr(D, n).requires_grad_(False)
    return names
