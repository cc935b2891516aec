"""Uniformly sampled time series, from numpy arrays or xarray objects.

The noise functions accept a B(t) series in any of the forms a user has at hand: a numpy array
with its sample rate, an xarray DataArray with a ``time`` coordinate in seconds, or a tracking
run Dataset (dimension ``time``, variable ``field`` in T, or ``field_x``/``field_y``/``field_z``).
:func:`as_series` turns each of them into a :class:`Series`, or raises one clear error naming
what is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..units import QuantityError, parse_quantity

__all__ = ["MIN_SAMPLES", "Series", "as_series"]

#: Shortest series the noise functions accept.
MIN_SAMPLES = 16

# Timestamps of a steady-rate recorder may jitter a little (host clocks); more than this is
# not a uniformly sampled series and a spectral estimate of it would be wrong.
_MAX_TIMING_JITTER = 0.05


@dataclass(frozen=True)
class Series:
    """A uniformly sampled, finite, real time series.

    Attributes
    ----------
    values
        Samples, shape (n,).  Magnetic fields are in T.
    sample_rate
        Samples per second, Hz.
    unit
        Unit of ``values`` (``"T"`` for fields).
    name
        Name of the quantity (the variable name for xarray input).
    """

    values: NDArray[np.float64]
    sample_rate: float
    unit: str = "T"
    name: str = "field"

    @property
    def duration(self) -> float:
        """Length of the series in s (number of samples / sample rate)."""
        return self.values.size / self.sample_rate


def as_series(
    data: Any,
    sample_rate: float | None = None,
    *,
    variable: str | None = None,
) -> Series:
    """Read ``data`` as a uniformly sampled series.

    Parameters
    ----------
    data
        A :class:`Series`; a 1-D numpy array (or sequence) of samples; an
        ``xarray.DataArray`` with dimension ``time`` (coordinate in s, or datetime64); or an
        ``xarray.Dataset`` with such a variable.
    sample_rate
        Samples per second, Hz.  Required for arrays; for xarray input it is taken from the
        ``time`` coordinate, and a ``sample_rate`` given as well must agree with it.
    variable
        Variable of a Dataset to use.  Default ``"field"``.

    Raises
    ------
    ValueError
        If the data are not a finite, real, 1-D, uniformly sampled series of at least
        :data:`MIN_SAMPLES` samples, or the sample rate is missing or invalid.
    """
    if isinstance(data, Series):
        return data
    try:
        import xarray as xr
    except ImportError:  # pragma: no cover - xarray is a dependency
        xr = None
    if xr is not None and isinstance(data, xr.Dataset):
        data = _pick_variable(data, variable)
    if xr is not None and isinstance(data, xr.DataArray):
        return _from_dataarray(data, sample_rate)
    if variable is not None:
        raise ValueError(f"variable={variable!r} is only meaningful for an xarray Dataset")
    values = _check_values(np.asarray(data), "the series")
    if sample_rate is None:
        raise ValueError("a numpy series needs its sample rate: pass sample_rate=<Hz>, "
                         "or pass an xarray DataArray with a 'time' coordinate in s")
    return Series(values, _check_rate(sample_rate))


def _pick_variable(ds: Any, variable: str | None) -> Any:
    name = variable or "field"
    if name in ds.data_vars:
        return ds[name]
    fields = [v for v in ("field_x", "field_y", "field_z") if v in ds.data_vars]
    if variable is None and fields:
        raise ValueError(f"the dataset has no 'field' but has {', '.join(fields)}: "
                         f"pass variable={fields[0]!r} (one component at a time)")
    raise ValueError(f"the dataset has no variable {name!r}; it has "
                     f"{', '.join(map(str, ds.data_vars)) or 'no variables'}: "
                     "pass variable=<one of them>")


def _from_dataarray(da: Any, sample_rate: float | None) -> Series:
    name = str(da.name) if da.name is not None else "field"
    if da.dims != ("time",):
        raise ValueError(f"{name!r} has dimensions {da.dims}; a time series needs exactly one "
                         "dimension named 'time' (select the others away, e.g. .sel(axis=0))")
    values = _check_values(np.asarray(da.values), repr(name))
    unit, scale = _unit_of(da.attrs.get("units"))
    values = values * scale
    if "time" in da.coords:
        rate = _rate_from_time(np.asarray(da["time"].values))
        if sample_rate is not None and abs(_check_rate(sample_rate) - rate) > 1e-3 * rate:
            raise ValueError(f"sample_rate={sample_rate} Hz disagrees with the 'time' "
                             f"coordinate ({rate:.6g} Hz): leave sample_rate out")
    elif sample_rate is None:
        raise ValueError(f"{name!r} has no 'time' coordinate: add one in s, or pass "
                         "sample_rate=<Hz>")
    else:
        rate = _check_rate(sample_rate)
    return Series(values, rate, unit, name)


def _check_values(values: NDArray[Any], what: str) -> NDArray[np.float64]:
    if values.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, not of shape {values.shape}; "
                         "pass one component at a time")
    if np.iscomplexobj(values) or not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"{what} must hold real numbers, not {values.dtype}")
    if values.size < MIN_SAMPLES:
        raise ValueError(f"{what} has {values.size} samples; at least {MIN_SAMPLES} are "
                         "needed for a noise estimate")
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ValueError(f"{what} has {bad} missing (NaN/inf) samples; cut the series to a "
                         "gap-free stretch or fill them (e.g. .interpolate_na('time'))")
    return values.astype(float, copy=False)


def _check_rate(sample_rate: Any) -> float:
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise ValueError(f"sample_rate must be a number in Hz, not {sample_rate!r}") from None
    if not np.isfinite(rate) or rate <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, not {sample_rate!r}")
    return rate


def _rate_from_time(time: NDArray[Any]) -> float:
    if np.issubdtype(time.dtype, np.datetime64):
        time = (time - time[0]) / np.timedelta64(1, "s")
    elif np.issubdtype(time.dtype, np.timedelta64):
        time = time / np.timedelta64(1, "s")
    time = np.asarray(time, dtype=float)
    steps = np.diff(time)
    if steps.size == 0 or np.any(~np.isfinite(steps)) or np.any(steps <= 0):
        raise ValueError("the 'time' coordinate must increase strictly (seconds)")
    mean_step = (time[-1] - time[0]) / steps.size
    if np.max(np.abs(steps - mean_step)) > _MAX_TIMING_JITTER * mean_step:
        raise ValueError("the 'time' coordinate is not uniformly sampled (steps vary by more "
                         f"than {_MAX_TIMING_JITTER:.0%}); resample it onto a uniform grid "
                         "first, e.g. with .interp(time=...)")
    return 1.0 / mean_step


def _unit_of(units: Any) -> tuple[str, float]:
    """The unit a series is reported in and the factor to get there: magnetic fields go to
    T; anything else is left in its own unit."""
    if not units:
        return "T", 1.0
    try:
        return "T", parse_quantity(f"1 {units}", "T")
    except QuantityError:
        return str(units), 1.0
