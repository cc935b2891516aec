"""What Python hands the fitting kernels, without importing the kernels (or numba).

The kernels (:mod:`nvsense.fitting.lm_kernel`, :mod:`nvsense.fitting.guess_kernel`) allocate
nothing: their callers make the work arrays and pick the weighting mode.  Those pieces live
here so that a fit whose kernels come from the ahead-of-time module
(:mod:`nvsense.fitting.aot`) never imports numba, whose one-time set-up costs more than a
short run's fits.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import NV_AXES, axis_frame

__all__ = ["SMOOTHING_KERNEL", "SMOOTHING_NOISE_GAIN", "WEIGHTS_PER_ROW", "WEIGHTS_POISSON",
           "WEIGHTS_SHARED", "as_f8", "axis_frames", "fit_scratch", "guess_scratch"]

# Weights: 0 one row of W per spectrum, 1 one row shared by all, 2 Poisson (σ = √counts).
WEIGHTS_PER_ROW = 0
WEIGHTS_SHARED = 1
WEIGHTS_POISSON = 2

#: The guess kernel's smoothing kernel (binomial, 5 points).
SMOOTHING_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0])
#: Noise gain of the smoothing kernel: std of smoothed white noise / std of the noise.
SMOOTHING_NOISE_GAIN = (math.sqrt(float(np.sum(SMOOTHING_KERNEL**2)))
                        / float(np.sum(SMOOTHING_KERNEL)))


def as_f8(a: ArrayLike, ndim: int | None = None) -> NDArray[np.float64]:
    """``a`` as a writeable C-contiguous float64 array (the kernels' one array type)."""
    out = np.ascontiguousarray(a, dtype=np.float64)
    if ndim is not None and out.ndim != ndim:
        raise ValueError(f"expected a {ndim}-D array, got shape {out.shape}")
    if not out.flags.writeable:
        out = out.copy()
    return out


def fit_scratch(n: int, P: int, n_lines: int, n_axes: int = 0) -> tuple[np.ndarray, ...]:
    """Work arrays for one thread of the Levenberg–Marquardt kernels (n points, P parameters,
    n_lines lines in all): (V, SB, JW, MAT, VEC, FROZEN) and, for the Hamiltonian model
    (n_axes > 0), the transitions and their derivatives (t, dt)."""
    out = (np.empty((4, n)), np.empty(n_lines * n), np.empty((P + 1, n)), np.zeros((6, P, P)),
           np.empty((3, P)), np.zeros(P, dtype=np.bool_))
    if n_axes:
        out += (np.empty((n_axes, 2)), np.empty((n_axes, 2, 5)))
    return out


def guess_scratch(n: int) -> tuple[np.ndarray]:
    """Work array for one thread of the guess kernel (n points)."""
    return (np.empty((3, n)),)


def axis_frames(axes: ArrayLike = NV_AXES) -> NDArray[np.float64]:
    """NV frames (rows x, y, z in crystal coordinates) of ``axes``, shape (n_axes, 3, 3)."""
    axes = np.atleast_2d(np.asarray(axes, dtype=float))
    if axes.ndim != 2 or axes.shape[1] != 3 or not np.all(np.isfinite(axes)):
        raise ValueError(f"axes must be finite 3-vectors of shape (n_axes, 3), got {axes.shape}")
    return as_f8(np.stack([axis_frame(a) for a in axes]))
