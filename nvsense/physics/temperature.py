"""Zero-field splitting D versus temperature, and temperature from a measured D.

Three published models are available (``model=``):

``"acosta2010"`` (default)
    Linear, dD/dT = −74.2(7) kHz/K (Acosta et al., PRL 104, 070801, 2010), through
    D(300 K) = :data:`ZFS_HZ`.  Valid 280–330 K, the range of that measurement.  The absolute
    D of a sample differs by ~0.1 MHz (≈ 1 K) from sample to sample (strain), so pass your own
    calibration point with ``reference=(T_ref, D_ref)`` for absolute thermometry.
``"chen2011"``
    Fifth-order polynomial of Chen et al., APL 99, 161903 (2011), measured from liquid-helium
    to room temperature; used here for 5–300 K.
``"toyli2012"``
    Cubic polynomial of Toyli et al., PRX 2, 031001 (2012), measured above room temperature;
    used here for 300–700 K.

The three agree within 0.4 MHz (≈ 5 K) at 300 K.  Outside a model's range the functions raise
ValueError; pass ``strict=False`` to extrapolate with a RuntimeWarning instead.  NaN inputs give
NaN outputs.  Beyond its range a polynomial model is continued linearly with its end-point
slope.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .constants import DZFS_DT_HZ_PER_K, ZFS_HZ

__all__ = ["ZFS_MODELS", "ZfsModel", "temperature_from_zfs", "zfs_at"]

#: Temperature at which the linear model passes through :data:`ZFS_HZ`, K.
REFERENCE_TEMPERATURE_K = 300.0


@dataclass(frozen=True)
class ZfsModel:
    """A D(T) model: polynomial coefficients (Hz, ascending powers of T in K) and its range."""

    name: str
    coefficients: tuple[float, ...]
    t_min: float
    t_max: float
    source: str

    def __call__(self, temperature: ArrayLike) -> NDArray[np.float64]:
        """D in Hz; beyond the range the model continues linearly with its end-point slope
        (polynomials diverge or turn over outside their fit range)."""
        t = np.asarray(temperature, dtype=float)
        inside = np.polynomial.polynomial.polyval(np.clip(t, self.t_min, self.t_max),
                                                  self.coefficients)
        below = self._end(self.t_min) + self._end_slope(self.t_min) * (t - self.t_min)
        above = self._end(self.t_max) + self._end_slope(self.t_max) * (t - self.t_max)
        return np.where(t < self.t_min, below, np.where(t > self.t_max, above, inside))

    def slope(self, temperature: ArrayLike) -> NDArray[np.float64]:
        """dD/dT in Hz/K (constant beyond the range, like the linear continuation)."""
        t = np.clip(np.asarray(temperature, dtype=float), self.t_min, self.t_max)
        deriv = np.polynomial.polynomial.polyder(self.coefficients)
        return np.polynomial.polynomial.polyval(t, deriv)

    def _end(self, t: float) -> float:
        return float(np.polynomial.polynomial.polyval(t, self.coefficients))

    def _end_slope(self, t: float) -> float:
        return float(self.slope(t))


def _linear(t_ref: float, d_ref: float) -> ZfsModel:
    return ZfsModel(
        "acosta2010",
        (d_ref - DZFS_DT_HZ_PER_K * t_ref, DZFS_DT_HZ_PER_K),
        280.0,
        330.0,
        "Acosta et al., PRL 104, 070801 (2010): dD/dT = -74.2(7) kHz/K, 280-330 K",
    )


#: The models by name.  Coefficients in Hz and K (published in GHz and K).
ZFS_MODELS: dict[str, ZfsModel] = {
    "acosta2010": _linear(REFERENCE_TEMPERATURE_K, ZFS_HZ),
    "chen2011": ZfsModel(
        "chen2011",
        tuple(c * 1e9 for c in (2.87771, -4.625e-6, 1.067e-7, -9.325e-10, 1.739e-12, -1.838e-15)),
        5.0,
        300.0,
        "Chen et al., APL 99, 161903 (2011): 5th-order polynomial, below room temperature",
    ),
    "toyli2012": ZfsModel(
        "toyli2012",
        tuple(c * 1e9 for c in (2.8697, 9.7e-5, -3.7e-7, 1.7e-10)),
        300.0,
        700.0,
        "Toyli et al., PRX 2, 031001 (2012): cubic polynomial, 300-700 K",
    ),
}


def _model(model: str, reference: tuple[float, float] | None) -> ZfsModel:
    try:
        chosen = ZFS_MODELS["acosta2010" if model == "linear" else model]
    except KeyError:
        raise ValueError(
            f"unknown D(T) model {model!r}; use one of {', '.join(ZFS_MODELS)}"
        ) from None
    if reference is None:
        return chosen
    if chosen.name != "acosta2010":
        raise ValueError("reference=(T_ref, D_ref) applies to the linear model 'acosta2010' only")
    t_ref, d_ref = (float(v) for v in reference)
    if not (np.isfinite(t_ref) and np.isfinite(d_ref) and t_ref > 0 and d_ref > 0):
        raise ValueError(f"reference must be (T in K, D in Hz), both positive, not {reference!r}")
    return _linear(t_ref, d_ref)


def _check_range(values: NDArray[np.float64], low: float, high: float, what: str,
                 model: ZfsModel, strict: bool) -> None:
    outside = np.isfinite(values) & ((values < low) | (values > high))
    if not np.any(outside):
        return
    worst = values[outside].flat[0]
    message = (
        f"{what} {worst:.6g} is outside the range of the D(T) model {model.name!r} "
        f"({model.t_min:g}-{model.t_max:g} K); choose another model "
        f"({', '.join(ZFS_MODELS)}) or pass strict=False to extrapolate"
    )
    if strict:
        raise ValueError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def zfs_at(
    temperature_K: ArrayLike,
    *,
    model: str = "acosta2010",
    reference: tuple[float, float] | None = None,
    strict: bool = True,
) -> NDArray[np.float64] | float:
    """Zero-field splitting D in Hz at a temperature in kelvin.

    Parameters
    ----------
    temperature_K
        Temperature(s) in K (scalar or array).
    model
        ``"acosta2010"`` (alias ``"linear"``; 280–330 K), ``"chen2011"`` (5–300 K) or
        ``"toyli2012"`` (300–700 K); see the module docstring.
    reference
        ``(T_ref in K, D_ref in Hz)``: a sample's own calibration point for the linear model.
    strict
        Raise ValueError outside the model's range (default); if False, extrapolate and warn.

    Returns
    -------
    float or ndarray
        D in Hz, same shape as the input.

    Examples
    --------
    >>> zfs_at(310.0) / 1e6
    2869.258
    """
    chosen = _model(model, reference)
    t = np.asarray(temperature_K, dtype=float)
    _check_range(t, chosen.t_min, chosen.t_max, "temperature (K)", chosen, strict)
    d = chosen(t)
    return float(d) if d.ndim == 0 else d


def temperature_from_zfs(
    D: ArrayLike,
    *,
    model: str = "acosta2010",
    reference: tuple[float, float] | None = None,
    strict: bool = True,
) -> NDArray[np.float64] | float:
    """Temperature in K from a measured zero-field splitting D in Hz; inverse of :func:`zfs_at`.

    Same options as :func:`zfs_at`.  D(T) decreases monotonically over each model's range, so
    the inverse is unique; polynomial models are inverted by bisection to < 1 µK.

    Raises
    ------
    ValueError
        If D lies outside the model's D range (with ``strict=True``).

    Examples
    --------
    >>> round(temperature_from_zfs(2.869258e9), 6)
    310.0
    """
    chosen = _model(model, reference)
    d = np.asarray(D, dtype=float)
    # D decreases with T, so the D range is [D(t_max), D(t_min)]
    d_low, d_high = chosen(np.array(chosen.t_max)), chosen(np.array(chosen.t_min))
    outside = np.isfinite(d) & ((d < d_low) | (d > d_high))
    if np.any(outside):
        message = (
            f"D = {d[outside].flat[0] / 1e6:.6f} MHz is outside the range of the D(T) model "
            f"{chosen.name!r} ({d_low / 1e6:.3f}-{d_high / 1e6:.3f} MHz, i.e. "
            f"{chosen.t_min:g}-{chosen.t_max:g} K); choose another model "
            f"({', '.join(ZFS_MODELS)}) or pass strict=False to extrapolate"
        )
        if strict:
            raise ValueError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    # D(T) decreases monotonically on each model's range: bisect there (robust where the
    # polynomial is flat, as Chen's is below 20 K), continue linearly beyond it.
    lo = np.full(d.shape, chosen.t_min)
    hi = np.full(d.shape, chosen.t_max)
    for _ in range(60):  # (700 K / 2**60) ≪ 1 µK
        mid = 0.5 * (lo + hi)
        above = chosen(mid) > d  # D too high: the temperature is higher than mid
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    t = 0.5 * (lo + hi)
    t = np.where(d > d_high, chosen.t_min + (d - d_high) / chosen.slope(chosen.t_min), t)
    t = np.where(d < d_low, chosen.t_max + (d - d_low) / chosen.slope(chosen.t_max), t)
    t = np.where(np.isfinite(d), t, np.nan)
    return float(t) if np.ndim(t) == 0 else t
