"""Decoherence by a classical Gaussian spin bath (Ornstein–Uhlenbeck detuning noise).

The bath shifts the NV transition by δ(t), a Gaussian process with correlation function
``⟨δ(t) δ(t')⟩ = σ² exp(−|t − t'|/τc)`` (σ in Hz, τc the correlation time): a Lorentzian noise
spectrum, the model of a dilute electron-spin (P1) bath (de Lange et al., Science 330, 60, 2010;
Bar-Gill et al., Nat. Commun. 4, 1743, 2013).  Between the π/2 pulses a pulse sequence
accumulates the phase ``φ = 2π ∫ y(t) δ(t) dt``, where y(t) = ±1 flips sign at every π pulse;
the coherence then decays by ``exp(−χ)``, ``χ = ⟨φ²⟩/2``.

For free-evolution segments [aᵢ, bᵢ] with signs sᵢ the integral is a sum over segment pairs,
each in closed form, so χ is exact for any sequence of ideal π pulses.  In the slow-bath
limit (τc much longer than the sequence) CPMG/XY8 with N π pulses gives
``χ ≈ (2πσ)² T³ / (12 N² τc)``: a stretched exponential of power 3 with
``T2(N) = T2(1)·N^(2/3)`` (de Lange 2010).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["bath_sigma_for_t2", "echo_chi", "ou_chi"]


def ou_chi(starts: ArrayLike, ends: ArrayLike, signs: ArrayLike, sigma: float,
           tau_c: float) -> NDArray[np.float64]:
    """Dephasing exponent χ of an Ornstein–Uhlenbeck detuning noise for given segments.

    Parameters
    ----------
    starts, ends
        Segment start and end times in s, shape (..., n_seg), sorted and not overlapping.
    signs
        ±1 per segment (the toggling-frame sign), broadcastable to the same shape.
    sigma
        RMS detuning of the bath, Hz.
    tau_c
        Correlation time, s (``inf``: quasi-static).

    Returns
    -------
    ndarray
        χ with shape (...): the coherence is multiplied by ``exp(−χ)``.
    """
    a = np.asarray(starts, dtype=float)
    b = np.asarray(ends, dtype=float)
    s = np.broadcast_to(np.asarray(signs, dtype=float), a.shape)
    if a.shape[-1] == 0 or sigma == 0.0:
        return np.zeros(a.shape[:-1])
    length = b - a
    if math.isinf(tau_c):  # quasi-static: φ = 2πδ Σ sᵢ Lᵢ
        area = (s * length).sum(axis=-1)
        return 0.5 * (2 * np.pi * sigma) ** 2 * area**2
    x = length / tau_c
    # same segment: ∫∫ e^{−|t−t'|/τ} = 2τ² (x − 1 + e^{−x}); expm1 keeps small x accurate
    diag = 2 * tau_c**2 * (x + np.expm1(-x))
    total = diag.sum(axis=-1)
    # pairs i < j: τ² e^{(bᵢ−aⱼ)/τ} (1 − e^{−Lᵢ/τ}) (1 − e^{−Lⱼ/τ}), with bᵢ ≤ aⱼ
    bi, si, li = b[..., :, None], s[..., :, None], length[..., :, None]
    aj, sj, lj = a[..., None, :], s[..., None, :], length[..., None, :]
    pair = (tau_c**2 * np.exp(np.minimum((bi - aj) / tau_c, 0.0))
            * np.expm1(-li / tau_c) * np.expm1(-lj / tau_c))
    n = a.shape[-1]
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    total = total + 2 * np.where(upper, si * sj * pair, 0.0).sum(axis=(-2, -1))
    return 0.5 * (2 * np.pi * sigma) ** 2 * total


def echo_chi(total_time: ArrayLike, sigma: float, tau_c: float) -> NDArray[np.float64]:
    """χ of a Hahn echo with ideal pulses and total free evolution T (closed form):
    ``(2πσ)² τc² [T/τc − 3 + 4 e^{−T/(2τc)} − e^{−T/τc}]``."""
    t = np.asarray(total_time, dtype=float)
    if math.isinf(tau_c):
        return np.zeros_like(t)
    x = t / tau_c
    bracket = x + 4 * np.expm1(-x / 2) - np.expm1(-x)
    # for small x the bracket is x³/12 − x⁴/32 + ...: the series avoids the cancellation
    small = x < 1e-2
    if np.any(small):
        xs = x[small] if x.ndim else x
        series = sum((-1) ** k * (4 / 2**k - 1) / math.factorial(k) * xs**k
                     for k in range(3, 10))
        bracket = np.where(small, 0.0, bracket)
        if x.ndim:
            bracket[small] = series
        else:
            bracket = np.asarray(series)
    return (2 * np.pi * sigma) ** 2 * tau_c**2 * bracket


def bath_sigma_for_t2(t2: float, tau_c: float) -> float:
    """The bath RMS detuning σ (Hz) that gives a Hahn-echo coherence of 1/e at total free
    evolution ``t2`` (χ(T2) = 1), for correlation time ``tau_c``."""
    if not (t2 > 0 and tau_c > 0) or math.isinf(t2):
        raise ValueError(f"t2 and tau_c must be positive and finite, not {t2!r}, {tau_c!r}")
    unit = float(echo_chi(t2, 1.0, tau_c))
    return 1.0 / math.sqrt(unit)
