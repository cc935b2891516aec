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
