"""Uniformly sampled time series, from numpy arrays, xarray objects or tracking run files.

The noise functions accept a B(t) series in any of the forms a user has at hand: a numpy array
with its sample rate, an xarray DataArray with a ``time`` coordinate in seconds, or a tracking
run as ``nvsense track`` writes it (the path of its file, or its Dataset from
:func:`nvsense.open_run`): ``field_parallel (time)`` of a one-axis run, or one component of
``field (time, vector)`` of a vector run, named ``variable="field_x"`` (``"field_y"``,
``"field_z"``).  :func:`as_series` turns each of them into a :class:`Series`, or raises one
clear error naming what is wrong and how to fix it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..units import QuantityError, parse_quantity

__all__ = ["MIN_SAMPLES", "Series", "as_series"]

#: Shortest series the noise functions accept.
MIN_SAMPLES = 16

#: Variables tried, in order, when a Dataset is given without ``variable``: a plain B(t)
#: dataset, then a one-axis tracking run.
DEFAULT_VARIABLES = ("field", "field_parallel")

# Components of a vector field: ``field_x`` is ``field.sel(vector="x")`` in a run file.
_COMPONENT_VARIABLES = {"field_x": "x", "field_y": "y", "field_z": "z"}

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
        ``xarray.DataArray`` with dimension ``time`` (coordinate in s, or datetime64); an
        ``xarray.Dataset`` with such a variable, such as a tracking run opened with
        :func:`nvsense.open_run`; or the path of a tracking run file.
    sample_rate
        Samples per second, Hz.  Required for arrays; for xarray input it is taken from the
        ``time`` coordinate, and a ``sample_rate`` given as well must agree with it.
    variable
        Variable of a Dataset (or run file) to use.  Default: ``"field"`` if the dataset has
        a one-dimensional ``field``, else ``"field_parallel"`` (a one-axis tracking run).  For
        a vector run, whose ``field`` has dimensions ``(time, vector)``, name one component:
        ``"field_x"``, ``"field_y"`` or ``"field_z"``.  Any other variable with the single
        dimension ``time`` works too (``"D"``, in Hz).

    Notes
    -----
    A Dataset with a boolean ``locked (time)`` variable (a tracking run) is cut to its longest
    stretch of samples in lock, the samples ``nvsense track`` computes its noise floor from;
    a ``UserWarning`` names the stretch when samples were left out.  Pass the DataArray
    (e.g. ``ds.field_parallel``) to use every sample.

    Raises
    ------
    ValueError
        If the data are not a finite, real, 1-D, uniformly sampled series of at least
        :data:`MIN_SAMPLES` samples, or the sample rate is missing or invalid.
    """
    if isinstance(data, Series):
        return data
    import xarray as xr

    if isinstance(data, str | os.PathLike):
        data = _open_run_file(data)
    if isinstance(data, xr.Dataset):
        data = _locked_stretch(data, _pick_variable(data, variable))
    if isinstance(data, xr.DataArray):
        return _from_dataarray(data, sample_rate)
    if variable is not None:
        raise ValueError(f"variable={variable!r} is only meaningful for an xarray Dataset")
    values = _check_values(np.asarray(data), "the series")
    if sample_rate is None:
        raise ValueError("a numpy series needs its sample rate: pass sample_rate=<Hz>, "
                         "or pass an xarray DataArray with a 'time' coordinate in s")
    return Series(values, _check_rate(sample_rate))


def _open_run_file(path: str | os.PathLike[str]) -> Any:
    from ..storage import open_run  # run files are storage's business; only needed here

    return open_run(path)


def _pick_variable(ds: Any, variable: str | None) -> Any:
    if variable is None:
        for name in DEFAULT_VARIABLES:
            if name in ds.data_vars:
                return _check_not_vector(ds, name)
        fields = [v for v in _COMPONENT_VARIABLES if v in ds.data_vars]
        if fields:
            raise ValueError(f"the dataset has no 'field' but has {', '.join(fields)}: "
                             f"pass variable={fields[0]!r} (one component at a time)")
        raise ValueError(f"the dataset has no 'field' or 'field_parallel'; it has "
                         f"{', '.join(map(str, ds.data_vars)) or 'no variables'}: "
                         "pass variable=<one of them>")
    if variable in ds.data_vars:
        return _check_not_vector(ds, variable)
    label = _COMPONENT_VARIABLES.get(variable)
    if label is not None and "field" in ds.data_vars and "vector" in ds["field"].dims:
        vector = ds["field"]
        if label not in vector["vector"].values:
            raise ValueError(f"the 'vector' coordinate of 'field' has no component {label!r} "
                             f"(it has {', '.join(map(str, vector['vector'].values))})")
        return vector.sel(vector=label, drop=True).rename(variable)
    raise ValueError(f"the dataset has no variable {variable!r}; it has "
                     f"{', '.join(map(str, ds.data_vars)) or 'no variables'}: "
                     "pass variable=<one of them>")


def _check_not_vector(ds: Any, name: str) -> Any:
    da = ds[name]
    if "vector" in da.dims:
        labels = [str(v) for v in da["vector"].values] if "vector" in da.coords else []
        components = [f"{name}_{v}" for v in labels] or ["field_x", "field_y", "field_z"]
        raise ValueError(f"{name!r} is a vector {da.dims} (a vector tracking run): pass "
                         f"variable={components[0]!r} ("
                         + ", ".join(repr(c) for c in components[1:])
                         + " for the others; one component at a time)")
    return da


def _locked_stretch(ds: Any, da: Any) -> Any:
    """``da`` cut to the longest run of samples in lock, if ``ds`` records the lock."""
    locked = ds.get("locked")
    if (locked is None or locked.dims != ("time",) or locked.dtype != bool
            or "time" not in da.dims or bool(locked.values.all())):
        return da
    flags = np.concatenate([[False], locked.values, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(flags))
    if edges.size == 0:
        raise ValueError("no sample of this run is in lock ('locked' is False throughout): "
                         "there is no magnetometer signal to analyse")
    starts, stops = edges[::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    part = da.isel(time=slice(int(starts[k]), int(stops[k])))
    times = part["time"].values if "time" in part.coords else None
    where = (f" (t = {float(times[0]):.6g} … {float(times[-1]):.6g} s)"
             if times is not None and np.issubdtype(times.dtype, np.number) else "")
    warnings.warn(f"using the longest stretch in lock, {part.sizes['time']} of "
                  f"{da.sizes['time']} samples{where}, as nvsense track does; pass the "
                  f"DataArray (ds[{str(da.name)!r}]) to use every sample",
                  UserWarning, stacklevel=4)
    return part


def _from_dataarray(da: Any, sample_rate: float | None) -> Series:
    name = str(da.name) if da.name is not None else "field"
    if da.dims != ("time",):
        raise ValueError(f"{name!r} has dimensions {da.dims}; a time series needs exactly one "
                         f"dimension named 'time'{_selection_hint(da)}")
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


def _selection_hint(da: Any) -> str:
    """How to select the extra dimensions of ``da`` away, with its own names and labels."""
    extra = [dim for dim in da.dims if dim != "time"]
    if not extra:
        return ""
    if all(dim in da.coords and da.sizes[dim] for dim in extra):
        picks = ", ".join(f"{dim}={_plain(da[dim].values[0])!r}" for dim in extra)
        return f" (select the others away, e.g. .sel({picks}))"
    picks = ", ".join(f"{dim}=0" for dim in extra)
    return f" (select the others away, e.g. .isel({picks}))"


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value a user would type (object arrays hold str)."""
    return value.item() if isinstance(value, np.generic) else value


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
