"""Live field maps while a widefield run records: bin the accumulated cube, fit, map.

After every sweep the acquisition has the accumulated cube ``pl (y, x, frequency)`` in
memory (:meth:`nvsense.storage.cube_writer.CubeWriter.accumulated`).  :class:`LiveMapper`
bins it (``binning`` × ``binning`` pixels: counts add, Poisson statistics stay) and fits every
binned pixel with the same procedure as the offline fit (:func:`nvsense.analysis.fit_cube`:
seed from the image-average spectrum, bounded lines, :func:`nvsense.fitting.fit_batch` on
every core, a second data-seeded fit for failures), in this process, so that the live map and
the full-resolution map afterwards agree.  The result, :class:`LiveMap`, holds the field with
its per-pixel standard error, the success mask, and each binned pixel's spectrum with the
fitted curve (what a GUI shows under the cursor).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from ..fitting import dip_spectrum
from ..physics import hyperfine_offsets
from .widefield import fit_cube

__all__ = ["LiveMap", "LiveMapper"]


@dataclass(frozen=True)
class LiveMap:
    """One live field map.

    Attributes
    ----------
    field, field_error
        (rows, columns) |B∥| of the first line pair (the outermost lines) and its standard
        error, T; NaN where the fit failed.
    success
        (rows, columns) fits to trust (:class:`nvsense.fitting.FitStatus` OK).
    binning
        Raw pixels per binned pixel along each axis.
    n_sweeps
        Sweeps in the cube that was fitted.
    fit_seconds
        Wall time of the fit.
    result
        The full fit (every map of :func:`nvsense.analysis.fit_cube`: centers, widths,
        contrasts, χ², status, ...).
    frequency
        The sweep, Hz.
    spectra
        (rows, columns, frequency) the binned spectra that were fitted, counts.
    """

    field: NDArray[np.float64]
    field_error: NDArray[np.float64]
    success: NDArray[np.bool_]
    binning: int
    n_sweeps: int | None
    fit_seconds: float
    result: xr.Dataset
    frequency: NDArray[np.float64]
    spectra: NDArray[np.float64]

    @property
    def success_fraction(self) -> float:
        return float(np.mean(self.success))

    def spectrum(self, row: int, column: int) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                       NDArray[np.float64] | None]:
        """(frequency, data, fitted curve) of the binned pixel at (row, column); the curve is
        ``None`` where the fit failed."""
        data = self.spectra[row, column]
        if not self.success[row, column]:
            return self.frequency, data, None
        r = self.result.isel(y=row, x=column)
        model = str(self.result.attrs.get("model", "lorentzian"))
        nucleus = {"14n": "14N", "15n": "15N"}.get(model)
        curve = dip_spectrum(self.frequency, r["center"].values, r["width"].values,
                             r["contrast"].values, offset=float(r["baseline"].values),
                             lineshape="gaussian" if model == "gaussian" else "lorentzian",
                             offsets=hyperfine_offsets(nucleus))
        return self.frequency, data, curve


class LiveMapper:
    """Fits a binned widefield cube into a field map, again and again as sweeps arrive.

    Parameters
    ----------
    frequency
        The sweep, Hz (increasing).
    binning
        Raw pixels per binned pixel along each axis.
    model, n_lines, window, width_bounds
        As for :func:`nvsense.analysis.fit_cube` (an even ``n_lines`` gives the field of each
        line pair; the map shows the first, outermost pair).
    pixel_size
        Raw pixel pitch in the sample plane, m (for the map's coordinates).
    """

    def __init__(self, frequency: ArrayLike, *, binning: int = 4, model: str = "lorentzian",
                 n_lines: int = 2, window: float = 25e6,
                 width_bounds: tuple[float, float] | None = None,
                 pixel_size: float | None = None) -> None:
        self.frequency = np.asarray(frequency, dtype=float)
        if isinstance(binning, bool) or int(binning) < 1:
            raise ValueError(f"binning must be a whole number ≥ 1, not {binning!r}")
        if model == "hamiltonian" or int(n_lines) % 2:
            raise ValueError("the live map shows |B∥| of a line pair: use a lines model "
                             "(lorentzian, gaussian, 14n, 15n) with an even n_lines")
        self.binning = int(binning)
        self.options: dict[str, Any] = {"model": model, "n_lines": int(n_lines),
                                        "window": window, "width_bounds": width_bounds}
        self.pixel_size = pixel_size

    def update(self, pl: ArrayLike, *, n_sweeps: int | None = None) -> LiveMap:
        """Fit the cube ``pl`` (rows, columns, frequency) of photo-electron counts.

        Raises
        ------
        ValueError
            If the cube does not match the sweep, or the image-average spectrum cannot be
            fitted (no lines yet: too few sweeps, or the wrong range).
        """
        cube = np.asarray(pl, dtype=np.float32)
        if cube.ndim != 3 or cube.shape[-1] != self.frequency.size:
            raise ValueError(f"pl must be (rows, columns, {self.frequency.size}) counts, not "
                             f"shape {cube.shape}")
        ny, nx = cube.shape[:2]
        b = self.binning
        start = time.perf_counter()
        if ny < b or nx < b:  # fit_cube says why it cannot bin
            ds = xr.Dataset({"pl": (("y", "x", "frequency"), cube, {"units": "counts"})},
                            coords={"frequency": ("frequency", self.frequency)})
            fit_cube(ds, binning=b, workers=0, progress=False, **self.options)
        # bin once, summing in float64 (counts of many sweeps exceed float32's integers), and
        # fit the binned cube: the same sums fit_cube would make, without passing the full
        # cube twice (its seed average and its blocks)
        nby, nbx = ny // b, nx // b
        spectra = cube[:nby * b, :nbx * b].reshape(nby, b, nbx, b, -1).sum(
            axis=(1, 3), dtype=np.float64)
        scale, unit = (self.pixel_size, "m") if self.pixel_size is not None else (1.0, "pixel")
        coords: dict[str, Any] = {
            "frequency": ("frequency", self.frequency, {"units": "Hz"}),
            "y": ("y", (np.arange(nby) * b + (b - 1) / 2) * scale, {"units": unit}),
            "x": ("x", (np.arange(nbx) * b + (b - 1) / 2) * scale, {"units": unit}),
        }
        ds = xr.Dataset({"pl": (("y", "x", "frequency"), spectra, {"units": "counts"})},
                        coords=coords)
        result = fit_cube(ds, binning=1, workers=0, progress=False, **self.options)
        result.attrs["bin"] = b
        elapsed = time.perf_counter() - start
        field = result["field_parallel"].values
        error = result["field_parallel_error"].values
        if field.ndim == 3:  # several pairs: the outermost
            field, error = field[..., 0], error[..., 0]
        success = result["success"].values.astype(bool)
        field = np.where(success, field, np.nan)
        error = np.where(success, error, np.nan)
        return LiveMap(field, error, success, self.binning, n_sweeps, elapsed, result,
                       self.frequency, spectra)
