"""Opening run files as xarray Datasets, including runs still being written or cut short.

A run file that its writer has not closed (still running, or the writer was killed) is marked
"open for write" in its HDF5 superblock, and ``xarray.open_dataset`` refuses it.  HDF5's SWMR
read mode reads it as it is; :func:`open_run` does that, never modifying the file (a writer
may still be appending to it), and keeps the records that were complete: as many as the
append coordinate holds, which the writer extends last.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

if TYPE_CHECKING:
    import xarray as xr

from .errors import NotARunFileError, RunFileError, RunNotClosedWarning
from .hdf5_access import is_open_for_write_error, open_swmr_reader
from .metadata import FORMAT_NAME, RunInfo, run_metadata

__all__ = ["open_run", "read_run_attrs"]

# Attributes of the netCDF-4 / HDF5 dimension-scale machinery, not metadata of the run.
_NETCDF_INTERNAL = {
    "CLASS",
    "NAME",
    "REFERENCE_LIST",
    "DIMENSION_LIST",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_nc3_strict",
    "_NCProperties",
}
_DIMENSION_ONLY = "This is a netCDF dimension but not a netCDF variable"


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise RunFileError(
            path, "no such run file; check the path, or list the runs with `nvsense runs`"
        )
    if path.is_dir():
        raise RunFileError(path, "is a folder, not a run file (.nc)")
    if not h5py.is_hdf5(path):
        raise RunFileError(
            path,
            "is not a NetCDF4/HDF5 file (empty, truncated, damaged or "
            "another format); nvsense cannot read it. Restore it from a "
            "backup, or move it out of the data folder",
        )


def _open_h5(path: Path) -> h5py.File:
    """Open read-only; a file still marked open for write is opened in SWMR mode."""
    try:
        return h5py.File(path, "r")
    except OSError as plain_error:
        if not is_open_for_write_error(plain_error):
            raise _damaged(path, plain_error) from None
        try:
            return open_swmr_reader(path)
        except OSError as swmr_error:
            raise _damaged(path, swmr_error) from None


def _damaged(path: Path, error: Exception) -> RunFileError:
    return RunFileError(
        path,
        f"is damaged and cannot be read ({error}). Restore it from a "
        "backup, or move it out of the data folder",
    )


def _decode(value: Any) -> Any:
    """Attribute value as xarray's h5netcdf backend gives it: text as ``str``."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.ndim <= 1:
        value = value.reshape(-1)[0]  # netCDF stores scalar attributes as 1-element arrays
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="replace").rstrip("\x00")
    return value


def _check_is_run(path: Path, f: h5py.File) -> str:
    """Return the append dimension of an nvsense run file, or raise."""
    if _decode(f.attrs.get("nvsense_format", "")) != FORMAT_NAME:
        raise NotARunFileError(
            path,
            "is a NetCDF/HDF5 file but not an nvsense run (it has no "
            f"nvsense_format = {FORMAT_NAME!r} attribute); open it with "
            "xarray.open_dataset instead",
        )
    dim = _decode(f.attrs.get("append_dim", ""))
    if not dim or not isinstance(f.get(dim), h5py.Dataset):
        raise RunFileError(
            path,
            f"nvsense run without its append coordinate {dim!r}: the "
            "file is damaged; restore it from a backup",
        )
    return str(dim)


def _global_attrs(f: h5py.File) -> dict[str, Any]:
    return {k: _decode(v) for k, v in f.attrs.items() if k not in _NETCDF_INTERNAL}


def _variables(f: h5py.File) -> dict[str, tuple[h5py.Dataset, tuple[str, ...]]]:
    """The netCDF variables of the root group with their dimension names."""
    out = {}
    for name, obj in f.items():
        if not isinstance(obj, h5py.Dataset):
            continue
        if _decode(obj.attrs.get("NAME", "")).startswith(_DIMENSION_ONLY):
            continue  # a dimension without a coordinate variable: no data of its own
        if h5py.h5ds.is_scale(obj.id):
            dims: tuple[str, ...] = (name,)
        else:
            dims = tuple(proxy[0].name.rsplit("/", 1)[-1] for proxy in obj.dims)
        out[name] = (obj, dims)
    return out


def _complete_records(f: h5py.File) -> int:
    """Records complete in every variable.  The append dimension is the only unlimited one,
    and its coordinate is extended last, so its length is the count; the minimum over all
    growing variables also covers files cut in other ways."""
    return min(
        obj.shape[0]
        for obj in f.values()
        if isinstance(obj, h5py.Dataset) and obj.maxshape and obj.maxshape[0] is None
    )


@contextmanager
def _reading(path: Path) -> Iterator[tuple[h5py.File, str]]:
    """Open a run file for reading; any HDF5 failure inside becomes one RunFileError."""
    _check_exists(path)
    with _open_h5(path) as f:
        try:
            yield f, _check_is_run(path, f)
        except RunFileError:
            raise
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            RuntimeError,
            AttributeError,
        ) as exc:
            raise _damaged(path, exc) from None


def read_run_attrs(path: str | os.PathLike[str]) -> tuple[dict[str, Any], int]:
    """Global attributes of a run file and its number of complete records, without reading
    the data (used by the catalogue to index files).

    Raises
    ------
    RunFileError
        Missing or damaged file; :class:`NotARunFileError` for other NetCDF files.
    """
    with _reading(Path(path)) as (f, _dim):
        return _global_attrs(f), _complete_records(f)


def open_run(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open a run file as an xarray Dataset, loaded into memory.

    Works on completed and aborted runs, on runs still being written (a snapshot of the
    records so far) and on runs whose writer crashed (every complete record).  The file is
    never modified, and it is closed again before this returns.

    Parameters
    ----------
    path
        The run file (``.nc``).

    Returns
    -------
    xarray.Dataset
        Decoded as ``xarray.open_dataset(path, engine="h5netcdf")`` decodes it (booleans as
        ``bool``, ``time`` as a coordinate); every variable has a ``units`` attribute.
        Metadata stays in ``ds.attrs`` as the file has it; use
        :func:`~nvsense.storage.run_metadata` for parameters and results as dicts.

    Warns
    -----
    RunNotClosedWarning
        If the run was not closed (status still ``running``).

    Raises
    ------
    RunFileError
        The file is missing or damaged; :class:`NotARunFileError` if it is a NetCDF file
        that nvsense did not write.
    """
    import xarray as xr  # here: the catalogue reads run files' attributes without it

    path = Path(path)
    with _reading(path) as (f, dim):
        # Read with h5py rather than through h5netcdf: h5netcdf recomputes the length of an
        # unlimited dimension from every variable on every access, which made opening a
        # 26-variable run take a second.
        # Status first, then the record count, then the data: a live writer may append or
        # close meanwhile, and the snapshot must not pair a final status with fewer records.
        global_attrs = _global_attrs(f)
        variables = _variables(f)
        n = _complete_records(f)
        raw = {}
        for name, (obj, dims) in variables.items():
            if h5py.check_string_dtype(obj.dtype):
                data = np.asarray(obj.asstr()[()], dtype=object)
            elif dims and dims[0] == dim:
                data = obj[:n]
            else:
                data = obj[()]
            attrs = {k: _decode(v) for k, v in obj.attrs.items() if k not in _NETCDF_INTERNAL}
            raw[name] = xr.Variable(dims, data, attrs)
        ds = xr.decode_cf(xr.Dataset(raw, attrs=global_attrs)).load()
    ds.encoding["source"] = str(path)
    info = run_metadata(ds)
    if not info.closed:
        warnings.warn(_not_closed_message(path, info), RunNotClosedWarning, stacklevel=2)
    return ds


def _not_closed_message(path: Path, info: RunInfo) -> str:
    records = f"{info.n_records} complete {info.append_dim} record(s)"
    if info.state == "interrupted":
        what = "its writer stopped without closing it (crash, kill or power cut)"
    elif info.state == "running":
        what = f"it is still being written (process {info.writer_pid})"
    else:
        what = "it is still being written, or its writer stopped without closing it"
    return f"{path}: run {info.run_id} did not close (status 'running'): {what}; {records}"
