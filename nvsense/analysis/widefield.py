"""Pixel-by-pixel fits of widefield ODMR cubes, in chunks on Dask.

:func:`fit_cube` follows widefield practice (qdmpy, QDMlab): fit the average spectrum of the
image (or of a region) first, seed every pixel from that fit, bound each line to a window
around its seed and the widths to a plausible range, and report per-pixel χ² and failure
flags rather than stopping on a bad pixel.  Blocks of whole rows are read from the cube one at
a time (zarr or NetCDF, never all in memory), binned, and fitted with
:func:`nvsense.fitting.fit_batch` on the workers of a Dask cluster: a ``LocalCluster`` by
default, any scheduler address to scale out.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from .. import __version__
from ..fitting import FitInputError, FitStatus, canonical_field, fit_batch
from ..physics import GAMMA_NV_HZ_PER_T, NV_AXES, axial_field
from .cube import bin_pixels, check_cube, open_cube
from .widefield_executor import Executor, choose_executor

__all__ = [
    "DEFAULT_WIDTH_BOUNDS",
    "HYPERFINE_WIDTH_BOUNDS",
    "PIXELS_PER_TASK",
    "fit_cube",
    "summarise_fit",
]

#: Width bounds of widefield practice (qdmpy), Hz.
DEFAULT_WIDTH_BOUNDS = (3e6, 40e6)
#: Width bounds for hyperfine-resolved lines (14n/15n models, or a nucleus), Hz: narrower
#: than the multiplet spacing (2.16 / 3.03 MHz) or the structure would not be resolved.
HYPERFINE_WIDTH_BOUNDS = (0.1e6, 10e6)
#: Fitted pixels per Dask task: enough to amortise the task overhead (a few ms) against the
#: fits (≈ 50 µs a pixel), small enough for a smooth progress bar and load balance.
PIXELS_PER_TASK = 4096
#: How long to try to reach a scheduler given by address.
SCHEDULER_TIMEOUT = "10s"
# Guard window of a failed pixel's second, data-seeded fit, in seed windows.
_RETRY_WINDOWS = 2.0


@dataclass(frozen=True)
class _FitOptions:
    """What every block's fit needs; small, so it travels to the workers cheaply."""

    frequency: NDArray[np.float64]
    model: str
    n_lines: int | None
    guess: dict[str, Any]
    bounds: dict[str, Any]
    retry_bounds: dict[str, Any]
    sigma: str | None
    axes: NDArray[np.float64] | None
    nucleus: str | None
    n_threads: int | None


def fit_cube(
    cube: xr.Dataset | xr.DataArray | str | Path,
    *,
    model: str = "lorentzian",
    n_lines: int | None = 2,
    binning: int = 1,
    window: float = 25e6,
    width_bounds: tuple[float, float] | None = None,
    axes: int | ArrayLike | None = None,
    nucleus: str | None = None,
    field_guess: ArrayLike | None = None,
    region: tuple[slice, slice] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    rows_per_task: int | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Fit every pixel of a widefield cube and return the maps.

    Parameters
    ----------
    cube
        A cube Dataset (``pl (y, x, frequency)``, frequency in Hz), its ``pl`` DataArray, or a
        path to a zarr/NetCDF cube (see :mod:`nvsense.analysis.cube`).
    model, n_lines
        Line model of :func:`nvsense.fitting.fit_batch`: "lorentzian", "gaussian", "14n",
        "15n" (``n_lines`` resonances) or "hamiltonian" (``n_lines`` ignored).
    binning
        Sum ``binning`` × ``binning`` pixels before fitting (counts add, so the statistics
        stay Poisson).
    window
        Each line may move at most this far (Hz) from its seed (lines models).
    width_bounds
        (min, max) FWHM, Hz.  Default :data:`DEFAULT_WIDTH_BOUNDS` (qdmpy practice), or
        :data:`HYPERFINE_WIDTH_BOUNDS` for hyperfine models; the minimum drops to a third of
        the seed's width when the seed is narrower.
    axes
        NV axes of the Hamiltonian model: a count (the first n of ``NV_AXES``) or vectors.
        Default: the cube's ``axes`` attribute (simulated cubes), else all four.
    nucleus
        Hyperfine multiplets of the Hamiltonian model (None, "14N", "15N").
    field_guess
        Approximate field (T, crystal frame), e.g. the bias magnet's, for the Hamiltonian
        model: of the 48 fields that give the same lines when all axes are equally bright, the
        fit reports the one nearest this guess.  Without it, the one the seed fit finds.
    region
        (y slice, x slice) of raw pixels whose average seeds the fits.  Default: the image.
    workers
        Worker processes of a ``LocalCluster`` started for this fit; ``0`` fits in this
        process without Dask (numba then uses every core).  Default: chosen from the machine
        and the cube by :func:`nvsense.analysis.choose_executor` (in this process on two
        cores or for small cubes, else one worker per core); the choice is in the result's
        ``executor``, ``executor_workers`` and ``executor_reason`` attributes.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) instead of a local
        cluster; its workers must import nvsense.  The cube blocks are sent to them, so they
        need no access to the file.
    client
        A ``distributed.Client`` to use (not closed afterwards).
    rows_per_task
        Raw image rows per task; default about :data:`PIXELS_PER_TASK` fitted pixels.
    progress
        Show a progress bar (rich) on the terminal.

    Returns
    -------
    xarray.Dataset
        Over (y, x) of the binned image, and ``line``: ``center``, ``center_error``,
        ``width``, ``contrast`` (Hz, fraction), ``baseline``, ``chisqr``, ``reduced_chisqr``,
        ``n_iter``, ``status`` (:class:`nvsense.fitting.FitStatus` codes), ``success``,
        ``reseeded`` (the seeded fit failed and a fit from the pixel's own dips, within
        twice the window of the seed, succeeded); with
        an even number of lines ``field_parallel`` (|B∥| from the outermost pair inwards, T; a
        ``pair`` dimension when there are several pairs; the name of B∥ in run files too),
        ``field_parallel_error``, ``D``, ``D_error``; for
        "hamiltonian" ``field_x``, ``field_y``, ``field_z`` (T, crystal frame) with errors,
        ``D``, ``E``.  Attributes record the model, binning, seed and where the fit ran.

    Raises
    ------
    nvsense.analysis.CubeError
        If the cube is not a valid cube.
    nvsense.fitting.FitInputError
        For unusable fit options.
    ValueError
        If the seed fit of the average spectrum fails (wrong model or line count).
    """
    if workers is not None and (isinstance(workers, bool)
                                or not isinstance(workers, numbers.Integral) or workers < 0):
        raise FitInputError(f"workers must be a whole number ≥ 0, not {workers!r}")
    if scheduler is not None and workers is not None:
        raise FitInputError("give either workers (a local cluster) or a scheduler address, "
                            "not both")
    cube = open_cube(cube) if isinstance(cube, str | Path) else check_cube(cube)
    pl = cube["pl"]
    binning = _check_binning(binning, pl.sizes["y"], pl.sizes["x"])
    frequency = np.asarray(cube["frequency"].values, dtype=float)
    sigma = "poisson" if pl.attrs.get("units") == "counts" else None
    model = str(model).strip().lower()
    hamiltonian = model == "hamiltonian"
    axes_arr = _model_axes(axes, cube) if hamiltonian else None
    nucleus = None if nucleus is None or str(nucleus).lower() == "none" else str(nucleus)
    if not hamiltonian and nucleus is not None:
        raise FitInputError("nucleus applies to the hamiltonian model; for hyperfine lines use "
                            "model='14n' or '15n'")
    if field_guess is not None and not hamiltonian:
        raise FitInputError("field_guess applies to the hamiltonian model only")
    if not (np.isfinite(window) and window > 0):
        raise FitInputError(f"window must be a positive number of Hz, not {window!r}")
    average = _average_spectrum(pl, region) * binning**2
    # the average of n binned pixels: σ = √(average/n) with Poisson weights
    n_binned = _region_pixels(pl, region) / binning**2
    seed = _seed_fit(frequency, average, model, None if hamiltonian else n_lines, sigma,
                     axes_arr, nucleus, field_guess, counts_per_unit=max(n_binned, 1.0))
    hyperfine = model in ("14n", "15n") or nucleus is not None
    widths = _width_bounds(seed, hyperfine, width_bounds)
    bounds: dict[str, Any] = {"width": widths}
    retry_bounds = dict(bounds)
    if not hamiltonian:
        bounds["center_window"] = float(window)
        # a re-seeded pixel may not wander off to another line of the image average
        centers = seed.centers[0]
        retry_bounds["center"] = (centers - _RETRY_WINDOWS * window,
                                  centers + _RETRY_WINDOWS * window)
    options = _FitOptions(
        frequency=frequency,
        model=model,
        n_lines=None if hamiltonian else n_lines,
        guess=_pixel_guess(seed, widths),
        bounds=bounds,
        retry_bounds=retry_bounds,
        sigma=sigma,
        axes=axes_arr,
        nucleus=nucleus,
        n_threads=None,
    )
    ny, nx = pl.sizes["y"] // binning, pl.sizes["x"] // binning
    rows = rows_per_task or max(1, PIXELS_PER_TASK // max(nx, 1)) * binning
    rows = max(binning, rows - rows % binning)
    blocks = [(r0, min(r0 + rows, ny * binning)) for r0 in range(0, ny * binning, rows)]

    def read(block: tuple[int, int]) -> NDArray[np.float64]:
        raw = np.asarray(pl.isel(y=slice(*block)).values, dtype=float)
        return bin_pixels(raw, binning)

    executor = choose_executor(ny * nx, frequency.size, workers=workers, scheduler=scheduler,
                               client=client)
    outputs: dict[str, NDArray[Any]] = {}
    with _progress_bar(progress, ny * nx) as advance:
        for block, arrays in _run_blocks(blocks, read, options, executor, scheduler, client):
            y0 = block[0] // binning
            for name, values in arrays.items():
                if name not in outputs:
                    outputs[name] = np.full((ny, nx, *values.shape[2:]), np.nan
                                            if values.dtype.kind == "f" else 0, values.dtype)
                outputs[name][y0:y0 + values.shape[0]] = values
            advance(arrays["status"].size)
    result = _assemble(outputs, cube, binning, seed, options)
    result.attrs["executor"] = executor.kind
    if executor.workers is not None:
        result.attrs["executor_workers"] = executor.workers
    result.attrs["executor_reason"] = executor.reason
    return result


# --- running the blocks -------------------------------------------------------------------


def _fit_block(block: NDArray[np.float64], options: _FitOptions) -> dict[str, NDArray[Any]]:
    """Fit one (rows, x, frequency) block; runs on a Dask worker.

    Pixels whose seeded fit fails are fitted once more from their own data (the fitter's
    dip finder) inside a wider guard window: a field that moves a line further from the
    image average than its width, or a hyperfine multiplet seeded from a smeared average,
    then still fits.  ``reseeded`` marks them.
    """
    rows, nx, nf = block.shape
    spectra = block.reshape(rows * nx, nf)
    # pl holds photo-electrons (drift-corrected sums: counts that are not whole numbers)
    common = {"sigma": options.sigma, "axes": options.axes, "nucleus": options.nucleus,
              "n_threads": options.n_threads, "counts_per_unit": 1.0}
    result = fit_batch(options.frequency, spectra, options.model, options.n_lines,
                       guess=options.guess, bounds=options.bounds, **common)
    arrays = _result_arrays(result)
    arrays["reseeded"] = np.zeros(rows * nx, dtype=bool)
    retry = np.flatnonzero(~result.success & (result.status != FitStatus.BAD_INPUT))
    if retry.size:
        again = fit_batch(options.frequency, spectra[retry], options.model, options.n_lines,
                          bounds=options.retry_bounds, **common)
        better = retry[again.success]
        for name, values in _result_arrays(again).items():
            arrays[name][better] = values[again.success]
        arrays["reseeded"][better] = True
    return {k: v.reshape(rows, nx, *v.shape[1:]) for k, v in arrays.items()}


def _result_arrays(result: Any) -> dict[str, NDArray[Any]]:
    arrays = {
        "center": result.centers, "center_error": result.center_errors,
        "width": result.widths, "contrast": result.contrasts, "baseline": result.baseline,
        "chisqr": result.chisqr, "reduced_chisqr": result.redchi,
        "n_iter": result.n_iter, "status": result.status,
    }
    if result.model.is_hamiltonian:
        arrays |= {"field_vector": result.field, "field_vector_error": result.field_errors,
                   "D": result.D, "D_error": result.D_error, "E": result.E}
    return {k: np.array(v) for k, v in arrays.items()}


def _run_blocks(
    blocks: list[tuple[int, int]],
    read: Callable[[tuple[int, int]], NDArray[np.float64]],
    options: _FitOptions,
    executor: Executor,
    scheduler: str | None,
    client: Any,
) -> Iterator[tuple[tuple[int, int], dict[str, NDArray[Any]]]]:
    """Yield (block, fitted arrays) as blocks finish, in any order."""
    if executor.kind == "in-process":
        for block in blocks:
            yield block, _fit_block(read(block), options)
        return
    # On a cluster Dask provides the parallelism: one numba thread per task avoids
    # oversubscribing the cores each worker's threads already share.
    options = replace(options, n_threads=1)
    with _client(executor.workers, scheduler, client) as dask_client:
        from distributed import as_completed

        n_threads = sum(dask_client.nthreads().values()) or 1
        in_flight = 2 * n_threads  # keeps every worker busy while bounding client memory
        remote_options = dask_client.scatter(options, broadcast=True)
        pending = iter(blocks)
        futures = {}
        for block in _take(pending, in_flight):
            futures[_submit(dask_client, read(block), remote_options)] = block
        queue = as_completed(list(futures))
        for future in queue:
            block = futures.pop(future)
            arrays = future.result()
            for nxt in _take(pending, 1):
                new = _submit(dask_client, read(nxt), remote_options)
                futures[new] = nxt
                queue.add(new)
            yield block, arrays


def _submit(dask_client: Any, data: NDArray[np.float64], options: Any) -> Any:
    return dask_client.submit(_fit_block, data, options, pure=False)


def _take(iterator: Iterator[Any], n: int) -> list[Any]:
    out = []
    for _ in range(n):
        try:
            out.append(next(iterator))
        except StopIteration:
            break
    return out


@contextmanager
def _client(workers: int | None, scheduler: str | None, client: Any) -> Iterator[Any]:
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            remote = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
        with remote:
            yield remote
        return
    n_workers = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as local:
        yield local


@contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("fitting pixels"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("fit", total=total)
        yield lambda n: bar.advance(task, n)


# --- seeding ------------------------------------------------------------------------------


def _average_spectrum(pl: xr.DataArray, region: tuple[slice, slice] | None) -> NDArray[Any]:
    """Mean spectrum of the region, read in row blocks so a large cube never sits in memory."""
    ys, xs = region if region is not None else (slice(None), slice(None))
    part = pl.isel(y=ys, x=xs)
    if part.sizes["y"] == 0 or part.sizes["x"] == 0:
        raise ValueError(f"the seed region {region} holds no pixel")
    total = np.zeros(part.sizes["frequency"])
    step = max(1, 2**22 // max(part.sizes["x"] * part.sizes["frequency"], 1))
    for r0 in range(0, part.sizes["y"], step):
        block = np.asarray(part.isel(y=slice(r0, r0 + step)).values, dtype=float)
        total += np.nansum(block, axis=(0, 1))
    return total / (part.sizes["y"] * part.sizes["x"])


def _region_pixels(pl: xr.DataArray, region: tuple[slice, slice] | None) -> int:
    """Number of pixels in the seed region."""
    ys, xs = region if region is not None else (slice(None), slice(None))
    part = pl.isel(y=ys, x=xs)
    return int(part.sizes["y"] * part.sizes["x"])


def _seed_fit(frequency: NDArray[np.float64], average: NDArray[np.float64], model: str,
              n_lines: int | None, sigma: str | None, axes: NDArray[np.float64] | None,
              nucleus: str | None, field_guess: ArrayLike | None,
              counts_per_unit: float = 1.0) -> Any:
    """Fit of the average spectrum; with ``field_guess`` (Hamiltonian model) the field is
    moved to the symmetric equivalent nearest the guess and the fit repeated from there.
    ``counts_per_unit``: pixels averaged (Poisson weights of an average, not of one pixel)."""
    seed = fit_batch(frequency, average, model, n_lines, sigma=sigma, axes=axes,
                     nucleus=nucleus, counts_per_unit=counts_per_unit)
    if field_guess is not None and seed.success[0]:
        guess = np.asarray(field_guess, dtype=float)
        if guess.shape != (3,) or not np.all(np.isfinite(guess)):
            raise FitInputError(f"field_guess must be a 3-vector in T, not {field_guess!r}")
        start = seed[0].as_guess() | {"field": canonical_field(seed.field[0], guess)}
        seed = fit_batch(frequency, average, model, n_lines, sigma=sigma, axes=axes,
                         nucleus=nucleus, guess=start, counts_per_unit=counts_per_unit)
    if not seed.success[0]:
        raise ValueError(f"the fit of the image-average spectrum failed "
                         f"({FitStatus(int(seed.status[0])).message}); check the model and "
                         f"line count (--model/--lines) against the spectrum, or seed from a "
                         f"region with clear lines")
    return seed


def _width_bounds(seed: Any, hyperfine: bool,
                  width_bounds: tuple[float, float] | None) -> tuple[float, float]:
    if width_bounds is not None:
        lo, hi = (float(w) for w in width_bounds)
        if not 0 < lo < hi:
            raise FitInputError(f"width_bounds must be (min, max) FWHM in Hz with 0 < min < "
                                f"max, not {width_bounds!r}")
        return lo, hi
    lo, hi = HYPERFINE_WIDTH_BOUNDS if hyperfine else DEFAULT_WIDTH_BOUNDS
    width = float(np.median(seed.widths[0]))
    # A seed narrower than the range means a narrow-line sample: open the range below it.  A
    # broader seed is usually the average of lines that move across the image, so the range
    # stays and the seed width is clipped into it.
    return (lo if width >= lo else width / 3, hi)


def _pixel_guess(seed: Any, width_bounds: tuple[float, float]) -> dict[str, Any]:
    """The seed's line parameters for every pixel, widths clipped into their bounds.  The
    baseline is left to each pixel's own data: the illumination, and so the count level,
    varies over the image."""
    guess = {k: v for k, v in seed[0].as_guess().items() if k not in ("offset", "slope")}
    lo, hi = width_bounds
    inner = (lo * 1.05, hi / 1.05)  # a start exactly on a bound would stall there
    for key in ("widths", "width"):
        if key in guess:
            guess[key] = np.clip(guess[key], *inner)
    return guess


def _model_axes(axes: int | ArrayLike | None, cube: xr.Dataset) -> NDArray[np.float64]:
    if axes is None:
        stored = cube.attrs.get("axes")
        return np.asarray(stored, dtype=float).reshape(-1, 3) if stored is not None else NV_AXES
    if isinstance(axes, int | np.integer):
        if not 1 <= int(axes) <= 4:
            raise FitInputError(f"axes must count 1 to 4 NV orientations, not {axes}")
        return np.asarray(NV_AXES[: int(axes)])
    return np.atleast_2d(np.asarray(axes, dtype=float))


def _check_binning(binning: Any, ny: int, nx: int) -> int:
    if isinstance(binning, bool) or not isinstance(binning, int | np.integer) or binning < 1:
        raise FitInputError(f"bin must be a whole number ≥ 1, not {binning!r}")
    if binning > min(ny, nx):
        raise FitInputError(f"bin {binning} is larger than the image ({ny}×{nx} pixels)")
    return int(binning)


# --- the output dataset -------------------------------------------------------------------


def _assemble(out: dict[str, NDArray[Any]], cube: xr.Dataset, binning: int, seed: Any,
              options: _FitOptions) -> xr.Dataset:
    ny, nx = out["status"].shape
    coords = {name: _binned_coord(cube, name, binning, n) for name, n in (("y", ny), ("x", nx))}
    n_lines = out["center"].shape[-1]
    coords["line"] = ("line", np.arange(n_lines))
    yx, yxl = ("y", "x"), ("y", "x", "line")
    status = out["status"].astype(np.int8)
    ds = xr.Dataset(coords=coords)
    ds["center"] = (yxl, out["center"], {"units": "Hz", "long_name": "line center"})
    ds["center_error"] = (yxl, out["center_error"], {"units": "Hz"})
    ds["width"] = (yxl, out["width"], {"units": "Hz", "long_name": "line FWHM"})
    ds["contrast"] = (yxl, out["contrast"], {"units": "1", "long_name": "line depth"})
    ds["baseline"] = (yx, out["baseline"], {"units": cube["pl"].attrs.get("units", "1")})
    ds["chisqr"] = (yx, out["chisqr"], {"units": "1", "long_name": "χ²"})
    ds["reduced_chisqr"] = (yx, out["reduced_chisqr"], {"units": "1",
                                                        "long_name": "reduced χ²"})
    ds["n_iter"] = (yx, out["n_iter"].astype(np.int32), {"units": "1"})
    ds["status"] = (yx, status, {"flag_values": [int(s) for s in FitStatus],
                                 "flag_meanings": " ".join(s.name for s in FitStatus)})
    ds["success"] = (yx, status == FitStatus.OK, {"long_name": "fit trusted (status OK)"})
    ds["reseeded"] = (yx, out["reseeded"], {
        "long_name": "seeded fit failed; fitted again from the pixel's own dips"})
    if "field_vector" in out:
        for i, c in enumerate("xyz"):
            ds[f"field_{c}"] = (yx, out["field_vector"][..., i],
                                {"units": "T", "long_name": f"B{c}, crystal frame"})
            ds[f"field_{c}_error"] = (yx, out["field_vector_error"][..., i], {"units": "T"})
        ds["D"] = (yx, out["D"], {"units": "Hz", "long_name": "zero-field splitting"})
        ds["D_error"] = (yx, out["D_error"], {"units": "Hz"})
        ds["E"] = (yx, out["E"], {"units": "Hz", "long_name": "transverse splitting"})
    elif n_lines % 2 == 0:
        _add_axial_field(ds, out["center"], out["center_error"])
    ds.attrs = {
        "title": "widefield ODMR fit",
        "software": f"nvsense {__version__}",
        "model": options.model,
        "n_lines": n_lines,
        "bin": binning,
        "window_hz": float(options.bounds.get("center_window", np.nan)),
        "width_bounds_hz": list(options.bounds["width"]),
        "seed_centers_hz": seed.centers[0].tolist(),
        "seed_widths_hz": seed.widths[0].tolist(),
        "weighting": options.sigma or "uniform",
        "success_fraction": float(np.mean(status == FitStatus.OK)),
        "reseeded_fraction": float(np.mean(out["reseeded"])),
    }
    if options.nucleus:
        ds.attrs["nucleus"] = options.nucleus
    if options.axes is not None:
        ds.attrs["axes"] = np.asarray(options.axes).tolist()
    return ds


def _add_axial_field(ds: xr.Dataset, centers: NDArray[np.float64],
                     errors: NDArray[np.float64]) -> None:
    """|B∥| and D of each pair of lines, outermost pair first (one NV axis per pair when every
    lower line lies below every upper one, as below the level anticrossing)."""
    n = centers.shape[-1]
    low, high = centers[..., : n // 2], centers[..., ::-1][..., : n // 2]
    err_low, err_high = errors[..., : n // 2], errors[..., ::-1][..., : n // 2]
    field, D = axial_field(low, high)
    pair_error = np.sqrt(err_low**2 + err_high**2)
    # dB∥/df± = ±1/(2γ) and dD/df± = 1/2 (exact for E = 0)
    field_error = pair_error / (2 * GAMMA_NV_HZ_PER_T)
    D_error = pair_error / 2
    dims: tuple[str, ...] = ("y", "x", "pair")
    if n == 2:
        field, D, field_error, D_error = (a[..., 0] for a in (field, D, field_error, D_error))
        dims = ("y", "x")
    else:
        ds.coords["pair"] = ("pair", np.arange(n // 2))
    ds["field_parallel"] = (dims, field, {"units": "T", "long_name": "|B∥| along the NV axis"})
    ds["field_parallel_error"] = (dims, field_error, {"units": "T"})
    ds["D"] = (dims, D, {"units": "Hz", "long_name": "zero-field splitting (line midpoint)"})
    ds["D_error"] = (dims, D_error, {"units": "Hz"})


def _binned_coord(cube: xr.Dataset, name: str, binning: int, n: int) -> Any:
    if name not in cube.coords:
        return (name, np.arange(n) * binning + (binning - 1) / 2, {"units": "pixel"})
    values = np.asarray(cube[name].values, dtype=float)[: n * binning]
    return (name, values.reshape(n, binning).mean(axis=1), dict(cube[name].attrs))


def summarise_fit(result: xr.Dataset, cube: xr.Dataset | None = None,
                  elapsed: float | None = None) -> list[str]:
    """Lines of text describing a fitted map: speed, success, field range, error vs truth."""
    from ..fitting import describe_status
    from ..units import format_quantity

    n = int(result["success"].size)
    lines = [f"fitted {n} pixels ({result.sizes['y']}×{result.sizes['x']}, bin "
             f"{result.attrs.get('bin', 1)}, model {result.attrs.get('model')})"
             + (f" in {elapsed:.1f} s: {n / elapsed:.0f} pixels/s" if elapsed else "")]
    counts = describe_status(result["status"].values)
    failed = ", ".join(f"{k}: {v}" for k, v in counts.items() if k != "OK")
    reseeded = int(result["reseeded"].sum()) if "reseeded" in result else 0
    lines.append(f"{result.attrs['success_fraction']:.1%} succeeded"
                 + (f" ({failed})" if failed else "")
                 + (f"; {reseeded} re-seeded from their own dips" if reseeded else ""))
    ok = result["success"].values
    for name in ("field_parallel", "field_x", "field_y", "field_z"):
        if name in result and ok.any():
            values = result[name].values
            values = values[..., 0] if values.ndim == 3 else values
            err = result[f"{name}_error"].values
            err = err[..., 0] if err.ndim == 3 else err
            lines.append(f"{name}: {format_quantity(np.nanmin(values[ok]), 'T', 4)} – "
                         f"{format_quantity(np.nanmax(values[ok]), 'T', 4)}, median σ "
                         f"{format_quantity(np.nanmedian(err[ok]), 'T', 3)}")
    if cube is not None:
        from .widefield_plots import field_map_error, field_rms_error

        try:
            error = field_map_error(result, cube)
        except ValueError:
            return lines
        note = (" (truth taken in the symmetric equivalent the fit chose)"
                if error.attrs.get("truth_mapped_by_symmetry") else "")
        lines.append(f"error vs the cube's true field: RMS "
                     f"{format_quantity(field_rms_error(result, cube), 'T', 3)} over the "
                     f"successful pixels{note}")
    return lines
