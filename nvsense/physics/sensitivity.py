"""Photon-shot-noise-limited sensitivity of CW-ODMR magnetometry."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .constants import GAMMA_NV_HZ_PER_T

__all__ = ["LORENTZIAN_SLOPE_FACTOR", "shot_noise_sensitivity"]

#: 4/(3√3): the inverse of a Lorentzian dip's maximum slope, 3√3·C/(4Δν), reached at a
#: detuning Δν/(2√3) from the centre (Δν the FWHM, C the contrast).
LORENTZIAN_SLOPE_FACTOR = 4.0 / (3.0 * np.sqrt(3.0))


def shot_noise_sensitivity(
    linewidth: ArrayLike,
    contrast: ArrayLike,
    count_rate: ArrayLike,
) -> NDArray[np.float64] | float:
    """Shot-noise-limited field sensitivity of CW-ODMR, in T/√Hz.

    ``η = (4 / (3√3)) · h/(g μB) · Δν / (C √R)`` (Dréau et al., PRB 84, 195204, 2011; Barry et
    al., RMP 92, 015004, 2020), for a Lorentzian line read out at its steepest point, with the
    field projected on the NV axis.

    Parameters
    ----------
    linewidth
        Full width at half maximum Δν of the ODMR line, Hz.
    contrast
        Fractional dip depth C (0.01 for 1 %), between 0 and 1.
    count_rate
        Detected photon rate R off resonance, 1/s.

    Returns
    -------
    float or ndarray
        η in T/√Hz (broadcast over array inputs).

    Raises
    ------
    ValueError
        If a value is not finite or outside its range (linewidth and rate > 0, 0 < C ≤ 1).

    Examples
    --------
    >>> round(shot_noise_sensitivity(1e6, 0.01, 1e12) * 1e9, 3)  # nT/√Hz
    2.746
    """
    width = np.asarray(linewidth, dtype=float)
    c = np.asarray(contrast, dtype=float)
    rate = np.asarray(count_rate, dtype=float)
    for name, value, ok, hint in (
        ("linewidth", width, width > 0, "a FWHM in Hz > 0, e.g. 1e6"),
        ("contrast", c, (c > 0) & (c <= 1), "a fraction in (0, 1], e.g. 0.01 for 1 %"),
        ("count_rate", rate, rate > 0, "a photon rate in 1/s > 0, e.g. 1e12"),
    ):
        if not np.all(np.isfinite(value) & ok):
            raise ValueError(f"{name} must be {hint}, not {value.tolist()!r}")
    eta = LORENTZIAN_SLOPE_FACTOR / GAMMA_NV_HZ_PER_T * width / (c * np.sqrt(rate))
    return float(eta) if eta.ndim == 0 else eta
