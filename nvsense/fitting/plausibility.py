"""Physical plausibility of a converged fit: a fit can minimise χ² and still be nonsense.

Peaks fitted as dips, for instance, "succeed" with contrasts of 0.8–0.9, lines on the flat
edges of the sweep and a baseline five times the highest data point.  A converged fit is
flagged ``IMPLAUSIBLE`` when

* a dip is deeper than half the signal (contrast > 0.5: no NV ODMR line is; ensembles show a
  few %, single NVs up to ~30 %);
* the baseline leaves the data: below the lowest point or more than twice the data's range
  above the highest (for dips), or more than twice the range outside it (peaks, dispersive);
* a peak or dispersive line is more than five times the data's range (lines that cancel each
  other, or a line fitted far off the data);
* a line is centred within one frequency step of either end of the sweep: its middle was not
  measured, so it cannot be told from a slope of the baseline (the flat edges of a sweep are
  where a wrong model puts its spare lines).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .inputs import Sweep
from .models import ModelSpec
from .parameters import Layout
from .status import FitStatus

__all__ = ["MAX_CONTRAST", "flag_implausible", "implausible"]

_OK = int(FitStatus.OK)
_IMPLAUSIBLE = int(FitStatus.IMPLAUSIBLE)
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
    if P.shape[0] == 1:  # the live loop: plain Python is 10x faster on one row
        return np.array([_implausible_row(P[0], float(Y.min()), float(Y.max()), sweep, spec,
                                          layout)])
    lo = Y.min(axis=1)
    hi = Y.max(axis=1)
    span = np.maximum(hi - lo, 1e-12 * np.maximum(np.abs(hi), 1e-300))
    nb = spec.n_base
    if nb == 1:
        bmin = bmax = P[:, 0]
    else:  # the baseline at both ends and in the middle of the sweep
        ends = np.array([sweep.x[0], 0.0, sweep.x[-1]])
        base = P[:, :1] + P[:, 1:2] * ends
        if nb == 3:
            base += P[:, 2:3] * (ends * ends)
        bmin = base.min(axis=1)
        bmax = base.max(axis=1)
    contrasts = P[:, layout.contrasts]
    with np.errstate(invalid="ignore"):
        if spec.signal == "dips":
            bad = (contrasts > MAX_CONTRAST).any(axis=1)
            bad |= bmin < lo - 0.5 * span
        else:
            bad = (np.abs(contrasts) > (_AMPLITUDE_RANGES * span)[:, None]).any(axis=1)
            bad |= bmin < lo - _BASELINE_RANGES * span
        bad |= bmax > hi + _BASELINE_RANGES * span
        if not spec.is_hamiltonian and sweep.x.size >= 3:
            # a line centred within one step of either end
            centers = P[:, layout.centers]
            bad |= ((centers < sweep.x[1]) | (centers > sweep.x[-2])).any(axis=1)
    return bad


def _implausible_row(p: NDArray[np.float64], lo: float, hi: float, sweep: Sweep,
                     spec: ModelSpec, layout: Layout) -> bool:
    """:func:`implausible` for one row (the same rules, tested to agree)."""
    values = p.tolist()
    span = max(hi - lo, 1e-12 * max(abs(hi), 1e-300))
    nb = spec.n_base
    if nb == 1:
        base = [values[0]]
    else:
        ends = (float(sweep.x[0]), 0.0, float(sweep.x[-1]))
        base = [values[0] + values[1] * e + (values[2] * e * e if nb == 3 else 0.0)
                for e in ends]
    contrasts = [values[i] for i in layout.contrasts.tolist()]
    if spec.signal == "dips":
        if any(c > MAX_CONTRAST for c in contrasts) or any(b < lo - 0.5 * span for b in base):
            return True
    elif (any(abs(c) > _AMPLITUDE_RANGES * span for c in contrasts)
          or any(b < lo - _BASELINE_RANGES * span for b in base)):
        return True
    if any(b > hi + _BASELINE_RANGES * span for b in base):
        return True
    if not spec.is_hamiltonian and sweep.x.size >= 3:
        first = float(sweep.x[1])
        last = float(sweep.x[-2])
        return any(values[i] < first or values[i] > last for i in layout.centers.tolist())
    return False


def flag_implausible(status: NDArray[np.int64], P: NDArray[np.float64], Y: NDArray[np.float64],
                     sweep: Sweep, spec: ModelSpec, layout: Layout) -> None:
    """Mark the converged (OK) fits that are implausible as ``IMPLAUSIBLE`` (in place)."""
    ok = status == _OK
    if not ok.any():
        return
    if ok.all():
        status[implausible(P, Y, sweep, spec, layout)] = _IMPLAUSIBLE
        return
    bad = np.zeros(status.shape, dtype=bool)
    bad[ok] = implausible(P[ok], Y[ok], sweep, spec, layout)
    status[bad] = _IMPLAUSIBLE
