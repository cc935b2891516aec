"""Peaks and dispersive (lock-in) spectra seen as dips, for the initial guesses.

The guess kernel (:mod:`nvsense.fitting.guess_kernel`) finds dips on a positive baseline.  A
spectrum of peaks ``b + Σ A·s`` becomes one of dips when flipped about a level C above it:
``C − b − Σ A·s`` has the baseline ``C − b`` and depths ``A/(C − b)``.  A dispersive spectrum
``b + Σ A·s′`` (s′ the Lorentzian's derivative scaled to extrema ±1) integrates to a spectrum of
Lorentzian lines: ``∫ s′(u) du = (4/3√3)·L(u)``, so a line of amplitude A and FWHM w becomes a
Lorentzian of height ``A·w·4/(3√3)`` (frequencies in the kernels' MHz), a peak or a dip by the
sign of A.  :func:`dip_view` makes that spectrum and :func:`from_dip_view` turns the guess on it
back into the model's parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .inputs import Sweep
from .models import ModelSpec

__all__ = ["DipView", "dip_view", "from_dip_view"]

#: ∫ s′(u) du over a Lorentzian line: the integrated dispersive shape is this times L(u).
_INTEGRAL = 4.0 / (3.0 * math.sqrt(3.0))


@dataclass(frozen=True)
class DipView:
    """A spectrum of dips standing for ``spec``'s signal, and how to map its guesses back."""

    Y: NDArray[np.float64]  # (n, n_points): dips on a positive baseline
    level: NDArray[np.float64]  # (n,) C of the flip (0 when not flipped)
    flipped: NDArray[np.bool_]  # (n,) the view is C − signal (peaks up in the signal)
    baseline: NDArray[np.float64]  # (n,) the signal's baseline used for an integration
    integrated: bool  # the view integrates a dispersive signal


def dip_view(Y: NDArray[np.float64], sweep: Sweep, spec: ModelSpec) -> DipView:
    """The dips spectrum that stands for the rows of ``Y`` (internal column order)."""
    n = Y.shape[0]
    if spec.signal == "dips":
        return DipView(Y, np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n), False)
    if spec.signal == "peaks":
        top = np.max(Y, axis=1)
        span = np.ptp(Y, axis=1)
        level = top + np.where(span > 0, span, np.abs(top) + 1.0)
        return DipView(np.ascontiguousarray(level[:, None] - Y), level, np.ones(n, dtype=bool),
                       np.zeros(n), False)
    # dispersive: integrate about a robust baseline (the median), trapezoid rule in MHz
    base = np.median(Y, axis=1)
    dx = np.diff(sweep.x)
    mid = 0.5 * (Y[:, 1:] + Y[:, :-1]) - base[:, None]
    integral = np.concatenate([np.zeros((n, 1)), np.cumsum(mid * dx, axis=1)], axis=1)
    # a drift of the baseline integrates to a ramp: remove the straight line through the ends
    ramp = integral[:, -1:] * (sweep.x - sweep.x[0]) / max(sweep.span_mhz, 1e-300)
    integral -= ramp
    centre = np.median(integral, axis=1, keepdims=True)
    up = np.max(integral - centre, axis=1) >= np.max(centre - integral, axis=1)
    span = np.ptp(integral, axis=1)
    span = np.where(span > 0, span, 1.0)
    top = np.max(integral, axis=1)
    bottom = np.min(integral, axis=1)
    # peaks (positive lines) flipped below a level above them; dips lifted above zero
    view = np.where(up[:, None], (top + span)[:, None] - integral,
                    integral - (bottom - span)[:, None])
    level = np.where(up, top + span, bottom - span)
    return DipView(np.ascontiguousarray(view), level, up, base, True)


def from_dip_view(P: NDArray[np.float64], view: DipView, spec: ModelSpec, n_groups: int
                  ) -> NDArray[np.float64]:
    """Guesses made on the view (internal units; [offset, (slope, curvature), c, w, a, ...])
    turned into ``spec``'s parameters (amplitudes in signal units for peaks and derivative)."""
    if spec.signal == "dips":
        return P
    out = P.copy()
    nb = spec.n_base
    base_view = P[:, 0]  # the view's baseline at the sweep's middle
    depth = P[:, nb + 2: nb + 3 * n_groups: 3]  # relative depths on the view
    height = depth * base_view[:, None]  # line heights in the view's units
    if not view.integrated:  # peaks: signal = C − view
        out[:, 0] = view.level - P[:, 0]
        if nb >= 2:
            out[:, 1:nb] = -P[:, 1:nb]
        out[:, nb + 2: nb + 3 * n_groups: 3] = height
        return out
    widths = P[:, nb + 1: nb + 3 * n_groups: 3]
    sign = np.where(view.flipped, 1.0, -1.0)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        amplitude = sign * height / (widths * _INTEGRAL)
    out[:, nb + 2: nb + 3 * n_groups: 3] = np.nan_to_num(amplitude)
    out[:, 0] = view.baseline
    if nb >= 2:
        out[:, 1:nb] = 0.0
    return out
