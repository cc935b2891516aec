"""Smoothing of spectra by a short kernel: ``scipy.ndimage.convolve1d(Y, kernel, axis=-1,
mode="constant")``, for the line detector and the robust starts.

The same sums in the same order as SciPy's (for a symmetric kernel: the center weight times
the sample, then each pair of samples at equal distance, the farthest first, times their
weight), so the results are identical to the last bit — the tests compare them.  Why not
SciPy: ``import scipy.ndimage`` (with SciPy's array-API layer) costs about 0.15 s of every
short run, for a five-tap kernel.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["convolve_rows"]


def convolve_rows(Y: ArrayLike, kernel: ArrayLike) -> NDArray[np.float64]:
    """Each row of ``Y`` (or ``Y`` itself, 1-D) convolved with ``kernel`` (odd length),
    zeros beyond the ends, the output as long as the input."""
    y = np.asarray(Y, dtype=float)
    w = np.asarray(kernel, dtype=float)[::-1]  # a convolution is a correlation with it flipped
    if w.ndim != 1 or w.size % 2 == 0:
        raise ValueError(f"the kernel must be 1-D with an odd number of taps, got {w.shape}")
    h = w.size // 2
    n = y.shape[-1]
    pad = np.zeros((*y.shape[:-1], n + 2 * h))
    pad[..., h:h + n] = y
    if np.array_equal(w, w[::-1]) or np.array_equal(w, -w[::-1]):  # (anti)symmetric
        sign = 1.0 if np.array_equal(w, w[::-1]) else -1.0
        out = pad[..., h:h + n] * w[h]
        for j in range(-h, 0):
            out += (pad[..., h + j:h + j + n] + sign * pad[..., h - j:h - j + n]) * w[h + j]
        return out
    out = pad[..., 2 * h:2 * h + n] * w[2 * h]  # SciPy's order: the last tap first
    for j in range(2 * h):
        out += pad[..., j:j + n] * w[j]
    return out
