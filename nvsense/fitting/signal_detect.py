"""Which kind of signal a spectrum is: dips (fluorescence ODMR), peaks, or the dispersive lines
of FM lock-in detection.

Fitted as dips, a spectrum of peaks "succeeds" with contrasts near 1, lines on the flat edges
and a baseline far above the data.  The kind is decided by fitting the strongest line as each
kind (the compiled fitter, a few milliseconds) and keeping the one with the lowest χ²; dips
win unless another kind is clearly better (by ``MARGIN`` reduced-χ² units).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .models import SIGNALS

__all__ = ["MARGIN", "detect_signal"]

#: χ² improvement (in units of the reduced χ² of the better fit) another kind of signal needs
#: over dips to be chosen.
MARGIN = 10.0


def detect_signal(frequencies: ArrayLike, signal: ArrayLike, model: str = "lorentzian",
                  n_lines: int = 1) -> str:
    """"dips", "peaks" or "derivative" for one spectrum (see the module docstring)."""
    from .batch import fit_batch

    f = np.asarray(frequencies, dtype=float)
    y = np.asarray(signal, dtype=float)
    ok = np.isfinite(y)
    if np.count_nonzero(ok) < 8:
        return "dips"
    f, y = f[ok], y[ok]
    if model == "gaussian":
        kinds = ("dips", "peaks")
    else:
        kinds = SIGNALS
    chi2 = {}
    redchi = {}
    for kind in kinds:
        res = fit_batch(f, y, model, n_lines, signal=kind, min_significance=0.0, robust=False)
        chi2[kind] = float(res.chisqr[0]) if np.isfinite(res.chisqr[0]) else np.inf
        redchi[kind] = float(res.redchi[0]) if np.isfinite(res.redchi[0]) else np.inf
    best = min(chi2, key=chi2.get)
    if best != "dips" and chi2[best] < chi2["dips"] - MARGIN * max(redchi[best], 1e-300):
        return best
    return "dips"
