"""Constant-Q transform on torch, computed in the frequency domain so that it is fast and exactly invertible.

Each bin k has a real, non-negative frequency response: the main lobe of the Fourier transform of a Hann
window of ``L_k = Q * sr / f_k`` samples (librosa's filter lengths), centred on ``f_k``. Lengths are
clipped below at four hops so that every response is narrower than the frame rate ``sr / hop``: the
uniform hop then never aliases, and the coefficients of bin k at hop ``hop`` are one inverse FFT of
length ``M = N / hop`` of the signal's spectrum times the response (a painless non-stationary Gabor
frame). The signal is treated as periodic (length ``N = M * hop``): a closed trajectory gives a loop
that joins without a click; callers pad with silence when they want no wrap-around.

The synthesis with the canonical dual frame inverts the analysis exactly for the band the bins cover
(about fmin..fmax), so ``analysis(synthesis(c))`` is the orthogonal projection onto consistent
coefficients: what Griffin-Lim type phase recovery needs. Coefficients are "modulated": their phase
is the absolute phase of the partial at the frame's time, and a stationary partial gives the same
phase in every bin it touches. Magnitudes follow librosa's ``cqt`` (hann window, ``scale=True``).
The same code runs on CPU and CUDA.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from generator.lts.presets import CQTSpec


def smooth_length(n: int) -> int:
    """The smallest 2,3,5-smooth integer >= n (fast FFT sizes)."""
    best = None
    p2 = 1
    while p2 < 2 * n:
        p3 = p2
        while p3 < 2 * n:
            p5 = p3
            while p5 < n:
                p5 *= 5
            best = p5 if best is None else min(best, p5)
            p3 *= 3
        p2 *= 2
    return max(int(best), 1)


def frames_for(n_samples: int, hop: int) -> int:
    """Number of frames (a fast FFT length) that holds ``n_samples`` samples."""
    return smooth_length(max(1, math.ceil(n_samples / hop)))


def _hann_main_lobe(u: np.ndarray) -> np.ndarray:
    """Fourier transform of a Hann window of unit duration at frequency u (cycles per duration), peak 1."""
    out = np.zeros_like(u)
    inside = np.abs(u) < 2.0
    uu = u[inside]
    den = 1.0 - uu * uu
    near = np.abs(den) < 1e-9
    val = np.sinc(uu) / np.where(near, 1.0, den)
    out[inside] = np.where(near, 0.5, val)
    return out


def filter_lengths(spec: CQTSpec) -> np.ndarray:
    """Effective Hann lengths in samples: librosa's ``Q * sr / f_k``, at least four hops."""
    return np.maximum(spec.Q * spec.sr / np.asarray(spec.freqs()), 4.0 * spec.hop)


def response(spec: CQTSpec, k: np.ndarray, hz: np.ndarray) -> np.ndarray:
    """Relative response (peak 1) of bins k to sinusoids at frequencies hz (broadcast)."""
    k = np.asarray(k)
    f_k = spec.fmin * 2.0 ** (k / spec.bins_per_octave)
    lengths = np.maximum(spec.Q * spec.sr / f_k, 4.0 * spec.hop)
    return _hann_main_lobe((np.asarray(hz, dtype=np.float64) - f_k) * lengths / spec.sr)


class CQT:
    """The constant-Q frame for signals of ``n_frames * hop`` samples.

    ``analysis(x)``: real signal (..., N) -> complex coefficients (..., n_bins, n_frames).
    ``synthesis(c)``: coefficients -> real signal, exact inverse on the covered band.
    """

    def __init__(self, spec: CQTSpec, n_frames: int, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.spec = spec
        self.M = int(n_frames)
        self.N = self.M * spec.hop
        self.device = torch.device(device)
        self.dtype = dtype
        self.cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        K, M, N, sr = spec.n_bins, self.M, self.N, spec.sr
        freqs = np.asarray(spec.freqs())
        lib_lengths = spec.Q * sr / freqs
        lengths = filter_lengths(spec)
        self.lengths = lengths
        idx, pos, resp = [], [], []
        n_half = N // 2 + 1
        for k in range(K):
            half = 2.0 * sr / lengths[k]  # main lobe half-width in Hz
            lo = max(1, math.floor((freqs[k] - half) * N / sr) + 1)
            hi = min(n_half - 2, math.ceil((freqs[k] + half) * N / sr) - 1)
            j = np.arange(lo, hi + 1)
            if len(j) == 0:  # a very short signal: take the nearest FFT bin
                j = np.array([min(n_half - 2, max(1, round(freqs[k] * N / sr)))])
            if len(j) > M:
                raise ValueError("CQT response wider than the frame rate")
            u = (j * sr / N - freqs[k]) * lengths[k] / sr
            h = _hann_main_lobe(u)
            if not np.any(h > 0):
                h = np.ones_like(h, dtype=np.float64)
            # gain: a unit sinusoid at f_k gives |c| = sqrt(L_k) / 2 like librosa.cqt(scale=True)
            g = h * math.sqrt(lib_lengths[k]) / spec.hop
            idx.append(j)
            pos.append(k * M + (j % M))
            resp.append(g)
        j_all = np.concatenate(idx)
        g_all = np.concatenate(resp)
        frame_diag = np.zeros(n_half)
        np.add.at(frame_diag, j_all, g_all * g_all)
        covered = frame_diag > 1e-4 * frame_diag.max()
        dual = np.where(covered[j_all], g_all / np.where(covered[j_all], frame_diag[j_all], 1.0), 0.0)
        t = {"device": self.device}
        self._j = torch.as_tensor(j_all, dtype=torch.long, **t)
        self._pos = torch.as_tensor(np.concatenate(pos), dtype=torch.long, **t)
        self._g = torch.as_tensor(g_all, dtype=dtype, **t)
        self._dual = torch.as_tensor(dual, dtype=dtype, **t)
        self.covered = covered
        self.n_half = n_half

    @property
    def n_samples(self) -> int:
        return self.N

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, device=self.device, dtype=self.dtype)
        if x.shape[-1] != self.N:
            raise ValueError(f"signal has {x.shape[-1]} samples; this CQT takes {self.N}")
        lead = x.shape[:-1]
        X = torch.fft.rfft(x.reshape(-1, self.N), dim=-1)
        return self._coefficients(X).reshape(*lead, self.spec.n_bins, self.M)

    def synthesis(self, c: torch.Tensor) -> torch.Tensor:
        c = torch.as_tensor(c, device=self.device)
        lead = c.shape[:-2]
        return torch.fft.irfft(self._spectrum(c), n=self.N, dim=-1).reshape(*lead, self.N)

    def _spectrum(self, c: torch.Tensor) -> torch.Tensor:
        C = torch.fft.fft(c.reshape(-1, self.spec.n_bins, self.M), dim=-1)
        vals = C.reshape(C.shape[0], -1)[:, self._pos] * self._dual
        Y = torch.zeros(C.shape[0], self.n_half, dtype=self.cdtype, device=self.device)
        Y.index_add_(1, self._j, vals)
        return Y

    def _coefficients(self, X: torch.Tensor) -> torch.Tensor:
        buf = torch.zeros(X.shape[0], self.spec.n_bins * self.M, dtype=self.cdtype, device=self.device)
        buf[:, self._pos] = X[:, self._j] * self._g
        return torch.fft.ifft(buf.view(-1, self.spec.n_bins, self.M), dim=-1)

    def project(self, c: torch.Tensor) -> torch.Tensor:
        """``analysis(synthesis(c))`` without the trip through the time domain (the covered band excludes
        DC and Nyquist, where a real signal's spectrum would differ)."""
        lead = c.shape[:-2]
        return self._coefficients(self._spectrum(c)).reshape(*lead, self.spec.n_bins, self.M)

    def magnitude(self, x: torch.Tensor) -> torch.Tensor:
        return self.analysis(x).abs()


_CACHE: dict[tuple, CQT] = {}


def get_cqt(spec: CQTSpec, n_frames: int, device: torch.device | str = "cpu",
            dtype: torch.dtype = torch.float32) -> CQT:
    """A cached transform (building one costs a few milliseconds; kept for the last few sizes)."""
    key = (spec, int(n_frames), str(device), dtype)
    if key not in _CACHE:
        if len(_CACHE) > 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = CQT(spec, n_frames, device, dtype)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget the cached transforms: the next ``get_cqt`` builds its transform again (a cold start)."""
    _CACHE.clear()


def cqt_magnitude(audio: np.ndarray, spec: CQTSpec, device: torch.device | str = "cpu") -> np.ndarray:
    """Magnitude frames (n_bins, n_frames) of a mono signal, zero-padded to a fast length."""
    audio = np.asarray(audio, dtype=np.float32)
    m = frames_for(len(audio), spec.hop)
    tr = get_cqt(spec, m, device)
    x = np.zeros(tr.N, dtype=np.float32)
    x[: len(audio)] = audio
    return tr.magnitude(torch.from_numpy(x)).cpu().numpy()
