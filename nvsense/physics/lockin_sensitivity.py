"""Sine frequency modulation with lock-in demodulation of a Lorentzian ODMR line.

The microwave frequency is modulated as ``f(t) = f_c + δ·sin(2π f_m t)`` and the photodiode
signal ``S(t) = S_0·(1 − Σ_k L_k(f(t)))`` is demodulated at ``f_m``.  With a Lorentzian dip
``L(f) = C·hw² / ((f − f_0)² + hw²)`` (``hw = Δν/2``, Δν the FWHM, C the contrast), the
first-harmonic (peak) amplitude of ``S/S_0`` in phase with ``sin(2π f_m t)`` is, exactly,

    a₁(x) = −(2 C hw / δ) · Im[1 − z / √(z² − δ²)],     z = x − i·hw,  x = f_c − f_0,

which follows from the phase averages ``⟨1/(z + δ sin φ)⟩ = 1/√(z² − δ²)`` and
``⟨sin φ/(z + δ sin φ)⟩ = (1 − z/√(z² − δ²))/δ`` (square roots on the branch
``√(z − δ)·√(z + δ)``, continuous for ``Im z < 0``).  Its slope at the line centre is

    |da₁/dx|(0) = 2 C hw δ / (hw² + δ²)^{3/2},

largest at ``δ = hw/√2 = Δν/(2√2) ≈ 0.354 Δν``, where it is ``(4/3)^{3/2}·C/hw ≈ 1.540 C/Δν``:
the value El-Ella et al. quote for sine FM with lock-in detection (Opt. Express 25, 14809,
2017: slope ≈ 1.54 C/Δν at δ ≈ 0.35 Δν).  For δ ≪ Δν the lock-in output is δ times the
derivative of the Lorentzian (:func:`lorentzian_derivative_signal`), the dispersive model
used to calibrate a lock-in sweep.

Shot-noise limit of the scheme
------------------------------
A photocurrent ``I = q·Rₑ`` (Rₑ detected electrons/s) carries white shot noise of one-sided
PSD ``2qI``.  Demodulating with ``2·sin(2π f_m t)`` (the reference that returns the peak
amplitude a₁) maps it to a one-sided baseband PSD of ``4qI`` in the demodulated output.  The
output changes by ``q Rₑ·|da₁/dx|·γ`` per tesla along the NV axis, so the one-sided field ASD
is ``2·√(1 − ⟨L⟩) / (|da₁/dx|·γ·√Rₑ)``, with ``⟨L⟩`` the dip averaged over the modulation
(it lowers the mean current).  In the δB·√t convention of the CW formula (Dréau et al. 2011;
Barry et al., RMP 92, 015004, 2020; REFERENCES.md "Noise conventions": an ASD A corresponds to
η = A/√2)

    η_lock-in = √2 · √(1 − ⟨L⟩) / (γ · |da₁/dx| · √Rₑ),

which at the optimum depth is ``≈ 0.919·Δν/(γ C √Rₑ)``: a factor ``√2·(4/(3√3))⁻¹/1.540 ≈
1.19`` above the CW steepest-slope limit ``(4/(3√3))·Δν/(γ C √R)``, because sine modulation
spends time at less steep detunings.

All functions take SI floats (Hz, s⁻¹) and broadcast over arrays.  This module imports nothing
of nvsense outside :mod:`nvsense.physics`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .constants import GAMMA_NV_HZ_PER_T

__all__ = [
    "ELEMENTARY_CHARGE_C",
    "OPTIMAL_DEPTH_PER_FWHM",
    "PEAK_FM_SLOPE_PER_CONTRAST",
    "fm_first_harmonic",
    "fm_lockin_slope",
    "fm_mean_dip",
    "lockin_shot_noise_floor",
    "lockin_shot_noise_sensitivity",
    "lorentzian_derivative_signal",
    "optimal_modulation_depth",
    "photocurrent_shot_noise",
]

#: Elementary charge, C (exact, SI 2019).
ELEMENTARY_CHARGE_C = 1.602176634e-19
#: Optimal sine-FM depth δ in units of the FWHM Δν: 1/(2√2) ≈ 0.3536 (El-Ella et al. 2017: ≈0.35).
OPTIMAL_DEPTH_PER_FWHM = 1.0 / (2.0 * np.sqrt(2.0))
#: Largest first-harmonic slope |da₁/dx| in units of C/Δν: 2√2·(2/3)^{3/2} ≈ 1.5396
#: (El-Ella et al. 2017: ≈1.54).
PEAK_FM_SLOPE_PER_CONTRAST = 2.0 * (2.0 / 3.0) ** 1.5 * np.sqrt(2.0)


def _check_positive(name: str, value: NDArray[np.float64], hint: str) -> None:
    if not np.all(np.isfinite(value) & (value > 0)):
        raise ValueError(f"{name} must be {hint}, not {np.asarray(value).tolist()!r}")


def _check_contrast(contrast: NDArray[np.float64]) -> None:
    if not np.all(np.isfinite(contrast) & (contrast > 0) & (contrast <= 1)):
        raise ValueError(f"contrast must be a fraction in (0, 1], e.g. 0.01 for 1 %, not "
                         f"{np.asarray(contrast).tolist()!r}")


def _sqrt_branch(z: NDArray[np.complex128], delta: NDArray[np.float64]) -> NDArray[np.complex128]:
    """√(z² − δ²) on the branch √(z − δ)·√(z + δ), analytic for Im z < 0."""
    return np.sqrt(z - delta) * np.sqrt(z + delta)


def fm_first_harmonic(detuning: ArrayLike, linewidth: ArrayLike, contrast: ArrayLike,
                      deviation: ArrayLike) -> NDArray[np.float64] | float:
    """In-phase first-harmonic amplitude of a Lorentzian dip under sine FM, exact.

    Parameters
    ----------
    detuning
        ``x = f_c − f_0``: carrier minus line centre, Hz.
    linewidth
        FWHM Δν of the line, Hz.
    contrast
        Fractional dip depth C.
    deviation
        Peak FM deviation δ, Hz (> 0).

    Returns
    -------
    float or ndarray
        The coefficient of ``sin(2π f_m t)`` in ``S(t)/S_0 = 1 − L(f_c + δ sin 2π f_m t)``:
        a dispersive curve through zero at the line centre, with a positive slope there (for
        a dip, the signal rises with the instantaneous frequency when the carrier sits above
        the line).  An RMS lock-in output is this divided by √2.
    """
    x = np.asarray(detuning, dtype=float)
    width = np.asarray(linewidth, dtype=float)
    c = np.asarray(contrast, dtype=float)
    d = np.asarray(deviation, dtype=float)
    _check_positive("linewidth", width, "a FWHM in Hz > 0")
    _check_contrast(c)
    _check_positive("deviation", d, "a peak FM deviation in Hz > 0")
    hw = 0.5 * width
    z = x - 1j * hw
    a_dip = (2.0 * c * hw / d) * (1.0 - z / _sqrt_branch(z, d)).imag
    out = -a_dip  # the dip enters S with a minus sign
    return float(out) if out.ndim == 0 else out


def fm_mean_dip(detuning: ArrayLike, linewidth: ArrayLike, contrast: ArrayLike,
                deviation: ArrayLike) -> NDArray[np.float64] | float:
    """Dip depth averaged over one sine-FM period, ``⟨L⟩ = C·hw·Im[1/√(z² − δ²)]``."""
    x = np.asarray(detuning, dtype=float)
    hw = 0.5 * np.asarray(linewidth, dtype=float)
    c = np.asarray(contrast, dtype=float)
    d = np.asarray(deviation, dtype=float)
    _check_positive("linewidth", 2 * hw, "a FWHM in Hz > 0")
    _check_contrast(c)
    if not np.all(np.isfinite(d) & (d >= 0)):
        raise ValueError(f"deviation must be ≥ 0 Hz, not {d.tolist()!r}")
    z = x - 1j * hw
    out = c * hw * (1.0 / _sqrt_branch(z, d)).imag
    return float(out) if out.ndim == 0 else out


def fm_lockin_slope(linewidth: ArrayLike, contrast: ArrayLike,
                    deviation: ArrayLike) -> NDArray[np.float64] | float:
    """Slope |da₁/dx| of the first-harmonic amplitude at the line centre, per Hz.

    ``2 C hw δ / (hw² + δ²)^{3/2}`` with ``hw = Δν/2``; in units of the off-resonance signal
    per Hz of detuning (peak amplitude; divide by √2 for an RMS lock-in output).
    """
    hw = 0.5 * np.asarray(linewidth, dtype=float)
    c = np.asarray(contrast, dtype=float)
    d = np.asarray(deviation, dtype=float)
    _check_positive("linewidth", 2 * hw, "a FWHM in Hz > 0")
    _check_contrast(c)
    _check_positive("deviation", d, "a peak FM deviation in Hz > 0")
    out = 2.0 * c * hw * d / (hw * hw + d * d) ** 1.5
    return float(out) if out.ndim == 0 else out


def optimal_modulation_depth(linewidth: ArrayLike) -> NDArray[np.float64] | float:
    """The sine-FM deviation δ = Δν/(2√2) that maximises :func:`fm_lockin_slope`, Hz."""
    width = np.asarray(linewidth, dtype=float)
    _check_positive("linewidth", width, "a FWHM in Hz > 0")
    out = OPTIMAL_DEPTH_PER_FWHM * width
    return float(out) if out.ndim == 0 else out


def lorentzian_derivative_signal(detuning: ArrayLike, linewidth: ArrayLike,
                                 contrast: ArrayLike,
                                 deviation: ArrayLike) -> NDArray[np.float64] | float:
    """Small-depth model of the lock-in signal: ``−δ·dL/dx`` (the Lorentzian derivative).

    ``dL/dx = −2 C hw² x / (x² + hw²)²``; it equals :func:`fm_first_harmonic` to first order
    in δ/Δν, and is the dispersive shape fitted to a lock-in sweep to calibrate its slope.
    """
    x = np.asarray(detuning, dtype=float)
    hw = 0.5 * np.asarray(linewidth, dtype=float)
    c = np.asarray(contrast, dtype=float)
    d = np.asarray(deviation, dtype=float)
    _check_positive("linewidth", 2 * hw, "a FWHM in Hz > 0")
    _check_contrast(c)
    dl_dx = -2.0 * c * hw * hw * x / (x * x + hw * hw) ** 2
    out = -d * dl_dx
    return float(out) if out.ndim == 0 else out


def photocurrent_shot_noise(current: ArrayLike) -> NDArray[np.float64] | float:
    """One-sided shot-noise ASD of a photocurrent, ``√(2qI)`` in A/√Hz."""
    i = np.asarray(current, dtype=float)
    if not np.all(np.isfinite(i) & (i >= 0)):
        raise ValueError(f"current must be ≥ 0 A, not {i.tolist()!r}")
    out = np.sqrt(2.0 * ELEMENTARY_CHARGE_C * i)
    return float(out) if out.ndim == 0 else out


def lockin_shot_noise_sensitivity(linewidth: ArrayLike, contrast: ArrayLike,
                                  photon_rate: ArrayLike, deviation: ArrayLike | None = None,
                                  *, quantum_efficiency: float = 1.0
                                  ) -> NDArray[np.float64] | float:
    """Shot-noise-limited sensitivity η of sine-FM lock-in detection at the line centre, T/√Hz.

    ``η = √2·√(1 − ⟨L⟩) / (γ·|da₁/dx|·√Rₑ)`` (module docstring), with ``Rₑ`` the detected
    electron rate ``quantum_efficiency × photon_rate`` off resonance.  Same δB·√t convention as
    :func:`nvsense.physics.shot_noise_sensitivity`; the one-sided noise floor it implies is
    :func:`lockin_shot_noise_floor` = √2·η.

    Parameters
    ----------
    linewidth, contrast
        FWHM Δν (Hz) and contrast C of the (single) Lorentzian line.
    photon_rate
        Photons/s reaching the photodiode off resonance (10¹⁴–10¹⁵ for ensemble sensors).
    deviation
        Peak FM deviation δ in Hz; default the optimum Δν/(2√2).
    quantum_efficiency
        Electrons per photon (0 < QE ≤ 1).

    Examples
    --------
    >>> eta = lockin_shot_noise_sensitivity(1e6, 0.01, 1e15)   # T/√Hz
    >>> round(eta * 1e12, 1)   # pT/√Hz
    103.2
    """
    width = np.asarray(linewidth, dtype=float)
    rate = np.asarray(photon_rate, dtype=float)
    _check_positive("photon_rate", rate, "a photon rate in 1/s > 0, e.g. 1e15")
    if not (np.isfinite(quantum_efficiency) and 0 < quantum_efficiency <= 1):
        raise ValueError(f"quantum_efficiency must be in (0, 1], not {quantum_efficiency!r}")
    delta = optimal_modulation_depth(width) if deviation is None else deviation
    slope = fm_lockin_slope(width, contrast, delta)
    mean_dip = fm_mean_dip(0.0, width, contrast, delta)
    electrons = quantum_efficiency * rate
    eta = np.sqrt(2.0) * np.sqrt(1.0 - np.asarray(mean_dip)) / (
        GAMMA_NV_HZ_PER_T * np.asarray(slope) * np.sqrt(electrons))
    return float(eta) if np.ndim(eta) == 0 else eta


def lockin_shot_noise_floor(linewidth: ArrayLike, contrast: ArrayLike, photon_rate: ArrayLike,
                            deviation: ArrayLike | None = None, *,
                            quantum_efficiency: float = 1.0) -> NDArray[np.float64] | float:
    """One-sided field ASD (T/√Hz) at the shot-noise limit: √2 × the sensitivity η.

    This is what a spectrum of the measured field, averaged over a band, shows at the limit.
    """
    eta = lockin_shot_noise_sensitivity(linewidth, contrast, photon_rate, deviation,
                                        quantum_efficiency=quantum_efficiency)
    out = np.sqrt(2.0) * np.asarray(eta)
    return float(out) if out.ndim == 0 else out
