"""The lines models evaluated in the kernels' internal units, for many parameter vectors at once
(numpy): residuals for new starting points and for the line detector."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .inputs import MHZ
from .models import ModelSpec

__all__ = ["evaluate_lines", "unit_depth"]


def evaluate_lines(P: NDArray[np.float64], x: NDArray[np.float64], spec: ModelSpec
                   ) -> NDArray[np.float64]:
    """The model (n, n_points) of parameter rows ``P`` (internal units: [offset, (slope,
    curvature), center, width, contrast, ...]) on the internal axis ``x`` (MHz)."""
    nb = spec.n_base
    G = (P.shape[1] - nb) // 3
    shape = spec.shape_function()
    offs = spec.offsets / MHZ
    c = P[:, nb::3][:, :G, None, None] + offs[None, None, :, None]  # (n, G, n_off, 1)
    w = P[:, nb + 1::3][:, :G, None, None]
    a = P[:, nb + 2::3][:, :G, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        lines = (a * shape((x[None, None, None, :] - c) / w)).sum(axis=(1, 2))  # (n, n_points)
    base = P[:, :1] + np.zeros_like(x)[None, :]
    if nb >= 2:
        base = base + P[:, 1:2] * x[None, :]
    if nb == 3:
        base = base + P[:, 2:3] * (x * x)[None, :]
    if spec.signal == "dips":
        return base * (1.0 - lines)
    return base + lines


def unit_depth(width: NDArray[np.float64], spec: ModelSpec) -> NDArray[np.float64]:
    """Depth at a resonance's center of its multiplet with unit contrast (1 without hyperfine
    structure; the sum over the multiplet's lines otherwise), for widths in MHz."""
    shape = spec.shape_function() if spec.signal != "derivative" else (
        lambda u: 1.0 / (1.0 + 4.0 * u * u))
    offs = spec.offsets / MHZ
    w = np.asarray(width, dtype=float)[..., None]
    return shape(offs / w).sum(axis=-1)
