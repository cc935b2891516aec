"""Overlapping Allan deviation of a magnetometer's B(t).

For white field noise of one-sided density ρ (unit/√Hz) the Allan deviation is
``ρ / √(2τ)``: the field averaged over τ, compared with the next τ.  Drift makes it turn up at
long τ; the minimum tells the best averaging time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .timeseries import as_series

__all__ = ["AllanDeviation", "allan_deviation"]


@dataclass(frozen=True)
class AllanDeviation:
    """Overlapping Allan deviation.

    Attributes
    ----------
    tau
        Averaging times, s.
    deviation
        Allan deviation at each τ, in the series' unit.
    error
        Approximate 1-σ uncertainty of ``deviation``: deviation / √(number of independent
        τ-long pairs), conservative for the overlapping estimator.
    n_terms
        Number of (overlapping) second differences averaged at each τ.
    unit
        Unit of the series.
    """

    tau: NDArray[np.float64]
    deviation: NDArray[np.float64]
    error: NDArray[np.float64]
    n_terms: NDArray[np.int64]
    unit: str

    def to_dataarray(self) -> Any:
        """The deviation as an ``xarray.DataArray`` over ``tau`` (s), with ``error`` as a
        coordinate."""
        import xarray as xr

        return xr.DataArray(
            self.deviation,
            coords={"tau": ("tau", self.tau, {"units": "s"}),
                    "error": ("tau", self.error, {"units": self.unit})},
            dims="tau",
            name="allan_deviation",
            attrs={"units": self.unit, "long_name": "overlapping Allan deviation"},
        )


def allan_deviation(
    data: Any,
    sample_rate: float | None = None,
    *,
    variable: str | None = None,
    taus: ArrayLike | None = None,
    per_decade: int = 10,
) -> AllanDeviation:
    """Overlapping Allan deviation of a uniformly sampled series.

    Parameters
    ----------
    data, sample_rate, variable
        The series (see :func:`nvsense.analysis.as_series`).
    taus
        Averaging times in s; each is rounded to a whole number m of samples (1 ≤ m ≤
        (n − 1)/2) and duplicates dropped.  Default: ``per_decade`` log-spaced values from one
        sample to a quarter of the series.
    per_decade
        Density of the default τ grid.

    Returns
    -------
    AllanDeviation
    """
    series = as_series(data, sample_rate, variable=variable)
    y, rate = series.values, series.sample_rate
    n = y.size
    max_m = (n - 1) // 2
    if taus is None:
        top = max(1, n // 4)
        grid = np.logspace(0, np.log10(top), max(2, int(per_decade * np.log10(top)) + 1))
        m = np.unique(np.round(grid).astype(int))
    else:
        m = np.unique(np.round(np.atleast_1d(np.asarray(taus, dtype=float)) * rate).astype(int))
        if m.size == 0 or m[0] < 1 or m[-1] > max_m:
            raise ValueError(f"taus must lie between one sample ({1 / rate:.3g} s) and half the "
                             f"series ({max_m / rate:.3g} s)")
    # Phase-like integral of the series: x[i] = Σ_{j<i} y[j] / rate.  Subtracting the mean
    # first keeps the cumulative sum small (a 1 mT offset would swamp nT fluctuations).
    x = np.concatenate([[0.0], np.cumsum(y - y.mean())]) / rate
    deviation = np.empty(m.size)
    n_terms = np.empty(m.size, dtype=np.int64)
    for i, mi in enumerate(m):
        second = x[2 * mi:] - 2.0 * x[mi:-mi] + x[:-2 * mi]
        tau = mi / rate
        deviation[i] = np.sqrt(np.mean(second**2) / (2.0 * tau**2))
        n_terms[i] = second.size
    independent = np.maximum(n // m - 1, 1)
    return AllanDeviation(tau=m / rate, deviation=deviation,
                          error=deviation / np.sqrt(independent), n_terms=n_terms,
                          unit=series.unit)
