"""Checking and converting the fitters' inputs: frequencies, spectra and noise (sigma).

Internally the fitters work on ``x = (f − f_ref) / 1 MHz`` with ``f_ref`` the middle of the
sweep, so that centers and widths are numbers of order 1–100 whatever the absolute frequency.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import FitInputError, PoissonWeightsWarning

__all__ = ["MHZ", "Sweep", "check_counts", "check_sweep", "counts_scale", "is_poisson",
           "weights_for"]

#: Internal frequency unit.
MHZ = 1e6


@dataclass(frozen=True)
class Sweep:
    """A checked frequency axis.

    Attributes
    ----------
    frequencies
        The frequencies as given (Hz).
    x
        Internal axis: ascending, ``(f − f_ref) / MHZ``.
    f_ref
        Reference frequency (middle of the sweep), Hz.
    reverse
        True if the given frequencies descend (spectra columns are reversed internally).
    """

    frequencies: NDArray[np.float64]
    x: NDArray[np.float64]
    f_ref: float
    reverse: bool

    @property
    def n(self) -> int:
        return int(self.x.size)

    @cached_property
    def step_mhz(self) -> float:
        """Median point spacing in MHz (computed once)."""
        return float(np.median(np.diff(self.x)))

    @property
    def span_mhz(self) -> float:
        return float(self.x[-1] - self.x[0])

    def to_internal(self, f_hz: Any) -> NDArray[np.float64]:
        return (np.asarray(f_hz, dtype=float) - self.f_ref) / MHZ

    def to_hz(self, x: Any) -> NDArray[np.float64]:
        return np.asarray(x, dtype=float) * MHZ + self.f_ref

    def columns(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Spectra (..., n) in internal (ascending) column order."""
        return values[..., ::-1] if self.reverse else values


def check_sweep(frequencies: Any, min_points: int = 4) -> Sweep:
    """Check the frequency axis: 1-D, finite, strictly monotonic, at least ``min_points``."""
    try:
        f = np.asarray(frequencies, dtype=float)
    except (TypeError, ValueError):
        raise FitInputError("frequencies must be a 1-D array of numbers in Hz") from None
    if f.ndim != 1:
        raise FitInputError(f"frequencies must be 1-D (one value per point, Hz), got shape "
                            f"{f.shape}")
    if f.size < min_points:
        raise FitInputError(f"the sweep has {f.size} points; this model needs at least "
                            f"{min_points}")
    if not np.all(np.isfinite(f)):
        raise FitInputError("frequencies contain NaN or inf; give finite values in Hz")
    d = np.diff(f)
    if np.all(d > 0):
        reverse = False
    elif np.all(d < 0):
        reverse = True
    else:
        raise FitInputError("frequencies must be strictly increasing or decreasing (no repeated "
                            "points); sort the sweep and its spectra first")
    fa = f[::-1] if reverse else f
    f_ref = 0.5 * (fa[0] + fa[-1])
    x = (fa - f_ref) / MHZ
    return Sweep(f, np.ascontiguousarray(x), float(f_ref), reverse)


def check_spectra_shape(shape: tuple[int, ...], n_freq: int) -> tuple[int, bool]:
    """(N, squeezed) for spectra of ``shape``: (n_freq,) or (N, n_freq)."""
    if len(shape) == 1:
        if shape[0] != n_freq:
            raise FitInputError(f"the spectrum has {shape[0]} points but frequencies has "
                                f"{n_freq}; they must match")
        return 1, True
    if len(shape) != 2 or shape[1] != n_freq:
        raise FitInputError(f"spectra must have shape (N, n_freq) = (N, {n_freq}), got "
                            f"{tuple(shape)}; reshape an image cube to (pixels, n_freq) first")
    return int(shape[0]), False


def is_poisson(sigma: Any) -> bool:
    """Whether ``sigma`` asks for Poisson weights (raises for any other string)."""
    if not isinstance(sigma, str):
        return False
    if sigma.strip().lower() != "poisson":
        raise FitInputError(f"sigma={sigma!r} is not understood; use None, 'poisson', a "
                            f"number or an array of standard deviations")
    return True


def counts_scale(n_averages: Any, counts_per_unit: Any) -> float:
    """Counts per signal unit of averaged spectra: ``n_averages · counts_per_unit``
    (``counts_per_unit=None``: 1)."""
    if counts_per_unit is None:
        counts_per_unit = 1.0
    if isinstance(n_averages, bool) or not isinstance(n_averages, int | np.integer) or (
            n_averages < 1):
        raise FitInputError(f"n_averages must be a whole number ≥ 1 (the sweeps averaged), got "
                            f"{n_averages!r}")
    try:
        k = float(counts_per_unit)
    except (TypeError, ValueError):
        k = float("nan")
    if not (np.isfinite(k) and k > 0):
        raise FitInputError(f"counts_per_unit must be a positive number (counts per unit of "
                            f"the signal, e.g. the dwell time in s for counts/s), got "
                            f"{counts_per_unit!r}")
    return float(n_averages) * k


def check_counts(Y: NDArray[np.float64], scale: float = 1.0, declared: bool = False) -> None:
    """Warn (``PoissonWeightsWarning``) when Poisson weights are asked for on data that
    cannot be photon counts: σ = √counts is then meaningless and so are χ² and the errors.

    ``declared``: the caller gave the counts scale (``n_averages`` > 1 or ``counts_per_unit``),
    so values that are not whole numbers are expected (averages, photo-electrons from a
    camera's gain) and not warned about.  Looks at up to 32 rows spread over ``Y`` (a warning
    needs no more)."""
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 2 and Y.shape[0] > 32:
        Y = Y[:: Y.shape[0] // 32][:32]
    counts = Y * scale if scale != 1.0 else Y
    if not np.isfinite(counts).all():
        counts = counts[np.isfinite(counts)]
        if counts.size == 0:
            return
    frac = np.abs(counts - np.rint(counts))
    low = counts.min()
    if low >= 0 and frac.max() <= 1e-6 * max(1.0, low):
        return  # whole, non-negative numbers: counts
    fix = ("give sigma=None (errors from the scatter), the noise as sigma=, or the counts "
           "per unit (n_averages=, counts_per_unit=)")
    median = float(np.median(counts))
    if low < 0:
        reason = "it has negative values"
    elif median < 20 and np.any(frac > 1e-6):
        reason = (f"its values are small and fractional (median {median:.3g}: "
                  f"normalised or a voltage?)")
    elif not declared and np.mean(frac > 1e-6 * np.maximum(1.0, counts)) > 0.5:
        reason = ("its values are not whole numbers (rates, or averages of several sweeps?); "
                  "for averages give n_averages=, for rates counts_per_unit= (the dwell time)")
    else:
        return
    warnings.warn(f"sigma='poisson' asks for photon counts, but the signal cannot be counts: "
                  f"{reason}; {fix}", PoissonWeightsWarning, stacklevel=3)


def weights_for(sigma: Any, Y: NDArray[np.float64], sweep: Sweep,
                rows: slice | None = None, counts: float = 1.0) -> NDArray[np.float64]:
    """Weights 1/σ for the spectra ``Y`` (N, n) in internal column order.

    Parameters
    ----------
    sigma
        None (uniform weights), ``"poisson"`` (σ = √max(y·k, 1)/k with k = ``counts``, the
        counts per signal unit: 1 for raw counts, N for the average of N sweeps), a positive
        number, an array of shape (n_freq,) shared by all spectra, or (N_total, n_freq) per
        spectrum (``rows`` selects this chunk's rows).  Rows with non-finite or non-positive
        σ get NaN weights, which the kernel flags as bad input.
    """
    N, n = Y.shape
    if sigma is None:
        return np.ones((N, n))
    if is_poisson(sigma):
        with np.errstate(invalid="ignore"):
            return counts / np.sqrt(np.maximum(Y * counts, 1.0))
    if np.ndim(sigma) == 0:
        s = float(sigma)
        if not (np.isfinite(s) and s > 0):
            raise FitInputError(f"sigma must be positive and finite, got {sigma!r}")
        return np.full((N, n), 1.0 / s)
    shape = getattr(sigma, "shape", None) or np.shape(sigma)
    if len(shape) == 1:
        s = np.asarray(sigma, dtype=float)
        if s.size != n:
            raise FitInputError(f"sigma has {s.size} values but the sweep has {n} points")
        if not np.all(np.isfinite(s) & (s > 0)):
            raise FitInputError("sigma must be positive and finite at every point")
        return np.ascontiguousarray(np.broadcast_to(1.0 / sweep.columns(s), (N, n)))
    if len(shape) == 2 and shape[1] == n:
        block = np.asarray(sigma[rows] if rows is not None else sigma, dtype=float)
        if block.shape != (N, n):
            raise FitInputError(f"sigma of shape {tuple(shape)} does not match the spectra "
                                f"(N, {n})")
        with np.errstate(divide="ignore", invalid="ignore"):
            w = 1.0 / sweep.columns(block)
        w[~(np.isfinite(w) & (w >= 0))] = np.nan  # σ = inf (w = 0) ignores a point
        return np.ascontiguousarray(w)
    raise FitInputError(f"sigma of shape {tuple(shape)} does not fit spectra of shape "
                        f"(N, {n}); give a number, (n_freq,) or (N, n_freq)")
