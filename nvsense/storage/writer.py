"""Writing one run file as the run goes, so that a crash keeps every completed record.

How the file survives ``kill -9``
---------------------------------
* The layout (dimensions, coordinates, variables, metadata) is written with h5netcdf into a
  hidden temporary file, which is then linked to the final name: a run file never exists
  half-created.
* The file is reopened with h5py in SWMR mode (single writer, multiple readers, HDF5
  ``libver="latest"``).  SWMR orders HDF5's metadata writes so that the file stays readable
  whenever the writing process dies.  Measured on the development machine: plain HDF5 /
  h5netcdf files were unreadable after 12 of 12 kills, SWMR files readable after 10 of 10.
* Every append resizes and writes the data variables, flushes, and only then extends the
  append coordinate (``sweep`` / ``time``) and flushes again.  The coordinate's length is
  therefore the number of complete records; readers cut every variable to it.
* SWMR forbids creating objects once it is on, so ``status``, ``end_time`` and
  ``abort_reason`` are created before as fixed-size attributes and overwritten in place at
  the end; readers see the final status at once.  What only the end of a run knows in full
  (results, the complete abort reason) is written into a copy of the closed file that then
  atomically replaces it, so a crash during that step leaves the previous, valid file.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np
import yaml

from .datadir import check_kind
from .errors import RunFileError, SchemaError, StorageError
from .metadata import (
    FORMAT_NAME,
    FORMAT_VERSION,
    KEY_RESULT_UNITS,
    flatten_scalars,
    to_json,
)
from .schema import CoordSpec, RunSchema, VariableSpec
from .times import local_now, to_iso

__all__ = ["ABORT_REASON_BYTES", "RunWriter"]

#: Sizes of the attributes overwritten in place (SWMR cannot create attributes).
STATUS_BYTES = 16
END_TIME_BYTES = 40
#: The abort reason is readable at once up to this many bytes; the full text is added after
#: the file is closed.
ABORT_REASON_BYTES = 1024
#: The NAME of a netCDF-4 dimension that has no coordinate variable (followed by its size).
_DIMENSION_ONLY = "This is a netCDF dimension but not a netCDF variable."
#: Target size of one HDF5 chunk: every flush rewrites the last chunk of every variable, so
#: chunks are kept small (a few records of a spectrum, a few thousand scalars).
CHUNK_BYTES = 16 * 1024


def _software_version() -> str:
    # Imported here: nvsense/__init__.py re-exports this package, so a top-level import
    # would be circular.
    import nvsense

    return str(getattr(nvsense, "__version__", "unknown"))


def _fixed_bytes(text: str, size: int) -> np.ndarray:
    """``text`` as a NUL-padded fixed-size string (cut at a UTF-8 character boundary)."""
    raw = text.encode("utf-8")
    if len(raw) > size:
        raw = raw[: size - 3].decode("utf-8", errors="ignore").encode("utf-8") + b"..."
    return np.array(raw, dtype=f"S{size}")


def _storage_dtype(var: VariableSpec) -> np.dtype:
    return np.dtype("int8") if var.numpy_dtype.kind == "b" else var.numpy_dtype


def _chunk_rows(record_shape: tuple[int, ...], dtype: np.dtype) -> int:
    record_bytes = max(1, int(np.prod(record_shape, dtype=np.int64)) * dtype.itemsize)
    return int(min(65536, max(1, CHUNK_BYTES // record_bytes)))


class RunWriter:
    """Writes one run file record by record; safe against crashes.

    Parameters
    ----------
    path
        The run file to create (``.nc``).  It must not exist: runs are never overwritten.
    kind
        Run kind, e.g. ``"odmr"`` or ``"track"``.
    schema
        The file layout (see :func:`~nvsense.storage.odmr_schema`,
        :func:`~nvsense.storage.tracking_schema`).
    run_id
        Identifier of the run; defaults to the file name without extension.
    parameters
        Measurement parameters (JSON-serialisable; SI floats).  Stored as JSON text in the
        ``parameters`` attribute and as scalar attributes ``param_<name>``.
    parameter_units
        Units of the parameters, e.g. ``{"power": "dBm", "dwell": "s"}``.
    bench_config
        The bench configuration: YAML text, or a mapping (dumped as YAML).
    bench_source
        Where the bench configuration came from (a file path or ``"simulated"``).
    instruments
        Identity of each instrument by its role, e.g. ``{"mw": "Stanford SG384 s/n 1234"}``.
    software_version
        Defaults to nvsense's version.
    campaign, campaign_point
        Name of the campaign the run belongs to and its point index, if any.
    attrs
        Further global attributes (strings or numbers).
    start_time
        Defaults to now.
    on_close
        Called as ``on_close(writer)`` after the file is closed (the catalogue uses it).

    Examples
    --------
    >>> schema = odmr_schema(freqs, n_lines=2, field="parallel")     # doctest: +SKIP
    >>> with RunWriter("run.nc", "odmr", schema, parameters=p) as run:  # doctest: +SKIP
    ...     for sweep in sweeps:
    ...         run.append(time=run.elapsed(), counts=sweep.counts, ...)
    ...     run.close("completed", results={"field_parallel": 1.2e-3})
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        kind: str,
        schema: RunSchema,
        *,
        run_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        parameter_units: Mapping[str, str] | None = None,
        bench_config: str | Mapping[str, Any] | None = None,
        bench_source: str | None = None,
        instruments: Mapping[str, str] | None = None,
        software_version: str | None = None,
        campaign: str | None = None,
        campaign_point: int | None = None,
        attrs: Mapping[str, Any] | None = None,
        start_time: Any = None,
        on_close: Callable[[RunWriter], None] | None = None,
    ) -> None:
        if not isinstance(schema, RunSchema):
            raise SchemaError("schema must be a RunSchema (see odmr_schema, tracking_schema)")
        check_kind(kind)
        self.path = Path(path)
        self.kind = kind
        self.schema = schema
        self.run_id = run_id or self.path.stem
        self.parameters = dict(parameters or {})
        self.campaign = campaign
        self.campaign_point = campaign_point
        self.start_time: str = to_iso(start_time) if start_time is not None else to_iso(local_now())
        self.software_version = software_version or _software_version()
        self.bench_source = bench_source
        self.status = "running"
        self.end_time: str | None = None
        self.abort_reason: str | None = None
        self.results: dict[str, Any] = {}
        self._on_close = on_close
        self._t0 = time.monotonic()
        self._n = 0
        self._file: h5py.File | None = None
        self._record_shapes = {v.name: schema.record_shape(v) for v in schema.variables}
        if isinstance(bench_config, Mapping):
            bench_config = yaml.safe_dump(dict(bench_config), sort_keys=False)
        header = {
            "title": f"nvsense {kind} run {self.run_id}",
            "nvsense_format": FORMAT_NAME,
            "nvsense_format_version": FORMAT_VERSION,
            "run_id": self.run_id,
            "kind": kind,
            "append_dim": schema.append_dim,
            "start_time": self.start_time,
            "software": "nvsense",
            "software_version": self.software_version,
            "parameters": to_json(self.parameters),
            "parameter_units": to_json(dict(parameter_units or {})),
            **flatten_scalars("param_", self.parameters),
            "instruments": to_json(dict(instruments or {})),
            **flatten_scalars("instrument_", dict(instruments or {})),
            "writer_host": socket.gethostname(),
            "writer_pid": os.getpid(),
        }
        if bench_config is not None:
            header["bench_config"] = str(bench_config)
        if bench_source is not None:
            header["bench_source"] = str(bench_source)
        if campaign is not None:
            header["campaign"] = str(campaign)
        if campaign_point is not None:
            header["campaign_point"] = int(campaign_point)
        for key, value in (attrs or {}).items():
            if value is not None:  # netCDF attributes cannot be empty; None means not given
                header.setdefault(key, value)
        self._create(header)

    # -- creation ---------------------------------------------------------------------------

    def _create(self, header: Mapping[str, Any]) -> None:
        if self.path.exists():
            raise RunFileError(
                self.path,
                "already exists; a run file is never overwritten (choose a new file name)",
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        part = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        try:
            self._write_layout(part, header)
            _publish(part, self.path)
        finally:
            part.unlink(missing_ok=True)
        self._file = h5py.File(self.path, "r+", libver="latest")
        self._file.swmr_mode = True
        # Low-level dataset handles: h5py's high-level indexing costs ~0.1 ms per call,
        # several times the cost of the write itself.
        self._datasets = {v.name: self._file[v.name].id for v in self.schema.variables}
        self._coord = self._file[self.schema.append_dim].id
        self._coord_dtype = np.dtype(self.schema.append_dtype)

    def _write_layout(self, part: Path, header: Mapping[str, Any]) -> None:
        """Write dimensions, coordinates, empty variables and metadata in the netCDF-4 layout.

        Written with h5py rather than h5netcdf, which took 0.2 s per run to create 30
        variables; the layout is the one h5netcdf writes (tests/storage compare them).
        """
        schema = self.schema
        sizes = {schema.append_dim: 0, **schema.fixed_dims}
        dim_ids = {name: i for i, name in enumerate(sizes)}
        coords = {c.name: c for c in schema.coords if c.dims == (c.name,)}
        with h5py.File(part, "w", libver="latest", track_order=True) as f:
            for dim, size in sizes.items():
                self._write_dimension(f, dim, size, dim_ids[dim], coords.get(dim))
            for coord in schema.coords:
                if coord.name not in coords:  # a coordinate that is not a dimension's
                    dset = f.create_dataset(coord.name, data=_coord_values(coord), track_order=True)
                    self._attach(f, dset, coord.dims, dim_ids)
                    _set_attrs(
                        dset, {"units": coord.units, "long_name": coord.long_name, **coord.attrs}
                    )
            aux = " ".join(v.name for v in schema.variables if v.coordinate)
            for spec in schema.variables:
                dtype = _storage_dtype(spec)
                shape = schema.record_shape(spec)
                dset = f.create_dataset(
                    spec.name,
                    shape=(0, *shape),
                    maxshape=(None, *shape),
                    dtype=dtype,
                    chunks=(_chunk_rows(shape, dtype), *shape),
                    fillvalue=np.nan if spec.is_float else None,
                    track_order=True,
                )
                self._attach(f, dset, spec.dims, dim_ids)
                attrs: dict[str, Any] = {}
                if spec.is_float:
                    # Left-out values read as NaN; xarray takes NaN as the missing value.
                    attrs["_FillValue"] = np.array([np.nan], dtype=dtype)
                attrs.update({"units": spec.units, "long_name": spec.long_name})
                if aux and not spec.coordinate:
                    attrs["coordinates"] = aux  # CF: these are coordinates, not data
                if spec.numpy_dtype.kind == "b":
                    attrs["dtype"] = "bool"  # xarray decodes int8 + this back to bool
                _set_attrs(dset, {**attrs, **spec.attrs})
            f.attrs["_NCProperties"] = np.bytes_(
                f"version=2,nvsense={self.software_version},"
                f"hdf5={h5py.version.hdf5_version},h5py={h5py.__version__}"
            )
            _set_attrs(f, header)
            # Fixed sizes, so that they can be overwritten in place once SWMR is on.
            f.attrs.create("status", _fixed_bytes("running", STATUS_BYTES))
            f.attrs.create("end_time", _fixed_bytes("", END_TIME_BYTES))
            f.attrs.create("abort_reason", _fixed_bytes("", ABORT_REASON_BYTES))

    def _write_dimension(
        self, f: h5py.File, dim: str, size: int, dim_id: int, coord: CoordSpec | None
    ) -> None:
        """A netCDF-4 dimension: an HDF5 dimension scale, which is its coordinate variable
        if it has one (and the append dimension always has one)."""
        schema = self.schema
        if dim == schema.append_dim:
            dtype = np.dtype(schema.append_dtype)
            dset = f.create_dataset(
                dim,
                shape=(0,),
                maxshape=(None,),
                dtype=dtype,
                chunks=(_chunk_rows((), dtype),),
                track_order=True,
            )
            attrs = {"units": schema.append_units, "long_name": schema.append_long_name}
        elif coord is not None:
            dset = f.create_dataset(dim, data=_coord_values(coord), track_order=True)
            attrs = {"units": coord.units, "long_name": coord.long_name, **coord.attrs}
        else:  # a dimension without coordinate: netCDF-4 stores an empty placeholder
            dset = f.create_dataset(dim, shape=(size,), dtype=">f4", track_order=True)
            dset.attrs["_Netcdf4Dimid"] = np.int32(dim_id)
            dset.make_scale(_DIMENSION_ONLY + f"{size:10}")
            return
        dset.attrs["_Netcdf4Dimid"] = np.int32(dim_id)
        dset.make_scale(dim)
        dset.attrs["_Netcdf4Coordinates"] = np.array([dim_id], dtype=np.int32)
        _set_attrs(dset, attrs)

    @staticmethod
    def _attach(
        f: h5py.File, dset: h5py.Dataset, dims: tuple[str, ...], dim_ids: Mapping[str, int]
    ) -> None:
        for axis, dim in enumerate(dims):
            dset.dims[axis].attach_scale(f[dim])
        dset.attrs["_Netcdf4Coordinates"] = np.array([dim_ids[d] for d in dims], np.int32)

    # -- appending --------------------------------------------------------------------------

    @property
    def n_records(self) -> int:
        """Number of complete records in the file."""
        return self._n

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._file is None

    def elapsed(self) -> float:
        """Seconds since the writer was created (a monotonic clock), for ``time`` values."""
        return time.monotonic() - self._t0

    def append(self, **values: Any) -> None:
        """Append one record (one ODMR sweep, one tracking sample) and flush it to disk.

        Parameters
        ----------
        **values
            One value per variable, shaped like one record (``counts``: ``(n_frequency,)``,
            ``line_center``: ``(n_lines,)``, ``redchi``: a scalar).  Float variables left out
            are NaN for this record, bool variables False; integer ones are required.  With
            an append coordinate that is not an index (tracking), its value is required too
            (``time=1.25``).

        Raises
        ------
        SchemaError
            Unknown name, wrong shape or missing value; nothing is written then.
        """
        self.append_block(**{name: np.asarray(value)[None, ...] for name, value in values.items()})

    def append_block(self, **values: Any) -> None:
        """Append several records at once (a block of tracking samples) and flush.

        Parameters
        ----------
        **values
            Arrays whose first axis runs over the records; all must have the same length.
        """
        if self._file is None:
            raise StorageError(f"{self.path}: run {self.run_id} is closed; cannot append")
        block, coord, k = self._check_block(values)
        if k == 0:
            return
        n = self._n
        for name, data in block.items():
            _write_rows(self._datasets[name], n, data)
        self._file.flush()
        # The append coordinate goes last: its length counts complete records only.
        if coord is None:
            coord = np.arange(n, n + k, dtype=self._coord_dtype)
        _write_rows(self._coord, n, coord)
        self._file.flush()
        self._n = n + k

    def _check_block(
        self, values: Mapping[str, Any]
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None, int]:
        """Validate and convert a block before anything is written."""
        schema = self.schema
        if not values:
            raise SchemaError("append needs at least one value")
        dim = schema.append_dim
        known = set(schema.variable_names)
        if schema.append_is_index:
            if dim in values:
                raise SchemaError(f"{dim!r} numbers the records itself; do not pass it")
        else:
            known.add(dim)
            if dim not in values:
                raise SchemaError(f"each append needs the {dim!r} value(s) ({schema.append_units})")
        unknown = sorted(set(values) - known)
        if unknown:
            raise SchemaError(f"unknown variable(s) {unknown}; this run has {sorted(known)}")
        lengths = {name: np.shape(v)[0] if np.ndim(v) else None for name, v in values.items()}
        distinct = set(lengths.values())
        if None in distinct or len(distinct) > 1:
            raise SchemaError(f"every value needs the same number of records: {lengths}")
        k = distinct.pop()
        block: dict[str, np.ndarray] = {}
        for spec in schema.variables:
            shape = (k, *self._record_shapes[spec.name])
            if spec.name not in values:
                if spec.numpy_dtype.kind not in "fb":
                    raise SchemaError(f"value of {spec.name!r} ({spec.dtype}) is missing")
                # Not given: not measured (NaN) or, for flags such as fit_success, False.
                block[spec.name] = np.full(shape, spec.is_float and np.nan, spec.numpy_dtype)
                continue
            block[spec.name] = _as_values(spec.name, values[spec.name], spec.numpy_dtype, shape)
        coord = None
        if not schema.append_is_index:
            coord = _as_values(dim, values[dim], np.dtype(schema.append_dtype), (k,))
        for spec in schema.variables:
            if spec.numpy_dtype.kind == "b":
                block[spec.name] = block[spec.name].astype(np.int8)
        return block, coord, k

    # -- closing ----------------------------------------------------------------------------

    def close(
        self,
        status: str = "completed",
        reason: str | None = None,
        *,
        results: Mapping[str, Any] | None = None,
        result_units: Mapping[str, str] | None = None,
        end_time: Any = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Close the run: write its final status, end time, reason and results.

        Parameters
        ----------
        status
            ``"completed"`` or ``"aborted"``.
        reason
            Why the run was aborted (required for ``"aborted"``, e.g. an instrument error).
        results
            Key results, e.g. ``{"field_x": ..., "field_x_error": ..., "D": ...}``; the keys
            of :data:`~nvsense.storage.metadata.KEY_RESULT_UNITS` (and ``<key>_error``) get
            their units automatically and become catalogue columns.
        result_units
            Units of other results.
        end_time
            Defaults to now.
        attrs
            Further global attributes known only at the end (strings or numbers), e.g. what
            was done to leave the bench safe.

        Notes
        -----
        Closing a closed run does nothing.
        """
        if self._file is None:
            return
        if status not in ("completed", "aborted"):
            raise ValueError(f"status must be 'completed' or 'aborted', not {status!r}")
        if status == "aborted" and not reason:
            reason = "aborted (no reason given)"
        self.status = status
        self.abort_reason = reason or None
        self.end_time = to_iso(end_time) if end_time is not None else to_iso(local_now())
        self.results = dict(results or {})
        units = {k: u for k, u in KEY_RESULT_UNITS.items()}
        units.update({f"{k}_error": u for k, u in KEY_RESULT_UNITS.items()})
        units = {k: units[k] for k in self.results if k in units}
        units.update(dict(result_units or {}))
        try:
            _overwrite_attr(self._file, "status", _fixed_bytes(status, STATUS_BYTES))
            _overwrite_attr(self._file, "end_time", _fixed_bytes(self.end_time, END_TIME_BYTES))
            _overwrite_attr(
                self._file,
                "abort_reason",
                _fixed_bytes(self.abort_reason or "", ABORT_REASON_BYTES),
            )
            self._file.flush()
        finally:
            self._file.close()
            self._file = None
        final: dict[str, Any] = {}
        if self.abort_reason and len(self.abort_reason.encode("utf-8")) > ABORT_REASON_BYTES:
            final["abort_reason"] = self.abort_reason
        if self.results:
            final["results"] = to_json(self.results)
            final["result_units"] = to_json(units)
            final.update(flatten_scalars("result_", self.results))
        final.update(dict(attrs or {}))
        if final:
            _finalise_attrs(self.path, final)
        if self._on_close is not None:
            self._on_close(self)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is None:
            return
        if exc is None:
            self.close("completed")
        elif isinstance(exc, KeyboardInterrupt):
            self.close("aborted", "interrupted by the user (KeyboardInterrupt)")
        else:
            self.close("aborted", f"{type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return (
            f"<RunWriter {self.run_id} {self.kind} {self.status} "
            f"{self._n} {self.schema.append_dim} records: {self.path}>"
        )


def _as_values(name: str, value: Any, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != shape:
        raise SchemaError(f"{name!r} has shape {array.shape[1:]} per record, expected {shape[1:]}")
    if dtype.kind in "iub" and array.dtype.kind == "f":
        raise SchemaError(f"{name!r} is {dtype} in this run; got floats")
    try:
        return array.astype(dtype, casting="unsafe" if dtype.kind == "f" else "same_kind")
    except (TypeError, ValueError):
        raise SchemaError(f"{name!r}: cannot store {array.dtype} values as {dtype}") from None


def _coord_values(coord: CoordSpec) -> np.ndarray:
    if coord.values.dtype == object:  # labels: netCDF-4 variable-length strings
        return np.array(coord.values, dtype=h5py.string_dtype("utf-8"))
    return coord.values


def _set_attrs(obj: h5py.HLObject, attrs: Mapping[str, Any]) -> None:
    """Attributes as netCDF-4 has them: text as variable-length UTF-8 strings."""
    for name, value in attrs.items():
        if isinstance(value, bool):
            value = np.int8(value)
        obj.attrs[name] = value


def _write_rows(dsid: h5py.h5d.DatasetID, start: int, data: np.ndarray) -> None:
    """Extend a dataset along its first axis to ``start + len(data)`` and write ``data``
    there."""
    data = np.ascontiguousarray(data)
    dsid.set_extent((start + data.shape[0], *data.shape[1:]))
    file_space = dsid.get_space()
    file_space.select_hyperslab((start,) + (0,) * (data.ndim - 1), data.shape)
    dsid.write(h5py.h5s.create_simple(data.shape), file_space, data)


def _overwrite_attr(f: h5py.File, name: str, value: np.ndarray) -> None:
    """Overwrite a fixed-size attribute in place (allowed in SWMR mode, unlike creating)."""
    attr = h5py.h5a.open(f.id, name.encode())
    attr.write(value)


def _publish(part: Path, final: Path) -> None:
    """Give the finished temporary file its final name without ever replacing a file."""
    try:
        os.link(part, final)
    except FileExistsError:
        raise RunFileError(final, "already exists; a run file is never overwritten") from None
    except OSError:  # file system without hard links (FAT, some network shares)
        if final.exists():
            raise RunFileError(final, "already exists; a run file is never overwritten") from None
        os.replace(part, final)


def _finalise_attrs(path: Path, attrs: Mapping[str, Any]) -> None:
    """Add attributes to a closed run file, atomically where the OS allows.

    The attributes go into a copy that then replaces the file, so a crash leaves either the
    old or the new file, both valid.  Where the file cannot be replaced (Windows, while a
    reader holds it open) they are written in place instead.
    """
    part = path.with_name(f".{path.name}.{os.getpid()}.final.part")
    try:
        shutil.copyfile(path, part)
        with h5py.File(part, "r+") as f:
            for name, value in attrs.items():
                if name in f.attrs:
                    del f.attrs[name]
                f.attrs[name] = value
        with open(part, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(part, path)
        return
    except OSError:
        part.unlink(missing_ok=True)
    try:
        with h5py.File(path, "r+") as f:
            for name, value in attrs.items():
                if name in f.attrs:
                    del f.attrs[name]
                f.attrs[name] = value
    except OSError as exc:
        warnings.warn(
            f"{path}: results and full abort reason not written into the file "
            f"({exc}); the status and end time are",
            stacklevel=3,
        )
