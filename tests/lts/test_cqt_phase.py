"""The constant-Q frame (against librosa) and phase recovery (against librosa's Griffin-Lim)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from generator.datasets.sounds import harmonic_test_audio as harmonic
from generator.lts.cqt import CQT, frames_for, get_cqt, smooth_length
from generator.lts.phase import peak_locked_phase, recover, spectral_convergence
from generator.lts.presets import PRESETS, CQTSpec

REF = PRESETS["reference"].cqt
TINY = PRESETS["tiny"].cqt


def test_smooth_length():
    for n in (1, 7, 97, 3446, 10007):
        m = smooth_length(n)
        assert m >= n and m < 1.25 * n + 2
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        assert r == 1
    assert frames_for(441000, 128) >= 441000 / 128


def test_exact_projection_and_inverse_on_band():
    tr = CQT(TINY, 300, dtype=torch.float64)
    x = torch.randn(tr.N, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = tr.synthesis(tr.analysis(x))
    # y is x restricted to the covered band: analysing and synthesising again changes nothing
    assert torch.allclose(tr.synthesis(tr.analysis(y)), y, atol=1e-10)
    # the projection without the time domain is the same operator
    c = torch.randn(TINY.n_bins, 300, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(tr.project(c), tr.analysis(tr.synthesis(c)), atol=1e-10)
    # and a band-limited signal comes back exactly
    n = np.arange(tr.N)
    s = np.sin(2 * np.pi * round(440 * tr.N / TINY.sr) * n / tr.N) + 0.5 * np.sin(2 * np.pi * 1999 * n / tr.N)
    s_t = torch.from_numpy(s)
    assert torch.allclose(tr.synthesis(tr.analysis(s_t)), s_t, atol=1e-6)


def test_matches_librosa_cqt():
    import librosa

    m = 600
    x = harmonic(m * REF.hop)
    ours = get_cqt(REF, m).magnitude(torch.from_numpy(x)).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.abs(librosa.cqt(x, sr=REF.sr, hop_length=REF.hop, fmin=REF.fmin, n_bins=REF.n_bins,
                                 bins_per_octave=REF.bins_per_octave))
    mid = slice(150, 450)  # away from the ends (we wrap around, librosa pads with zeros)
    a, b = ours[:, mid], ref[:, mid]
    assert a.shape == b.shape
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.98
    # same scale: a pure tone on a bin centre has librosa's magnitude
    t = np.arange(m * REF.hop) / REF.sr
    k = 200
    tone = np.sin(2 * np.pi * REF.freqs()[k] * t)
    mine = get_cqt(REF, m, dtype=torch.float64).magnitude(torch.from_numpy(tone)).numpy()[k, mid].mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lib = np.abs(librosa.cqt(tone, sr=REF.sr, hop_length=REF.hop, fmin=REF.fmin, n_bins=REF.n_bins,
                                 bins_per_octave=REF.bins_per_octave))[k, mid].mean()
    assert mine == pytest.approx(lib, rel=0.02)


def test_stationary_partial_phase_is_exact():
    """A steady sinusoid: the locked initialisation alone already gives near-perfect convergence."""
    m = 400
    n = m * TINY.hop
    f = TINY.freqs()[100] * 2 ** (0.3 / TINY.bins_per_octave)  # between bins
    cycles = round(f * n / TINY.sr)  # a whole number of periods: the signal is periodic like the frame
    x = (0.5 * np.sin(2 * np.pi * cycles * np.arange(n) / n)).astype(np.float32)
    S = get_cqt(TINY, m).magnitude(torch.from_numpy(x)).numpy()
    y = recover(S, TINY, n_iter=0)
    assert spectral_convergence(S, y, TINY) < 0.05
    y_rand = recover(S, TINY, n_iter=0, init="random")
    assert spectral_convergence(S, y_rand, TINY) > 0.3


def test_recover_beats_random_griffin_lim_and_improves_with_iterations():
    m = 700
    x = harmonic(m * REF.hop, seed=1)
    S = get_cqt(REF, m).magnitude(torch.from_numpy(x)).numpy()
    sc = {n: spectral_convergence(S, recover(S, REF, n_iter=n), REF) for n in (0, 4)}
    sc_rand = spectral_convergence(S, recover(S, REF, n_iter=4, init="random"), REF)
    assert sc[4] < sc[0]
    assert sc[4] < 0.125
    assert sc[4] < 0.5 * sc_rand


def test_recover_rejects_bad_frames():
    with pytest.raises(ValueError, match="n_bins"):
        recover(np.ones((10, 20)), TINY)
    bad = np.ones((TINY.n_bins, 20))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        recover(bad, TINY)
    with pytest.raises(ValueError, match="initialisation"):
        recover(np.ones((TINY.n_bins, 20)), TINY, init="magic")
    with pytest.raises(ValueError, match="bins"):
        peak_locked_phase(np.ones((3, 3)), TINY)


def test_spec_validation():
    with pytest.raises(ValueError, match="Nyquist"):
        CQTSpec(sr=16000, hop=128, bins_per_octave=12, n_octaves=9)
    assert REF.n_bins == 384 and TINY.n_bins == 192
