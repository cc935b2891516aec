"""``nvsense export mne``: a tracking run file as an MNE-Python FIF file.

A tracking run holds B(t) as ``field_parallel (time)`` (one NV axis) or ``field (time,
vector)``; a lock-in tracking run as ``field (time, sensor)`` and, for a gradiometer,
``gradient (time)``.  :func:`tracking_record` turns it into the record
:mod:`nvsense.export.mne` takes: one magnetometer channel per field component
(``field_parallel``, or ``field_x``, ``field_y``, ``field_z``; ``field_s0``, ``field_s1``,
``gradient``), in tesla, and the run's ``trigger`` line as the stim channel when the run has
one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xarray as xr

from .runs import ExportedRun, ExportError

__all__ = ["export_run_fif", "tracking_record"]


def tracking_record(data: xr.Dataset) -> xr.Dataset:
    """The B(t) record of a tracking run: field channels in T along ``time``, the trigger."""
    if "time" not in data.dims:
        raise ExportError(f"run {data.attrs.get('run_id', '')} ({data.attrs.get('kind', '?')})"
                          " has no 'time' dimension: MNE export takes tracking runs (B(t))")
    channels: dict[str, Any] = {}
    if "field_parallel" in data.data_vars:
        channels["field_parallel"] = data["field_parallel"]
    if "field" in data.data_vars and data["field"].dims == ("time", "vector"):
        for label in data["vector"].values:
            component = data["field"].sel(vector=label).drop_vars("vector")
            channels[f"field_{label}"] = component.assign_attrs(
                long_name=f"magnetic field {label}")
    if "field" in data.data_vars and data["field"].dims == ("time", "sensor"):
        for name in data["sensor"].values:
            component = data["field"].sel(sensor=name).drop_vars("sensor")
            channels[f"field_{name}"] = component.assign_attrs(
                long_name=f"magnetic field at sensor {name}")
        if "gradient" in data.data_vars and data["gradient"].dims == ("time",):
            channels["gradient"] = data["gradient"]
    if not channels:
        raise ExportError(f"run {data.attrs.get('run_id', '')} has no field_parallel or field "
                          "variable: nothing to export as magnetometer channels")
    if "trigger" in data.data_vars and data["trigger"].dims == ("time",):
        channels["trigger"] = data["trigger"]
    return xr.Dataset(channels, attrs=dict(data.attrs))


def export_run_fif(run: ExportedRun, path: str | os.PathLike[str], *,
                   overwrite: bool = False) -> Path:
    """Write a tracking run as a FIF file (``mne.io.read_raw_fif`` reads it back in T)."""
    from .mne import export_fif

    record = tracking_record(run.data)
    trigger = "trigger" if "trigger" in record.data_vars else None
    return export_fif(record, path, overwrite=overwrite, trigger=trigger)
