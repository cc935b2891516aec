"""Widefield ODMR cubes: the file format, reading, writing and pixel binning.

A cube is an xarray Dataset with a variable ``pl (y, x, frequency)`` (photo-luminescence,
counts per pixel and frequency point) and a coordinate ``frequency`` in Hz; ``y`` and ``x`` may
carry pixel positions in m.  It is stored as zarr (a directory ``*.zarr``) or NetCDF4/HDF5
(``*.nc``, ``*.h5``).  Simulated cubes also hold the truth: ``true_field (y, x, vector)`` in T
(crystal frame) and ``true_field_parallel (y, x)``, the projection on the first NV axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..units import QuantityError, parse_quantity

__all__ = ["CUBE_DIMS", "CubeError", "bin_pixels", "check_cube", "open_cube", "write_cube"]

#: Dimensions of the ``pl`` variable, in this order.
CUBE_DIMS = ("y", "x", "frequency")

_NETCDF_SUFFIXES = {".nc", ".nc4", ".h5", ".hdf5", ".netcdf"}


class CubeError(ValueError):
    """A cube (or map) file or dataset is not what nvsense expects."""


def is_zarr_path(path: str | Path) -> bool:
    """Whether ``path`` names a zarr store (``*.zarr`` or a directory) rather than NetCDF."""
    path = Path(path)
    return path.suffix.lower() == ".zarr" or path.is_dir()


def _is_zarr_store(path: Path) -> bool:
    """Whether the folder ``path`` is a zarr store (v2 or v3 metadata at its top)."""
    return any((path / name).is_file() for name in ("zarr.json", ".zgroup", ".zarray"))


def open_cube(path: str | Path) -> xr.Dataset:
    """Open a cube file lazily (zarr or NetCDF) and check it.

    Raises
    ------
    CubeError
        If the file is missing, unreadable or not a cube (see :func:`check_cube`).
    """
    path = Path(path)
    if not path.exists():
        raise CubeError(f"cube {str(path)!r} does not exist; make one with "
                        "`nvsense widefield simulate --out CUBE`")
    try:
        if is_zarr_path(path):
            ds = xr.open_zarr(path, chunks=None, consolidated=False)
        else:
            ds = xr.open_dataset(path, engine="h5netcdf")
    except Exception as exc:  # any reader error means the same thing to the user
        ds = _widefield_run_in_progress(path, exc)
        if ds is None:
            raise CubeError(f"cannot read {str(path)!r} as a zarr or NetCDF cube: {exc}") \
                from exc
    return check_cube(ds, str(path))


def _widefield_run_in_progress(path: Path, exc: Exception) -> xr.Dataset | None:
    """A widefield run still being written, or cut short by a crash (its file still marked
    open for writing): its cube up to the last complete sweep; ``None`` for anything else."""
    from ..storage.errors import RunFileError
    from ..storage.hdf5_access import is_open_for_write_error

    if not (isinstance(exc, OSError) and is_open_for_write_error(exc)):
        return None
    from ..storage.cube_writer import open_widefield_run

    try:
        return open_widefield_run(path)
    except RunFileError:
        return None


def check_cube(cube: xr.Dataset | xr.DataArray, name: str = "the cube") -> xr.Dataset:
    """Return ``cube`` as a Dataset whose ``pl`` is (y, x, frequency) with frequency in Hz.

    Accepts a Dataset with ``pl`` or the ``pl`` DataArray itself; transposes the dimensions if
    needed and converts a frequency coordinate given in another unit (``units: GHz``) to Hz.

    Raises
    ------
    CubeError
        Naming what is missing or wrong.
    """
    if isinstance(cube, xr.DataArray):
        cube = cube.to_dataset(name="pl")
    if not isinstance(cube, xr.Dataset):
        raise CubeError(f"{name}: expected an xarray Dataset with 'pl', not {type(cube).__name__}")
    if "pl" not in cube.data_vars:
        raise CubeError(f"{name} has no variable 'pl' (y, x, frequency); it has "
                        f"{', '.join(map(str, cube.data_vars)) or 'none'}")
    pl = cube["pl"]
    if set(pl.dims) != set(CUBE_DIMS):
        raise CubeError(f"{name}: 'pl' has dimensions {pl.dims}; it needs exactly "
                        f"{CUBE_DIMS} (rename yours with .rename(...))")
    if "frequency" not in cube.coords:
        raise CubeError(f"{name} has no 'frequency' coordinate (Hz) for its spectra")
    freq = np.asarray(cube["frequency"].values, dtype=float)
    unit = cube["frequency"].attrs.get("units", "Hz")
    if unit != "Hz":
        try:
            freq = freq * parse_quantity(f"1 {unit}", "Hz")
        except QuantityError:
            raise CubeError(f"{name}: the frequency coordinate is in {unit!r}, not a frequency "
                            "unit; store it in Hz") from None
        cube = cube.assign_coords(frequency=("frequency", freq, {"units": "Hz"}))
    steps = np.diff(freq)
    if freq.size < 8 or not np.all(np.isfinite(freq)) or not np.all(steps > 0):
        raise CubeError(f"{name}: the frequency coordinate must be at least 8 finite, "
                        "increasing values in Hz")
    if pl.dims != CUBE_DIMS:
        cube = cube.assign(pl=pl.transpose(*CUBE_DIMS))
    return cube


def write_cube(cube: xr.Dataset, path: str | Path, *, rows_per_chunk: int = 32) -> Path:
    """Write a cube (or a fitted map) as zarr (``*.zarr``) or NetCDF (any other name).

    ``pl`` is chunked by blocks of whole rows with every frequency, the way
    :func:`nvsense.analysis.fit_cube` reads it.
    """
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise CubeError(f"folder {str(path.parent)!r} does not exist; create it first")
    if path.is_dir() and not _is_zarr_store(path):
        # writing a zarr store empties its folder first: never a folder that holds other data
        raise CubeError(f"{str(path)!r} is a folder that is not a zarr store; name a new "
                        "file, e.g. cube.zarr or cube.nc (nothing was written)")
    encoding: dict[str, Any] = {}
    if "pl" in cube.data_vars:
        ny, nx, nf = (cube.sizes[d] for d in CUBE_DIMS)
        chunks = (min(rows_per_chunk, ny), nx, nf)
        key = "chunks" if is_zarr_path(path) else "chunksizes"
        encoding["pl"] = {key: chunks}
    if is_zarr_path(path):
        cube.to_zarr(path, mode="w", encoding=encoding, consolidated=False)
    else:
        if path.suffix.lower() not in _NETCDF_SUFFIXES:
            raise CubeError(f"{str(path)!r}: name the file *.nc (NetCDF) or *.zarr (zarr)")
        cube.to_netcdf(path, engine="h5netcdf", encoding=encoding)
    return path


def bin_pixels(block: np.ndarray, factor: int) -> np.ndarray:
    """Sum ``factor`` × ``factor`` pixel blocks of a (y, x, ...) array.

    Counts add, so a binned pixel keeps Poisson statistics.  Rows and columns that do not fill
    a whole bin are dropped.
    """
    if factor == 1:
        return block
    ny, nx = block.shape[0] // factor, block.shape[1] // factor
    trimmed = block[: ny * factor, : nx * factor]
    return trimmed.reshape(ny, factor, nx, factor, *block.shape[2:]).sum(axis=(1, 3))
