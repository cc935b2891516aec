"""Figures of fitted widefield maps (matplotlib, no GUI toolkit needed)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["field_map_error", "field_rms_error", "plot_field_map"]


def field_map_error(result: xr.Dataset, cube: xr.Dataset) -> xr.DataArray:
    """Fitted minus true field on the fitted pixels, T.

    Uses ``field`` against |``true_field_parallel``| of the cube (binned like the map; with
    several line pairs, against the axes' |B∥| sorted from the largest), or
    ``field_x/y/z`` against ``true_field``; the result has a ``vector`` dimension then.  When
    all four axes are equally bright the lines fix the field only up to its 48 signed
    permutations: the truth is then compared in the representative the fit reports (attribute
    ``truth_mapped_by_symmetry`` is 1 when that differs from the stored truth; pass
    ``field_guess`` to :func:`nvsense.analysis.fit_cube` to choose it).

    Raises
    ------
    ValueError
        If the cube holds no truth (only simulated cubes do) or the map has no field.
    """
    factor = int(result.attrs.get("bin", 1))
    if "field_x" in result:
        if "true_field" not in cube:
            raise ValueError("the cube has no 'true_field' to compare with (only simulated "
                             "cubes carry the truth)")
        truth = _binned_mean(cube["true_field"], factor).values
        fitted = xr.concat([result[f"field_{c}"] for c in "xyz"], dim="vector")
        fitted = fitted.assign_coords(vector=["x", "y", "z"]).transpose("y", "x", "vector")
        ok = result["success"].values
        symmetry = _nearest_symmetry(truth[ok], fitted.values[ok])
        error = (fitted - truth @ symmetry.T).rename("field_error_vs_truth")
        # Equally bright axes make the 48 signed permutations of B indistinguishable; say
        # when the comparison had to pick the fit's representative of the true field.
        error.attrs["truth_mapped_by_symmetry"] = int(not np.allclose(symmetry, np.eye(3)))
        return error
    if "field_parallel" not in result:
        raise ValueError("the map has no 'field_parallel' (fit two lines, or use the "
                         "hamiltonian model)")
    fitted = result["field_parallel"]
    if "pair" in fitted.dims:
        # Pairs run from the outermost lines inwards: compare with the axes' |B∥| sorted
        # from the largest down.
        if "true_field" not in cube or "axes" not in cube.attrs:
            raise ValueError("the cube has no 'true_field' and 'axes' to compare with (only "
                             "simulated cubes carry the truth)")
        axes = np.asarray(cube.attrs["axes"], dtype=float).reshape(-1, 3)
        projections = np.abs(_binned_mean(cube["true_field"], factor).values @ axes.T)
        truth = -np.sort(-projections, axis=-1)[..., : fitted.sizes["pair"]]
        return (fitted - truth).rename("field_error_vs_truth")
    if "true_field_parallel" not in cube:
        raise ValueError("the cube has no 'true_field_parallel' to compare with (only "
                         "simulated cubes carry the truth)")
    truth = _binned_mean(cube["true_field_parallel"], factor)
    return (fitted - np.abs(truth.values)).rename("field_error_vs_truth")


def field_rms_error(result: xr.Dataset, cube: xr.Dataset) -> float:
    """RMS of fitted − true field over the successful pixels, T (the length of the error
    vector for vector maps; every pair's error for several line pairs)."""
    error = field_map_error(result, cube)
    values = error.values
    if "vector" in error.dims:
        values = np.linalg.norm(values, axis=-1)
    ok = result["success"].values
    if not ok.any():
        return float("nan")
    return float(np.sqrt(np.nanmean(values[ok] ** 2)))


def _signed_permutations() -> np.ndarray:
    """The 48 signed permutation matrices: the symmetry of an ensemble's eight lines."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[np.arange(3), perm] = signs
            mats.append(m)
    return np.array(mats)


def _nearest_symmetry(truth: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """The signed permutation that brings the true fields closest to the fitted ones."""
    if truth.size == 0:
        return np.eye(3)
    sample = slice(None, None, max(1, truth.shape[0] // 4096))
    mats = _signed_permutations()
    mapped = np.einsum("mij,pj->mpi", mats, truth[sample])
    cost = np.nanmean(np.sum((mapped - fitted[sample]) ** 2, axis=-1), axis=1)
    best = int(np.argmin(cost))
    # prefer the identity when it is as good (e.g. a field along a symmetry axis)
    identity = int(np.flatnonzero([np.allclose(m, np.eye(3)) for m in mats])[0])
    return mats[identity] if cost[identity] <= cost[best] * (1 + 1e-9) else mats[best]


def _binned_mean(da: xr.DataArray, factor: int) -> xr.DataArray:
    if factor == 1:
        return da
    return da.coarsen(y=factor, x=factor, boundary="trim").mean()


def plot_field_map(
    result: xr.Dataset,
    cube: xr.Dataset | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Field map, failed-pixel mask, reduced χ² and (with a simulated cube) error vs truth.

    Failed pixels are grey in the field and error panels.

    Parameters
    ----------
    result
        Map from :func:`nvsense.analysis.fit_cube`.
    cube
        The cube it came from; when it holds the truth a fourth panel shows fitted − true.
    path
        Save the figure there (PNG, PDF, ...) when given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    ok = result["success"].values
    field = _field_to_show(result)
    n_failed = int((~ok).sum())
    panels: list[tuple[str, np.ndarray, str, tuple[float, float] | None]] = [
        (f"{field.attrs.get('long_name', 'field')} (mT)", np.where(ok, field.values, np.nan)
         * 1e3, "viridis", _limits(field.values[ok] * 1e3, full_range=True)),
        (f"failed pixels ({n_failed})", (~ok).astype(float), "Greys", (0.0, 1.0)),
        ("reduced χ²", result["reduced_chisqr"].values, "magma",
         _limits(result["reduced_chisqr"].values)),
    ]
    error = _error_to_show(result, cube)
    if error is not None:
        rms = field_rms_error(result, cube)
        values = np.where(ok, error, np.nan) * 1e6
        limit = max((abs(v) for v in _limits(values[ok]) or (1.0,)), default=1.0)
        panels.append((f"fitted − true (µT), RMS {rms * 1e6:.2g} µT", values, "RdBu_r",
                       (-limit, limit)))
    fig = Figure(figsize=(4.2 * len(panels), 3.8), layout="constrained")
    extent = _extent(result)
    for i, (title, values, cmap, limits) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        colormap = _colormap(cmap)
        vmin, vmax = limits if limits is not None else (None, None)
        image = ax.imshow(values, origin="lower", cmap=colormap, extent=extent,
                          interpolation="nearest", vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x (µm)" if extent else "x (pixel)")
        if i == 0:
            ax.set_ylabel("y (µm)" if extent else "y (pixel)")
        if not title.startswith("failed"):
            fig.colorbar(image, ax=ax, shrink=0.85)
    fig.suptitle(f"{result.attrs.get('model', '')} fit of {ok.size} pixels "
                 f"(bin {result.attrs.get('bin', 1)}), {n_failed} failed", fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def _limits(values: np.ndarray, full_range: bool = False) -> tuple[float, float] | None:
    """Colour limits: the full range for the field (its extremes are the signal), else the
    1–99 % range (a few wild pixels would wash the map out).  None leaves matplotlib's."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    if full_range:
        return (float(finite.min()), float(finite.max()))
    return (float(np.percentile(finite, 1)), float(np.percentile(finite, 99)))


def _colormap(name: str) -> Any:
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad="0.75")  # failed pixels in grey


def _error_to_show(result: xr.Dataset, cube: xr.Dataset | None) -> np.ndarray | None:
    if cube is None:
        return None
    try:
        error = field_map_error(result, cube)
    except ValueError:
        return None
    if "vector" in error.dims:
        return np.linalg.norm(error.values, axis=-1)
    return error.values[..., 0] if "pair" in error.dims else error.values


def _field_to_show(result: xr.Dataset) -> xr.DataArray:
    if "field_parallel" in result:
        field = result["field_parallel"]
        return field.isel(pair=0) if "pair" in field.dims else field
    if "field_x" in result:
        magnitude = np.sqrt(sum(result[f"field_{c}"] ** 2 for c in "xyz"))
        return magnitude.assign_attrs(long_name="|B|")
    raise ValueError("the map has no field to show (fit two lines, or the hamiltonian model)")


def _extent(result: xr.Dataset) -> list[float] | None:
    if result["x"].attrs.get("units") != "m":
        return None
    x, y = result["x"].values * 1e6, result["y"].values * 1e6
    dx = (x[1] - x[0]) if x.size > 1 else 1.0
    dy = (y[1] - y[0]) if y.size > 1 else 1.0
    return [x[0] - dx / 2, x[-1] + dx / 2, y[0] - dy / 2, y[-1] + dy / 2]
