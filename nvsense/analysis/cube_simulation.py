"""Simulated widefield ODMR cubes with a known field map.

Each pixel sees a bias field plus a spatially varying map (uniform, a linear gradient, or a
magnetic point dipole under the NV layer).  Its spectrum follows the physics model: exact
Hamiltonian transitions of every illuminated NV axis, optional 14N/15N hyperfine lines,
Lorentzian dips of the given width and contrast, a Gaussian illumination profile, and Poisson
shot noise on the photon counts.  The truth is stored in the cube, so a fit can be checked.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from .. import __version__
from ..physics import NV_AXES, ZFS_HZ, hyperfine_offsets, transition_frequencies

__all__ = ["FIELD_MAPS", "default_bias", "field_map", "simulate_cube", "simulated_spectra"]

#: Names of the field maps :func:`field_map` knows.
FIELD_MAPS = ("dipole", "uniform", "gradient")

FieldMapName = Literal["dipole", "uniform", "gradient"]

#: Default bias for one NV axis: 2 mT along [111] (lines near 2814 and 2926 MHz).
_BIAS_ONE_AXIS_T = 2e-3 * NV_AXES[0]
#: Default bias for an ensemble of four axes: (4, 1, 2) mT separates the eight lines by
#: ≈ 29 MHz, several widths, so each line is resolved.
_BIAS_FOUR_AXES_T = np.array([4e-3, 1e-3, 2e-3])

# Rows simulated at once: bounds the memory of the (rows, x, frequency) float64 work arrays.
_ROWS_PER_BLOCK = 32


def default_bias(n_axes: int) -> NDArray[np.float64]:
    """Bias field (T, crystal frame) used when none is given: along the axis for one NV axis,
    a direction that separates all lines for several axes."""
    return (_BIAS_ONE_AXIS_T if n_axes == 1 else _BIAS_FOUR_AXES_T).copy()


def resolve_axes(axes: int | ArrayLike) -> NDArray[np.float64]:
    """NV axes from a count (the first 1–4 of :data:`nvsense.physics.NV_AXES`) or vectors."""
    if isinstance(axes, int | np.integer):
        if not 1 <= int(axes) <= 4:
            raise ValueError(f"axes must count 1 to 4 NV orientations, not {axes}")
        return np.asarray(NV_AXES[: int(axes)], dtype=float)
    arr = np.atleast_2d(np.asarray(axes, dtype=float))
    if arr.ndim != 2 or arr.shape[1] != 3 or not np.all(np.isfinite(arr)):
        raise ValueError(f"axes must be a count 1–4 or 3-vectors of shape (n, 3), not {axes!r}")
    return arr / np.linalg.norm(arr, axis=1, keepdims=True)


def field_map(
    name: FieldMapName,
    size: int | tuple[int, int],
    *,
    bias: ArrayLike,
    amplitude: float = 0.4e-3,
) -> NDArray[np.float64]:
    """Field at every pixel, shape (ny, nx, 3), T, crystal frame (image plane = crystal x-y).

    Parameters
    ----------
    name
        ``"uniform"``: the bias everywhere.  ``"gradient"``: the bias plus a field along the
        bias direction growing linearly across x, from −amplitude to +amplitude.
        ``"dipole"``: the bias plus the field of a point dipole (moment along crystal z)
        centred under the image at a depth of an eighth of its width, scaled so its strongest
        pixel adds ``amplitude``.
    size
        Pixels, ``n`` or ``(ny, nx)``.
    bias
        Bias field, T, 3-vector.
    amplitude
        Largest change of the field over the image, T.
    """
    ny, nx = (size, size) if isinstance(size, int | np.integer) else size
    bias = np.asarray(bias, dtype=float)
    if bias.shape != (3,):
        raise ValueError(f"bias must be a 3-vector in T, not shape {bias.shape}")
    field = np.broadcast_to(bias, (ny, nx, 3)).copy()
    if name == "uniform":
        return field
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    if name == "gradient":
        norm = np.linalg.norm(bias)
        direction = bias / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
        ramp = (x - (nx - 1) / 2) / max((nx - 1) / 2, 1)  # −1 … +1 across the image
        return field + amplitude * ramp[..., None] * direction
    if name == "dipole":
        depth = max(nx, ny) / 8
        r = np.stack([x - (nx - 1) / 2, y - (ny - 1) / 2, np.full_like(x, depth)], axis=-1)
        dist = np.linalg.norm(r, axis=-1, keepdims=True)
        unit = r / dist
        moment = np.array([0.0, 0.0, 1.0])
        dipole = (3.0 * unit * (unit @ moment)[..., None] - moment) / dist**3
        dipole *= amplitude / np.max(np.linalg.norm(dipole, axis=-1))
        return field + dipole
    raise ValueError(f"unknown field map {name!r}; use one of {', '.join(FIELD_MAPS)}")


def simulated_spectra(
    field: ArrayLike,
    frequency: ArrayLike,
    *,
    D: float = ZFS_HZ,
    E: float = 0.0,
    axes: NDArray[np.float64] = NV_AXES[:1],
    linewidth: float = 8e6,
    contrast: float = 0.03,
    nucleus: str | None = None,
) -> NDArray[np.float64]:
    """Noise-free normalised ODMR spectra, shape (..., n_freq), for fields of shape (..., 3).

    Every NV axis contributes its two transitions, each a Lorentzian dip of depth ``contrast``
    and FWHM ``linewidth``; with a nucleus each transition splits into equal hyperfine lines
    sharing its depth.  The off-resonance level is 1.
    """
    frequency = np.asarray(frequency, dtype=float)
    centres = transition_frequencies(field, D, E, axes)  # (..., n_axes, 2)
    offsets = hyperfine_offsets(nucleus)
    lines = (centres[..., None] + offsets).reshape(*centres.shape[:-2], -1)
    depth = contrast / offsets.size
    half = linewidth / 2
    spectrum = np.ones((*lines.shape[:-1], frequency.size))
    for k in range(lines.shape[-1]):  # one line at a time keeps memory at one spectrum array
        detuning = frequency - lines[..., k, None]
        spectrum -= depth * half**2 / (detuning**2 + half**2)
    return spectrum


def simulate_cube(
    size: int | tuple[int, int] = 256,
    field_map_name: FieldMapName = "dipole",
    *,
    points: int = 101,
    start: float | None = None,
    stop: float | None = None,
    photons: float = 1e5,
    linewidth: float = 8e6,
    contrast: float = 0.03,
    nucleus: str | None = None,
    axes: int | ArrayLike = 1,
    bias: ArrayLike | None = None,
    amplitude: float = 0.4e-3,
    D: float = ZFS_HZ,
    E: float = 0.0,
    pixel_size: float = 1e-6,
    illumination: Literal["gaussian", "flat"] = "gaussian",
    seed: int | None = None,
) -> xr.Dataset:
    """Simulate a widefield ODMR cube with a known field map.

    Parameters
    ----------
    size
        Image size in pixels, ``n`` or ``(ny, nx)``.
    field_map_name
        ``"dipole"``, ``"uniform"`` or ``"gradient"`` (see :func:`field_map`).
    points, start, stop
        Frequency sweep: number of points and range in Hz.  Default range: every true line
        of the image with a margin of four linewidths (plus the hyperfine spread).
    photons
        Photons per pixel and frequency point off resonance, at the centre of the
        illumination (sets the shot noise).
    linewidth, contrast
        FWHM (Hz) and depth of each transition's dip.
    nucleus
        ``None``/``"none"``, ``"14N"`` or ``"15N"`` hyperfine structure.
    axes
        NV orientations illuminated: a count (1 = [111] only, 4 = the whole ensemble) or
        vectors of shape (n, 3).
    bias
        Bias field, T, crystal frame.  Default :func:`default_bias`.
    amplitude
        Largest field change the map adds, T.
    D, E
        Zero-field and transverse splitting, Hz.
    pixel_size
        Pixel pitch, m (the ``x``/``y`` coordinates).
    illumination
        ``"gaussian"`` (a laser spot whose 1/e² radius is 0.9 of the image width: the corners
        get a third of the centre's light) or ``"flat"``.
    seed
        Seed of the shot noise.

    Returns
    -------
    xarray.Dataset
        ``pl (y, x, frequency)`` in counts (float32), ``true_field (y, x, vector)`` in T,
        ``true_field_parallel (y, x)`` (projection on the first axis) in T, ``brightness
        (y, x)``, and the simulation parameters as attributes.
    """
    axes_arr = resolve_axes(axes)
    bias = default_bias(len(axes_arr)) if bias is None else np.asarray(bias, dtype=float)
    _check_positive(points=points, photons=photons, linewidth=linewidth,
                    contrast=contrast, pixel_size=pixel_size)
    if contrast >= 1:
        raise ValueError(f"contrast is a fraction of the light, below 1, not {contrast}")
    if int(points) < 8:
        raise ValueError(f"points must be at least 8, not {points}")
    truth = field_map(field_map_name, size, bias=bias, amplitude=amplitude)
    ny, nx = truth.shape[:2]
    frequency = _sweep(truth, points, start, stop, D=D, E=E, axes=axes_arr,
                       linewidth=linewidth, nucleus=nucleus)
    brightness = _illumination(ny, nx, illumination)
    rng = np.random.default_rng(seed)
    pl = np.empty((ny, nx, frequency.size), dtype=np.float32)
    for r0 in range(0, ny, _ROWS_PER_BLOCK):
        rows = slice(r0, min(r0 + _ROWS_PER_BLOCK, ny))
        clean = simulated_spectra(truth[rows], frequency, D=D, E=E, axes=axes_arr,
                                  linewidth=linewidth, contrast=contrast, nucleus=nucleus)
        pl[rows] = rng.poisson(photons * brightness[rows, :, None] * clean)
    parallel = truth @ axes_arr[0]
    return xr.Dataset(
        data_vars={
            "pl": (("y", "x", "frequency"), pl,
                   {"units": "counts", "long_name": "photo-luminescence"}),
            "true_field": (("y", "x", "vector"), truth,
                           {"units": "T", "long_name": "true field, crystal frame"}),
            "true_field_parallel": (("y", "x"), parallel,
                                    {"units": "T", "long_name": "true field along NV axis 1",
                                     "axis": axes_arr[0].tolist()}),
            "brightness": (("y", "x"), brightness,
                           {"units": "1", "long_name": "relative illumination"}),
        },
        coords={
            "y": ("y", np.arange(ny) * pixel_size, {"units": "m"}),
            "x": ("x", np.arange(nx) * pixel_size, {"units": "m"}),
            "frequency": ("frequency", frequency, {"units": "Hz"}),
            "vector": ("vector", np.array(["x", "y", "z"], dtype=object)),
        },
        attrs={
            "title": "simulated widefield ODMR cube",
            "software": f"nvsense {__version__}",
            "field_map": field_map_name,
            "bias_t": bias.tolist(),
            "amplitude_t": float(amplitude),
            "photons_per_point": float(photons),
            "linewidth_hz": float(linewidth),
            "contrast": float(contrast),
            "nucleus": str(nucleus or "none"),
            "axes": axes_arr.tolist(),
            "zfs_hz": float(D),
            "strain_hz": float(E),
            "illumination": illumination,
            "seed": -1 if seed is None else int(seed),
        },
    )


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, not {value!r}")


def _sweep(truth: NDArray[np.float64], points: int, start: float | None, stop: float | None,
           *, D: float, E: float, axes: NDArray[np.float64], linewidth: float,
           nucleus: str | None) -> NDArray[np.float64]:
    if start is None or stop is None:
        lines = transition_frequencies(truth.reshape(-1, 3), D, E, axes)
        margin = 4 * linewidth + np.ptp(hyperfine_offsets(nucleus)) / 2
        # round outwards to whole MHz so the default sweeps read nicely
        lo = np.floor((lines.min() - margin) / 1e6) * 1e6
        hi = np.ceil((lines.max() + margin) / 1e6) * 1e6
        start = lo if start is None else start
        stop = hi if stop is None else stop
    if not stop > start:
        raise ValueError(f"the sweep must go up: start {start:g} Hz ≥ stop {stop:g} Hz")
    return np.linspace(start, stop, int(points))


def _illumination(ny: int, nx: int, kind: str) -> NDArray[np.float64]:
    if kind == "flat":
        return np.ones((ny, nx))
    if kind != "gaussian":
        raise ValueError(f"illumination must be 'gaussian' or 'flat', not {kind!r}")
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    waist = 0.9 * max(nx, ny)
    r2 = (x - (nx - 1) / 2) ** 2 + (y - (ny - 1) / 2) ** 2
    return np.exp(-2.0 * r2 / waist**2)
