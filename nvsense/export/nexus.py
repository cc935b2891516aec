"""Export of runs to NeXus (HDF5): one ``NXentry`` per run.

Layout of an exported run (``run_<run id with _>``)::

    NXentry  title, experiment_identifier (run id), start_time, end_time, program_name
      data         NXdata     the run's signal (ODMR counts vs sweep and frequency; tracking
                              B(t)) and the variables of the same shape, with their axes
      instrument   NXinstrument  one group per instrument with its snapshot: the laser as
                              NXsource, the counter as NXdetector, the microwave source and
                              others as NXsource/NXcollection; settings as fields with units
      sample       NXsample   the sample the run declares (name, temperature, field, text)
      fit | lock   NXprocess  what nvsense computed from the signal (program, version, date,
                              a note listing the results) ...
      fit_*        NXdata     ... and the results themselves (line centres, widths, field, D),
                              one NXdata per shape (NXprocess may only hold notes)
      run_attributes NXcollection  every global attribute of the run file, as a field

Every variable is a field with its ``units`` and ``long_name`` (and any other attribute of the
run file) and ``nvsense_dims`` naming its dimensions, so that :func:`read_nexus` rebuilds the
run's ``xarray.Dataset`` exactly.  The groups and fields used are those of the NeXus base
classes (NXroot, NXentry, NXdata, NXinstrument, NXsource, NXdetector, NXsample, NXprocess,
NXnote, NXcollection); ``nexusformat`` reads the file and ``nxvalidate`` finds no error in it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from .runs import (
    ExportedRun,
    bench_name,
    instruments_from_file,
    sample_description,
    signal_name,
)

__all__ = ["entry_name", "export_nexus", "read_nexus"]

#: Field attribute naming a variable's dimensions (space-separated).
DIMS_ATTR = "nvsense_dims"
#: NXprocess group name by run kind.
PROCESS_NAMES = {"odmr": "fit", "track": "lock"}
_VALID = re.compile(r"[^A-Za-z0-9_]")


def entry_name(run_id: str) -> str:
    """The NXentry name of a run: ``run_`` and the run id with ``-`` as ``_`` (NeXus names
    are letters, digits and ``_``)."""
    return "run_" + _VALID.sub("_", run_id)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _write_value(group: h5py.Group, name: str, value: Any) -> h5py.Dataset:
    """A field holding ``value`` with its type (text as UTF-8 strings, numbers as numbers)."""
    if isinstance(value, str):
        return group.create_dataset(name, data=value, dtype=h5py.string_dtype())
    array = np.asarray(value)
    if array.dtype.kind in "OUS":
        return group.create_dataset(name, data=array.astype(str).astype(object),
                                    dtype=h5py.string_dtype())
    return group.create_dataset(name, data=array)


def _write_attr(obj: h5py.HLObject, name: str, value: Any) -> None:
    if isinstance(value, str):
        obj.attrs.create(name, value, dtype=h5py.string_dtype())
    elif isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        obj.attrs.create(name, list(value), dtype=h5py.string_dtype())
    else:
        obj.attrs[name] = value


def _group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    group = parent.create_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def _write_variable(group: h5py.Group, name: str, var: xr.Variable | xr.DataArray) -> None:
    values = var.values
    field = _write_value(group, name, values)
    for key, value in var.attrs.items():
        _write_attr(field, key, value)
    _write_attr(field, DIMS_ATTR, " ".join(str(d) for d in var.dims))


def _write_nxdata(group: h5py.Group, data: xr.Dataset, names: Sequence[str],
                  signal: str) -> None:
    """An NXdata group: ``signal`` and the other ``names`` (auxiliary signals) with the axes of
    their dimensions (coordinates of the run; ``"."`` for a dimension without one)."""
    dims = data[signal].dims
    _write_attr(group, "signal", signal)
    others = [n for n in names if n != signal]
    if others:
        _write_attr(group, "auxiliary_signals", others)
    axes = [str(d) if d in data.coords else "." for d in dims]
    _write_attr(group, "axes", axes)
    for name in names:
        _write_variable(group, name, data[name])
    for coord_name, coord in data.coords.items():
        if not coord.dims or not set(coord.dims) <= set(dims):
            continue
        _write_variable(group, str(coord_name), coord.variable)
        indices = [dims.index(d) for d in coord.dims]
        group.attrs[f"{coord_name}_indices"] = np.array(indices, dtype=np.int32) \
            if len(indices) > 1 else np.int32(indices[0])


def _by_shape(data: xr.Dataset, names: Sequence[str]) -> dict[tuple[str, tuple], list[str]]:
    """Variables grouped by (``avg_`` prefix or not, dims)."""
    groups: dict[tuple[str, tuple], list[str]] = {}
    for name in names:
        prefix = "average" if name.startswith("avg_") else ""
        groups.setdefault((prefix, data[name].dims), []).append(name)
    return groups


def _group_name(process: str, prefix: str, dims: tuple) -> str:
    parts = [process, prefix, *(str(d) for d in dims)]
    return "_".join(p for p in parts if p)


def _quantity_field(group: h5py.Group, name: str, value: Any) -> None:
    """One snapshot entry as fields: ``{"value": v, "unit": u}`` gives a field with units,
    a list of those an array, a mapping a sub-collection; ``None`` is left out."""
    name = _VALID.sub("_", str(name)) or "value"
    if name in group:
        return
    if isinstance(value, Mapping):
        if set(value) >= {"value", "unit"}:
            field = _write_value(group, name, value["value"])
            if value.get("unit"):
                _write_attr(field, "units", str(value["unit"]))
            return
        sub = _group(group, name, "NXcollection")
        for key, item in value.items():
            _quantity_field(sub, key, item)
        return
    if value is None:
        return
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, Mapping) and "value" in v for v in value):
            units = {v.get("unit") for v in value}
            field = _write_value(group, name, [v["value"] for v in value])
            if len(units) == 1 and None not in units:
                _write_attr(field, "units", str(units.pop()))
            return
        if all(isinstance(v, bool | int | float) for v in value) and value:
            _write_value(group, name, np.asarray(value))
            return
        _write_value(group, name, _text(list(value)))
        return
    if isinstance(value, bool | int | float | str):
        _write_value(group, name, value)
        return
    _write_value(group, name, _text(value))


#: NeXus base class of each instrument slot, with fixed fields.
_SLOT_CLASSES: dict[str, tuple[str, dict[str, str]]] = {
    "laser": ("NXsource", {"type": "Optical Laser", "probe": "visible light"}),
    "mw": ("NXsource", {}),
    "counter": ("NXdetector", {}),
    "lockin": ("NXdetector", {}),
    "camera": ("NXdetector", {}),
}
# Field names the base classes define with another meaning or unit: the snapshot's value goes
# in a field of its own name prefixed with the slot.
_RESERVED = {"NXsource": {"name", "type", "probe", "power", "frequency", "current", "voltage",
                          "mode", "notes", "period", "energy", "distance"},
             "NXdetector": {"type", "description", "local_name", "gain_setting"}}


def _write_instrument(entry: h5py.Group, run: ExportedRun) -> None:
    instrument = _group(entry, "instrument", "NXinstrument")
    name = bench_name(run)
    if name:
        _write_value(instrument, "name", name)
    for slot, state in instruments_from_file(run).items():
        nx_class, fixed = _SLOT_CLASSES.get(slot, ("NXcollection", {}))
        group = _group(instrument, _VALID.sub("_", slot), nx_class)
        identity = state.get("identity")
        if nx_class == "NXsource":
            _write_value(group, "name", str(identity or state.get("name") or slot))
        elif nx_class == "NXdetector":
            _write_value(group, "description", str(identity or state.get("name") or slot))
        for key, value in fixed.items():
            _write_value(group, key, value)
        reserved = _RESERVED.get(nx_class, set())
        for key, value in state.items():
            field = f"{slot}_{key}" if key in reserved else key
            _quantity_field(group, field, value)


def _write_sample(entry: h5py.Group, run: ExportedRun) -> None:
    sample = _group(entry, "sample", "NXsample")
    declared = sample_description(run)
    name = declared.get("name") or ("simulated NV sample" if declared.get("zfs_model")
                                    else "NV-centre sample")
    _write_value(sample, "name", str(name))
    temperature = declared.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        _write_attr(_write_value(sample, "temperature", float(temperature)), "units", "K")
    field = declared.get("field")
    if isinstance(field, list) and field and all(isinstance(v, int | float) for v in field):
        values = np.asarray(field, dtype=float)
        _write_attr(_write_value(sample, "magnetic_field", values), "units", "T")
    text = json.dumps(declared, ensure_ascii=False, sort_keys=True) if declared else \
        "no sample declared in the run file"
    _write_value(sample, "description", text)


def _write_entry(root: h5py.File, run: ExportedRun) -> str:
    data, info = run.data, run.info
    name = entry_name(run.run_id)
    entry = _group(root, name, "NXentry")
    _write_attr(entry, "default", "data")
    _write_value(entry, "title", str(data.attrs.get("title") or run.run_id))
    _write_value(entry, "experiment_identifier", run.run_id)
    _write_value(entry, "entry_identifier", run.run_id)
    if info.start_time:
        _write_value(entry, "start_time", info.start_time)
    if info.end_time:
        _write_value(entry, "end_time", info.end_time)
    program = _write_value(entry, "program_name", "nvsense")
    _write_attr(program, "version", str(info.software_version or ""))
    if info.campaign:
        _write_value(entry, "collection_identifier", info.campaign)

    signal = signal_name(data, info.kind)
    main = [signal] + [n for n in data.data_vars
                       if n != signal and data[n].dims == data[signal].dims]
    _write_nxdata(_group(entry, "data", "NXdata"), data, main, signal)

    rest = [str(n) for n in data.data_vars if n not in main]
    if rest:
        process_name = PROCESS_NAMES.get(info.kind, "process")
        process = _group(entry, process_name, "NXprocess")
        _write_value(process, "program", "nvsense")
        _write_value(process, "version", str(info.software_version or ""))
        if info.end_time or info.start_time:
            _write_value(process, "date", info.end_time or info.start_time)
        groups = _by_shape(data, rest)
        note = _group(process, "description", "NXnote")
        _write_value(note, "type", "text/plain")
        lines = [f"{'fits' if info.kind == 'odmr' else 'results'} of nvsense {info.kind} run "
                 f"{run.run_id}, computed as the run went; results in:"]
        for (prefix, dims), names in groups.items():
            group_name = _group_name(process_name, prefix, dims)
            _write_nxdata(_group(entry, group_name, "NXdata"), data, names, names[0])
            lines.append(f"  {group_name}: {', '.join(names)}")
        _write_value(note, "description", "\n".join(lines))

    _write_instrument(entry, run)
    _write_sample(entry, run)
    attributes = _group(entry, "run_attributes", "NXcollection")
    for key, value in data.attrs.items():
        _write_value(attributes, key, value)
    return name


def export_nexus(runs: Sequence[ExportedRun], path: str | os.PathLike[str], *,
                 overwrite: bool = False) -> Path:
    """Write ``runs`` into one NeXus file, an NXentry each; returns the path.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false (nothing is written).
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    try:
        with h5py.File(part, "w") as root:
            root.attrs["NX_class"] = "NXroot"
            _write_attr(root, "file_name", target.name)
            _write_attr(root, "file_time", datetime.now().astimezone().isoformat())
            _write_attr(root, "creator", "nvsense")
            _write_attr(root, "creator_version", str(runs[0].info.software_version or ""))
            _write_attr(root, "HDF5_Version", h5py.version.hdf5_version)
            _write_attr(root, "h5py_version", h5py.version.version)
            names = [_write_entry(root, run) for run in runs]
            _write_attr(root, "default", names[0])
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


# -- reading back ------------------------------------------------------------------------------


def _read_value(field: h5py.Dataset) -> Any:
    if h5py.check_string_dtype(field.dtype):
        value = field.asstr()[()]
        return np.asarray(value, dtype=object) if field.shape else str(value)
    return field[()]


def _read_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return [v.decode() if isinstance(v, bytes) else v for v in value.tolist()]
    return value


def _variables(group: h5py.Group) -> tuple[dict[str, xr.Variable], set[str]]:
    """Fields of an NXdata group with ``nvsense_dims``; and the names of its axes."""
    out = {}
    axes = {key[: -len("_indices")] for key in group.attrs if key.endswith("_indices")}
    for name, field in group.items():
        if not isinstance(field, h5py.Dataset) or DIMS_ATTR not in field.attrs:
            continue
        attrs = {k: _read_attr(v) for k, v in field.attrs.items() if k != DIMS_ATTR}
        dims = tuple(str(_read_attr(field.attrs[DIMS_ATTR])).split())
        out[name] = xr.Variable(dims, _read_value(field), attrs)
    return out, axes


def read_nexus(path: str | os.PathLike[str]) -> dict[str, xr.Dataset]:
    """The runs of a NeXus file written by :func:`export_nexus`, as xarray Datasets by run id
    (variables, coordinates and attributes as :func:`nvsense.open_run` gives them)."""
    out: dict[str, xr.Dataset] = {}
    with h5py.File(path, "r") as root:
        for entry in root.values():
            if _read_attr(entry.attrs.get("NX_class")) != "NXentry":
                continue
            data_vars: dict[str, xr.Variable] = {}
            coords: dict[str, xr.Variable] = {}
            for group in entry.values():
                if _read_attr(group.attrs.get("NX_class")) != "NXdata":
                    continue
                variables, axes = _variables(group)
                for name, var in variables.items():
                    (coords if name in axes else data_vars).setdefault(name, var)
            attrs_group = entry["run_attributes"]
            attrs = {name: _read_value(field) for name, field in attrs_group.items()}
            ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
            run_id = str(attrs.get("run_id") or _read_value(entry["experiment_identifier"]))
            out[run_id] = ds
    return out
