"""Phase accumulated by pulsed protocols and their shot-noise-limited field sensitivities.

Formulas from Degen, Reinhard & Cappellaro, "Quantum sensing", Rev. Mod. Phys. 89, 035002
(2017):

- readout efficiency of a spin readout that detects on average ``a0`` photons from ms=0 and
  ``a1`` from ms=±1 per shot: ``C = (1 + 2(a0 + a1)/(a0 − a1)²)^(−1/2)`` (C = 1 for a perfect
  projective readout; ``C ≈ (a0 − a1)/√(2(a0 + a1))`` when photon noise dominates);
- a CPMG / XY8 sequence with π-pulse spacing τ and total evolution T = N·τ accumulates, from an
  AC field ``B·cos(2πf t)`` with f = 1/(2τ) in phase with the pulses, the phase
  ``φ = (2/π)·γ_rad·B·T = 4γBT`` (γ in Hz/T, γ_rad = 2πγ);
- AC sensitivity (slope detection at the steepest point, projection noise scaled by 1/C):
  ``η_ac = π/(2 γ_rad C) · e^{χ(T)} · √(T + t_oh) / T = e^{χ(T)} √(T + t_oh) / (4 γ C T)``,
  with e^{−χ(T)} the coherence left after T and t_oh the overhead per shot (initialisation,
  readout, dead time);
- DC (Ramsey) sensitivity: ``η_dc = e^{χ(τ)} √(τ + t_oh) / (2π γ C τ)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .constants import GAMMA_NV_HZ_PER_T

__all__ = [
    "ac_field_from_phase",
    "ac_phase",
    "ac_sensitivity",
    "ramsey_sensitivity",
    "readout_efficiency",
]


def _positive(name: str, value: ArrayLike) -> NDArray[np.float64]:
    v = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(v) & (v > 0)):
        raise ValueError(f"{name} must be finite and > 0, not {v.tolist()!r}")
    return v


def readout_efficiency(bright: ArrayLike, dark: ArrayLike) -> NDArray[np.float64] | float:
    """Readout efficiency C from mean photons per shot of ms=0 (``bright``) and ms=±1
    (``dark``): ``(1 + 2(a0 + a1)/(a0 − a1)²)^(−1/2)`` (Degen et al. 2017)."""
    a0 = np.asarray(bright, dtype=float)
    a1 = np.asarray(dark, dtype=float)
    if np.any(a0 < 0) or np.any(a1 < 0) or np.any(a0 == a1):
        raise ValueError("bright and dark photon numbers must be >= 0 and differ")
    c = 1.0 / np.sqrt(1.0 + 2.0 * (a0 + a1) / (a0 - a1) ** 2)
    return float(c) if c.ndim == 0 else c


def ac_phase(amplitude: ArrayLike, evolution_time: ArrayLike,
             gamma: float = GAMMA_NV_HZ_PER_T) -> NDArray[np.float64] | float:
    """Phase (rad) an ideal CPMG/XY8 sequence of total evolution T accumulates from an AC field
    of amplitude B (T) at f = 1/(2τ), in phase: ``φ = 4γBT``."""
    phi = 4.0 * gamma * np.asarray(amplitude, dtype=float) * np.asarray(evolution_time, float)
    return float(phi) if phi.ndim == 0 else phi


def ac_field_from_phase(phase: ArrayLike, evolution_time: ArrayLike,
                        gamma: float = GAMMA_NV_HZ_PER_T) -> NDArray[np.float64] | float:
    """AC field amplitude (T) from the phase accumulated over T: ``B = φ/(4γT)``."""
    t = _positive("evolution_time", evolution_time)
    b = np.asarray(phase, dtype=float) / (4.0 * gamma * t)
    return float(b) if b.ndim == 0 else b


def ac_sensitivity(evolution_time: ArrayLike, readout_efficiency: ArrayLike, *,
                   coherence: ArrayLike = 1.0, overhead_time: ArrayLike = 0.0,
                   gamma: float = GAMMA_NV_HZ_PER_T) -> NDArray[np.float64] | float:
    """Shot-noise-limited AC field sensitivity of CPMG/XY8 magnetometry, T/√Hz.

    ``η = √(T + t_oh) / (4 γ C e^{−χ} T)`` (Degen, Reinhard & Cappellaro, RMP 89, 035002, 2017).

    Parameters
    ----------
    evolution_time
        Total evolution T = N·τ, s.
    readout_efficiency
        C (:func:`readout_efficiency`).
    coherence
        e^{−χ(T)}: the coherence left after T (1: none lost).
    overhead_time
        Time per shot besides T (initialisation, readout, waits, pulses), s.
    """
    t = _positive("evolution_time", evolution_time)
    c = _positive("readout_efficiency", readout_efficiency)
    coh = _positive("coherence", coherence)
    oh = np.asarray(overhead_time, dtype=float)
    if np.any(oh < 0):
        raise ValueError("overhead_time must be >= 0")
    eta = np.sqrt(t + oh) / (4.0 * gamma * c * coh * t)
    return float(eta) if eta.ndim == 0 else eta


def ramsey_sensitivity(free_evolution: ArrayLike, readout_efficiency: ArrayLike, *,
                       coherence: ArrayLike = 1.0, overhead_time: ArrayLike = 0.0,
                       gamma: float = GAMMA_NV_HZ_PER_T) -> NDArray[np.float64] | float:
    """Shot-noise-limited DC sensitivity of Ramsey magnetometry, T/√Hz:
    ``η = √(τ + t_oh) / (2π γ C e^{−χ} τ)`` (Degen et al. 2017)."""
    t = _positive("free_evolution", free_evolution)
    c = _positive("readout_efficiency", readout_efficiency)
    coh = _positive("coherence", coherence)
    eta = np.sqrt(t + np.asarray(overhead_time, float)) / (2 * np.pi * gamma * c * coh * t)
    return float(eta) if eta.ndim == 0 else eta
