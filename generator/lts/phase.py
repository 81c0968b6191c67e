"""Phase recovery for constant-Q magnitude frames.

``recover(S, spec)`` = a phase-locked vocoder initialisation (every spectral peak carries its own
instantaneous frequency, estimated from the peak's position between bins; the peak's phase advances
by that frequency from frame to frame and all bins under the peak share it, which is exact for a
stationary partial with this transform's real, non-negative responses) followed by a few iterations
of fast Griffin-Lim (Perraudin et al. 2013) with the exact projection of ``generator.lts.cqt``.

``spectral_convergence(S, x)`` = ||S - |CQT x||| / ||S|| (Frobenius), the figure reported in bench/lts.py.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from generator.lts.cqt import get_cqt, response
from generator.lts.presets import CQTSpec


def peak_locked_phase(S: np.ndarray, spec: CQTSpec, floor_db: float = -60.0) -> np.ndarray:
    """Initial phases (n_bins, n_frames) for magnitudes S (n_bins, n_frames)."""
    S = np.asarray(S, dtype=np.float64)
    K, M = S.shape
    if spec.n_bins != K:
        raise ValueError(f"frames have {K} bins; the CQT settings give {spec.n_bins}")
    logS = np.log(S + 1e-12)
    thresh = S.max() * 10 ** (floor_db / 20) if S.size else 0.0
    # local maxima along frequency, above the floor
    up = np.empty_like(S, dtype=bool)
    dn = np.empty_like(S, dtype=bool)
    up[0] = True
    up[1:] = S[1:] > S[:-1]
    dn[-1] = True
    dn[:-1] = S[:-1] >= S[1:]
    peaks = up & dn & (thresh < S)
    # fractional peak position from the ratio of the two neighbours, inverting the known responses
    kk = np.arange(K)[:, None].astype(np.float64)
    pk, pm = np.nonzero(peaks)
    lm = logS[np.maximum(pk - 1, 0), pm]
    lp = logS[np.minimum(pk + 1, K - 1), pm]
    table, grid = _ratio_table(spec)
    r = lp - lm
    # one binary search over all rows at once: row k is shifted by k * 1000 (its values lie within +-60)
    g = len(grid)
    flat = (table + 1000.0 * np.arange(K)[:, None]).ravel()
    pos = np.searchsorted(flat, r + 1000.0 * pk) - pk * g
    pos = np.clip(pos, 1, g - 1)
    lo, hi = table[pk, pos - 1], table[pk, pos]
    w = np.clip((r - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)
    delta = grid[pos - 1] + w * (grid[pos] - grid[pos - 1])
    edge = (pk == 0) | (pk == K - 1)
    delta[edge] = 0.0
    peak_freq = np.zeros_like(S)
    peak_freq[pk, pm] = spec.fmin * 2.0 ** ((pk + delta) / spec.bins_per_octave)
    # each bin belongs to the nearest peak of its frame (itself when the frame has none)
    big = K * 4
    below = np.where(peaks, kk, -big)
    below = np.maximum.accumulate(below, axis=0)
    above = np.where(peaks, kk, big)
    above = np.minimum.accumulate(above[::-1], axis=0)[::-1]
    use_above = (above - kk) < (kk - below)
    owner = np.where(use_above, above, below)
    none = (owner < 0) | (owner >= K)
    owner = np.where(none, kk, owner).astype(np.int64)
    cols = np.arange(M)[None, :]
    freq = np.where(none, spec.fmin * 2.0 ** (kk / spec.bins_per_octave), peak_freq[owner, cols])
    step = 2 * math.pi * spec.hop / spec.sr
    inc = step * 0.5 * (freq + np.concatenate([freq[:, :1], freq[:, :-1]], axis=1))
    # frame by frame (rows of the transposed, contiguous arrays): the owner peak advances from its own
    # phase in the previous frame
    owner_t = np.ascontiguousarray(owner.T)
    inc_t = np.ascontiguousarray(inc.T)
    phase_t = np.empty((M, K))
    phase_t[0] = 0.0
    prev = phase_t[0]
    for m in range(1, M):
        prev = prev[owner_t[m]] + inc_t[m]
        phase_t[m] = prev
    return np.mod(phase_t.T, 2 * math.pi)


@functools.lru_cache(maxsize=8)
def _ratio_table(spec: CQTSpec, n: int = 129) -> tuple[np.ndarray, np.ndarray]:
    """log(H_{k+1}(f) / H_{k-1}(f)) for f = f_k 2^(d / bins_per_octave), d on a grid over [-0.5, 0.5]."""
    grid = np.linspace(-0.5, 0.5, n)
    k = np.arange(spec.n_bins)[:, None]
    hz = spec.fmin * 2.0 ** ((k + grid[None, :]) / spec.bins_per_octave)
    up = response(spec, k + 1, hz)
    down = response(spec, k - 1, hz)
    table = np.log(np.maximum(up, 1e-12)) - np.log(np.maximum(down, 1e-12))
    table = np.clip(np.maximum.accumulate(table, axis=1), -60.0, 60.0)
    table.flags.writeable = False
    return table, grid


def _project_magnitude(c: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    return c * (S / c.abs().clamp_min(1e-12))


def fgla(S: torch.Tensor, c0: torch.Tensor, tr, n_iter: int, alpha: float = 0.99) -> torch.Tensor:
    """Fast Griffin-Lim: returns the signal after n_iter iterations from the initial coefficients c0."""
    c = _project_magnitude(c0, S)
    t_prev = None
    for _ in range(n_iter):
        t = tr.project(c)
        if t_prev is None:
            c_next = t
        else:
            c_next = t + alpha * (t - t_prev)
        t_prev = t
        c = _project_magnitude(c_next, S)
    return tr.synthesis(c)


def recover(S: np.ndarray | torch.Tensor, spec: CQTSpec, n_iter: int = 8, init: str = "locked",
            seed: int = 0, device: torch.device | str = "cpu", alpha: float = 0.99) -> np.ndarray:
    """Audio (float32, n_frames * hop samples, periodic) whose CQT magnitudes approach S (n_bins, n_frames).

    ``init``: "locked" (phase-locked vocoder, the default), "random" or "zero".
    """
    S_np = S.detach().cpu().numpy() if isinstance(S, torch.Tensor) else np.asarray(S)
    if S_np.ndim != 2 or S_np.shape[0] != spec.n_bins:
        raise ValueError(f"magnitude frames must be (n_bins={spec.n_bins}, n_frames); got {S_np.shape}")
    if not np.all(np.isfinite(S_np)) or (S_np < 0).any():
        raise ValueError("magnitude frames must be finite and non-negative")
    tr = get_cqt(spec, S_np.shape[1], device)
    S_t = torch.as_tensor(S_np, dtype=tr.dtype, device=tr.device)
    if init == "locked":
        ph = peak_locked_phase(S_np, spec)
    elif init == "random":
        ph = np.random.default_rng(seed).uniform(0, 2 * math.pi, S_np.shape)
    elif init == "zero":
        ph = np.zeros(S_np.shape)
    else:
        raise ValueError(f"unknown phase initialisation {init!r} (locked, random, zero)")
    ph_t = torch.as_tensor(ph, dtype=tr.dtype, device=tr.device)
    c0 = torch.polar(S_t, ph_t)
    y = fgla(S_t, c0, tr, n_iter, alpha) if n_iter > 0 else tr.synthesis(c0)
    return y.cpu().numpy().astype(np.float32)


def spectral_convergence(S: np.ndarray, audio: np.ndarray, spec: CQTSpec, device: torch.device | str = "cpu") -> float:
    """||S - |CQT(audio)||| / ||S|| with this module's transform (audio of n_frames * hop samples)."""
    S = np.asarray(S, dtype=np.float64)
    tr = get_cqt(spec, S.shape[1], device)
    A = tr.magnitude(torch.as_tensor(np.asarray(audio, dtype=np.float32), device=tr.device)).cpu().numpy()
    return float(np.linalg.norm(S - A) / max(np.linalg.norm(S), 1e-20))
