"""Run storage: one crash-safe NetCDF4/HDF5 file per run, xarray loading, a SQLite catalogue.

Writing (the measurement layer)::

    catalog = Catalog(data_dir)
    with catalog.new_run("odmr", odmr_schema(freqs, n_lines=8), parameters=p) as run:
        for ...:
            run.append(time=run.elapsed(), counts=counts, line_center=centers, ...)
        run.close("completed", results={"field_x": bx, "field_x_error": ebx})

Reading::

    ds = open_run(path)              # xarray.Dataset, also for runs cut short by a crash
    info = run_metadata(ds)          # parameters, results, instruments as dicts
    Catalog(data_dir).runs(kind="odmr", power_dbm=-10)   # pandas DataFrame

The file layout and the catalogue are documented in docs/storage.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each name is imported from its module on first use (PEP 562): `nvsense runs` needs the
# catalogue alone, not h5py, xarray and pandas.
_LAZY = {
    "Catalog": "catalog",
    "RescanReport": "catalog",
    "DATA_DIR_ENV": "datadir",
    "resolve_data_dir": "datadir",
    "CatalogError": "errors",
    "CatalogWarning": "errors",
    "NotARunFileError": "errors",
    "RunFileError": "errors",
    "RunNotClosedWarning": "errors",
    "SchemaError": "errors",
    "StorageError": "errors",
    "odmr_schema": "layouts",
    "tracking_schema": "layouts",
    "KEY_RESULT_UNITS": "metadata",
    "RunInfo": "metadata",
    "run_metadata": "metadata",
    "open_run": "reader",
    "CoordSpec": "schema",
    "RunSchema": "schema",
    "VariableSpec": "schema",
    "RunWriter": "writer",
}

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog, RescanReport
    from .datadir import DATA_DIR_ENV, resolve_data_dir
    from .errors import (
        CatalogError,
        CatalogWarning,
        NotARunFileError,
        RunFileError,
        RunNotClosedWarning,
        SchemaError,
        StorageError,
    )
    from .layouts import odmr_schema, tracking_schema
    from .metadata import KEY_RESULT_UNITS, RunInfo, run_metadata
    from .reader import open_run
    from .schema import CoordSpec, RunSchema, VariableSpec
    from .writer import RunWriter


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DATA_DIR_ENV",
    "KEY_RESULT_UNITS",
    "Catalog",
    "CatalogError",
    "CatalogWarning",
    "CoordSpec",
    "NotARunFileError",
    "RescanReport",
    "RunFileError",
    "RunInfo",
    "RunNotClosedWarning",
    "RunSchema",
    "RunWriter",
    "SchemaError",
    "StorageError",
    "VariableSpec",
    "odmr_schema",
    "open_run",
    "resolve_data_dir",
    "run_metadata",
    "tracking_schema",
]
