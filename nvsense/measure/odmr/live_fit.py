"""The live fit of an ODMR run: a processor in the measurement thread.

Each sweep is fitted, and so is the running average (seeded by the last good fit of the
average, with a fresh start competing so that an early wrong minimum does not stick).  The
processor gives what the run publishes: the sweep's record in the run file (variables by their
declared names, :func:`nvsense.storage.odmr_fit_variables`) and the fits as
:class:`~nvsense.measure.documents.FitSummary` documents, the average's with its curve on a
fine grid, so that a display draws it without evaluating a model.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..analysis import SweepAnalysis, analyse_spectrum, fine_grid
from ..documents import FitSummary
from ..resonance import ResonanceCheck, check_resonance

__all__ = ["LiveFit", "better_fit"]

log = logging.getLogger(__name__)


def better_fit(a: SweepAnalysis | None, b: SweepAnalysis | None) -> SweepAnalysis | None:
    """The successful one, else the one with the lower χ² (ties keep ``a``)."""
    if a is None or b is None:
        return a if b is None else b
    if a.success != b.success:
        return a if a.success else b
    chi_a, chi_b = float(a.fit.chisqr), float(b.fit.chisqr)
    if not np.isfinite(chi_a):
        return b
    return b if np.isfinite(chi_b) and chi_b < chi_a * (1 - 1e-9) else a


class LiveFit:
    """Fits of each sweep and of the running average of one ODMR run.

    Parameters
    ----------
    frequencies
        The sweep (Hz).
    model
        Fit model (:data:`nvsense.measure.FIT_MODELS`).
    sigma
        ``"poisson"`` for photon counts, ``None`` for a photodiode.
    axes
        NV axis vectors of the sample (the ``hamiltonian`` model), or ``None`` for all four.
    field_guess
        The user's approximate field (T), or ``None``.
    """

    def __init__(self, frequencies: NDArray[np.float64], model: str, *, sigma: str | None,
                 axes: NDArray[np.float64] | None = None,
                 field_guess: NDArray[np.float64] | None = None) -> None:
        self.frequencies = frequencies
        self.model = model
        self.sigma = sigma
        self.axes = axes
        self.field_guess = field_guess
        self.n_lines: int | None = None
        self.last: SweepAnalysis | None = None
        self.last_average: SweepAnalysis | None = None
        self.curve_grid = fine_grid(frequencies)
        #: The verdict on the latest running average (:func:`check_resonance`).
        self.verdict: ResonanceCheck | None = None

    def fit_pair(self, counts: NDArray[np.float64], average: NDArray[np.float64],
                 n_averaged: int) -> tuple[SweepAnalysis | None, SweepAnalysis | None]:
        """Fits of one sweep and of the running average of ``n_averaged`` sweeps."""
        seed = self.last_average.fit if self.last_average is not None else None
        guess_field = self._field_guess()
        sweep_fit = self._analyse(counts, seed, guess_field, weight=1)
        avg_fit = self._analyse(average, seed, guess_field, weight=n_averaged)
        if seed is not None:
            # a fit seeded by the last one stays in that one's minimum, so an early sweep's
            # wrong minimum (a 14N triplet fitted one hyperfine spacing off) would stick for
            # the whole run: a fresh start competes, the better fit wins
            avg_fit = better_fit(avg_fit, self._analyse(average, None, guess_field,
                                                        weight=n_averaged))
        if avg_fit is not None and avg_fit.success:
            self.last_average = avg_fit
        self.last = avg_fit
        self.verdict = self._judge(average, avg_fit, n_averaged)
        return sweep_fit, avg_fit

    def summaries(self, sweep_fit: SweepAnalysis | None, avg_fit: SweepAnalysis | None
                  ) -> tuple[FitSummary | None, FitSummary | None]:
        """The fits as documents; the average's with its curve on the fine grid and the
        verdict on its resonance (:attr:`verdict`): a fit of a spectrum without one is no
        success, so a display never shows its noise as a field."""
        average = None if avg_fit is None else avg_fit.summary(self.curve_grid)
        verdict = self.verdict
        if average is not None and verdict is not None:
            average = replace(average, resonance_found=verdict.found,
                              success=average.success and verdict.found,
                              message=average.message if verdict.found else verdict.message)
        return (None if sweep_fit is None else sweep_fit.summary()), average

    def _judge(self, average: NDArray[np.float64], avg_fit: SweepAnalysis | None,
               n_averaged: int) -> ResonanceCheck | None:
        """The running average's verdict (cheap: a χ² of the spectrum and the fit's line
        significances); ``None`` when it cannot be judged."""
        try:
            return check_resonance(self.frequencies, average, avg_fit, sweeps=n_averaged,
                                   counts=self.sigma == "poisson")
        except Exception:  # a check must never cost data
            log.exception("could not check the running average for a resonance")
            return None

    @staticmethod
    def record(sweep_fit: SweepAnalysis | None, avg_fit: SweepAnalysis | None
               ) -> dict[str, Any]:
        """The run-file values of one sweep's fits (the sweep's and the running average's)."""
        values: dict[str, Any] = {}
        for fit, prefix in ((sweep_fit, ""), (avg_fit, "avg_")):
            if fit is not None:
                values.update(fit.record(prefix))
        return values

    def _field_guess(self) -> NDArray[np.float64] | None:
        """The user's guess, else the last field: keeps the 8-line assignment consistent from
        sweep to sweep instead of hopping between symmetry-equivalent vectors."""
        if self.field_guess is not None:
            return self.field_guess
        last = self.last_average
        if last is not None and last.kind == "vector" and np.all(np.isfinite(last.field)):
            return last.field
        return None

    def _analyse(self, signal: NDArray[np.float64], seed: Any,
                 guess_field: NDArray[np.float64] | None, weight: int) -> SweepAnalysis | None:
        try:  # (n_averages: the average of n sweeps of Poisson counts has variance mean / n)
            return analyse_spectrum(self.frequencies, signal, model=self.model,
                                    n_lines=int(self.n_lines or 1), sigma=self.sigma,
                                    guess=seed, field_guess=guess_field, axes=self.axes,
                                    n_averages=weight)
        except Exception:  # a fit problem must never cost data
            log.exception("fit of a sweep failed")
            return None
