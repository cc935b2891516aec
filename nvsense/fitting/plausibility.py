"""Physical plausibility of a converged fit: a fit can minimise χ² and still be nonsense.

Peaks fitted as dips, for instance, "succeed" with contrasts of 0.8–0.9, lines on the flat
edges of the sweep and a baseline five times the highest data point.  A converged fit is
flagged ``IMPLAUSIBLE`` when

* a dip is deeper than half the signal (contrast > 0.5: no NV ODMR line is; ensembles show a
  few %, single NVs up to ~30 %);
* the baseline leaves the data: below the lowest point or more than twice the data's range
  above the highest (for dips), or more than twice the range outside it (peaks, dispersive);
* a peak or dispersive line is more than five times the data's range (lines that cancel each
  other, or a line fitted far off the data).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .inputs import Sweep
from .models import ModelSpec
from .parameters import Layout
from .status import FitStatus

__all__ = ["MAX_CONTRAST", "flag_implausible", "implausible"]

#: Largest plausible fractional depth of one line.
MAX_CONTRAST = 0.5
#: How far (in data ranges) a baseline may lie outside the data.
_BASELINE_RANGES = 2.0
#: Largest plausible amplitude of a peak or dispersive line, in data ranges.
_AMPLITUDE_RANGES = 5.0


def implausible(P: NDArray[np.float64], Y: NDArray[np.float64], sweep: Sweep, spec: ModelSpec,
                layout: Layout) -> NDArray[np.bool_]:
    """(n,) True where the fitted parameters ``P`` (internal units) of the spectra ``Y``
    (internal column order) are physically implausible (see the module docstring)."""
    lo = np.min(Y, axis=1)
    hi = np.max(Y, axis=1)
    span = np.maximum(hi - lo, 1e-12 * np.maximum(np.abs(hi), 1e-300))
    nb = spec.n_base
    ends = np.array([sweep.x[0], 0.0, sweep.x[-1]])
    base = np.repeat(P[:, :1], 3, axis=1)
    if nb >= 2:
        base = base + P[:, 1:2] * ends
    if nb == 3:
        base = base + P[:, 2:3] * ends * ends
    contrasts = P[:, layout.contrasts]
    with np.errstate(invalid="ignore"):
        if spec.signal == "dips":
            bad = np.any(contrasts > MAX_CONTRAST, axis=1)
            bad |= np.any(base < lo[:, None] - 0.5 * span[:, None], axis=1)
            bad |= np.any(base > hi[:, None] + _BASELINE_RANGES * span[:, None], axis=1)
        else:
            bad = np.any(np.abs(contrasts) > _AMPLITUDE_RANGES * span[:, None], axis=1)
            bad |= np.any(base < lo[:, None] - _BASELINE_RANGES * span[:, None], axis=1)
            bad |= np.any(base > hi[:, None] + _BASELINE_RANGES * span[:, None], axis=1)
    return bad


def flag_implausible(status: NDArray[np.int64], P: NDArray[np.float64], Y: NDArray[np.float64],
                     sweep: Sweep, spec: ModelSpec, layout: Layout) -> None:
    """Mark the converged (OK) fits that are implausible as ``IMPLAUSIBLE`` (in place)."""
    ok = status == FitStatus.OK
    if not np.any(ok):
        return
    bad = np.zeros(status.shape, dtype=bool)
    bad[ok] = implausible(P[ok], Y[ok], sweep, spec, layout)
    status[bad] = FitStatus.IMPLAUSIBLE
