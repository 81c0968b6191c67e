"""Variations around a latent position, for every family's jobs ("variations around this" in curation).

A job that accepts variation steps (``ctx.vary``, the run's ``vary`` parameter) renders its usual latent(s) moved by seeded noise. ``vary`` is
a list of steps ``{"sigma": s, "seed": k}`` (a single step may be given as a dict): a variation of a
variation carries its parent's steps followed by its own, so every recipe re-renders from its seeds.

Each step adds ``sigma * scale * noise`` where the noise is standard normal, drawn from
``(seed, *key)`` (``key`` tells apart the latents of one job: keyframe, row, anchor…), and ``scale``
is the RMS of the latent about ``centre`` along its last axis (1 for Gaussian latents, the spread of
w about w_avg…), so ``sigma`` means the same relative step in every space. ``keep_norm`` puts the
result back at the original distance from ``centre`` (latents that live on a sphere shell).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gallery.errors import BadInput
from generator.latent import EndlessWalk

MAX_STEPS = 32
SIGMA_MAX = 2.0


def vary_steps(raw: Any) -> list[dict[str, Any]]:
    """The validated ``vary`` steps of a job (``ctx.vary``, a recipe's ``vary``; [] when there are none)."""
    if raw is None or raw == []:
        return []
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or len(raw) > MAX_STEPS:
        raise BadInput(f"parameter 'vary' must be a list of at most {MAX_STEPS} steps {{sigma, seed}}, got {raw!r}")
    out = []
    for step in raw:
        try:
            sigma, seed = float(step["sigma"]), int(step["seed"])
        except (TypeError, KeyError, ValueError):
            raise BadInput(f"parameter 'vary': each step needs a number sigma and an integer seed, "
                           f"got {step!r}") from None
        if not 0.0 < sigma <= SIGMA_MAX or not np.isfinite(sigma):
            raise BadInput(f"parameter 'vary': sigma must be in (0, {SIGMA_MAX}], got {sigma}")
        if not 0 <= seed < 2 ** 63:
            raise BadInput(f"parameter 'vary': seed must be a non-negative integer, got {seed}")
        out.append({"sigma": sigma, "seed": seed})
    return out


def perturb(x: Any, steps: list[dict[str, Any]], key: tuple[int, ...] = (), centre: Any = None,
            keep_norm: bool = False) -> np.ndarray:
    """``x`` (float64, any shape, rows along the last axis) moved by every step in turn."""
    x = np.array(x, dtype=np.float64)
    if not steps:
        return x
    c = np.zeros(x.shape[-1:]) if centre is None else np.asarray(centre, dtype=np.float64)
    d0 = x - c
    norm0 = np.linalg.norm(d0, axis=-1, keepdims=True)
    scale = np.sqrt(np.mean(d0 ** 2, axis=-1, keepdims=True))
    scale = np.where(scale > 0, scale, 1.0)
    for step in steps:
        rng = np.random.default_rng([int(step["seed"]), *(int(k) for k in key)])
        x = x + float(step["sigma"]) * scale * rng.standard_normal(x.shape)
    if keep_norm:
        d = x - c
        x = c + d * (norm0 / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-12))
    return x


class VariedEndlessWalk(EndlessWalk):
    """An :class:`EndlessWalk` whose keyframes are moved by ``vary`` steps (keyed by the keyframe's index,
    before ``transform``), so a variation of an endless walk stays as smooth and as endless."""

    def __init__(self, dim: int, seed: int = 0, sphere: bool = True, transform: Any = None,
                 steps: list[dict[str, Any]] | None = None) -> None:
        super().__init__(dim, seed, sphere, transform)
        self.steps = list(steps or [])

    def seeded_keyframe(self, i: int) -> np.ndarray:
        return perturb(super().seeded_keyframe(i), self.steps, key=(i + (1 << 40),), keep_norm=self.sphere)
