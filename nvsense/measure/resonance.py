"""Did a run measure a resonance at all?  A check of an ODMR spectrum and its fit, from the
data alone.

A fit always returns numbers.  On a spectrum without a resonance — dark counts because the
laser does not reach the sample, a source that is off or not connected to the antenna, lines
outside the sweep, a single NV drowned in shot noise — the "lines" it returns are noise,
sometimes with 100 % contrast.  Such a run must not end looking like a measurement, so every
ODMR run (and the initial sweep of every tracking run) goes through :func:`check_resonance`,
which looks only at the spectrum, its noise and the fit, never at what the bench is made of:

1. **the fit must be physically plausible:** no line deeper than :data:`MAX_CONTRAST` (CW-ODMR
   contrast of NV centres is at most about 30 %; a "dip" of 100 % is a fit to dark counts);
2. **some fitted line must be a real dip:** its contrast at least :func:`line_threshold`
   standard errors — the Gaussian bound at a false-alarm probability of :data:`FALSE_ALARM`,
   corrected for the number of places a line could sit in the sweep (about 5.7 σ for 1 MHz
   lines over 140 MHz).  Only fits whose errors can be trusted count (converged, inside their
   bounds);
3. otherwise the verdict says why, from the spectrum itself: **does the signal depend on
   frequency at all?**  For photon counts the noise is known (Poisson: the variance of an
   average of n sweeps is mean / n) and the scatter about the mean is compared with it (χ² of
   a flat spectrum, threshold at :data:`FALSE_ALARM`, widened for few counts); for other
   signals (photodiode volts) the noise comes from the point-to-point differences (von
   Neumann's ratio, 5 σ).  A flat spectrum gets "the counts do not depend on frequency" with
   the count rate, so dark counts are recognisable; a spectrum with structure the fit could
   not turn into a significant line gets "no fitted line is a significant dip".

A fitted line passes (2) long before the omnibus test of (3) sees a weak resonance (it uses
the line shape), so (3) never vetoes a line that (2) accepted.  A spectrum with structure whose
fit failed (a line at the sweep's edge) is not called resonance-free: the failed fit is
reported as such.

The general plausibility flags of fit results (``nvsense.fitting``) judge single fits; this
check judges a whole run, and names the likely causes for the person at the bench.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..physics.tails import chi2_isf, normal_isf

__all__ = [
    "FALSE_ALARM",
    "GOOD_POINTS_PER_LINEWIDTH",
    "MAX_CONTRAST",
    "MIN_LINE_SIGNIFICANCE",
    "MIN_POINTS_PER_LINEWIDTH",
    "NO_RESONANCE_HINT",
    "RESONANCE_KEY",
    "ResonanceCheck",
    "check_resonance",
    "line_threshold",
]

#: Key of the run's results (run file and catalogue) that records the verdict (True/False).
RESONANCE_KEY = "resonance_found"

#: Probability that a spectrum with no frequency dependence passes as one that has some.
FALSE_ALARM = 1e-6

#: A line deeper than this is not an NV resonance (CW-ODMR contrast stays below ~30 %).
MAX_CONTRAST = 0.5

#: A line counts as a measured dip when its contrast is at least this many standard errors
#: (more for wide sweeps of narrow lines: :func:`line_threshold`).
MIN_LINE_SIGNIFICANCE = 5.0

#: Fit statuses whose line contrasts and errors can be trusted (NOT_SIGNIFICANT: some other
#: line is weak, the strong ones still count).
_USABLE_STATUSES = ("OK", "NOT_SIGNIFICANT")

#: What to check when no resonance was measured (printed after the reason).
NO_RESONANCE_HINT = ("check that the laser and the microwave reach the sample, that the sweep "
                     "covers the lines, and that the power and the averaging suit the sample "
                     "(a single NV needs a low power, fine steps and long dwell)")

#: Fewer sweep points than this per fitted FWHM earn a warning ...
MIN_POINTS_PER_LINEWIDTH = 3.0

#: ... recommending at least this many.
GOOD_POINTS_PER_LINEWIDTH = 5

_VON_NEUMANN_Z = 5.0


@dataclass(frozen=True)
class ResonanceCheck:
    """The verdict on one spectrum.

    Attributes
    ----------
    found
        A resonance was measured: the signal depends on frequency, a fitted line is a
        significant dip, and the fit is plausible.
    reason
        Why not (empty when ``found``).
    frequency_dependence
        How far the spectrum's scatter exceeds its noise, in standard deviations of the
        no-resonance statistic (NaN when it could not be computed).
    """

    found: bool
    reason: str = ""
    frequency_dependence: float = math.nan
    points_per_linewidth: float = math.nan

    def __bool__(self) -> bool:
        return self.found

    def notes(self) -> list[str]:
        """Warnings for the person at the bench: no resonance, or lines sampled by fewer
        than :data:`MIN_POINTS_PER_LINEWIDTH` points per FWHM."""
        if not self.found:
            return [self.message]
        if self.points_per_linewidth < MIN_POINTS_PER_LINEWIDTH:
            return [f"the lines get only {self.points_per_linewidth:.1f} sweep points per FWHM: "
                    f"their centres and widths are poorly sampled; use a finer sweep (at "
                    f"least {GOOD_POINTS_PER_LINEWIDTH} points per FWHM)"]
        return []

    @property
    def message(self) -> str:
        """``"no resonance measured: <reason>; <what to check>"`` (empty when found)."""
        if self.found:
            return ""
        return f"no resonance measured: {self.reason}; {NO_RESONANCE_HINT}"


def check_resonance(
    frequencies: NDArray[np.float64],
    signal: NDArray[np.float64],
    analysis: Any,
    *,
    sweeps: int = 1,
    counts: bool = True,
    dwell: float | None = None,
) -> ResonanceCheck:
    """Decide whether a spectrum and its fit show a resonance (see the module's docstring).

    Parameters
    ----------
    frequencies, signal
        The sweep (Hz) and the signal: the average of ``sweeps`` sweeps.
    analysis
        The fit of ``signal`` (:class:`~nvsense.measure.analysis.SweepAnalysis`, or anything
        with ``fit.centers``, ``fit.contrasts``, ``fit.contrast_errors``), or ``None`` if the
        fit failed outright.
    sweeps
        Number of sweeps averaged (sets the Poisson noise of counts).
    counts
        The signal is photon counts (Poisson noise); otherwise a voltage of unknown noise.
    dwell
        Time per point, s; only used to state the count rate in the reason.
    """
    y = np.asarray(signal, dtype=float)
    f = np.asarray(frequencies, dtype=float)
    finite = np.isfinite(y)
    y, f = y[finite], f[finite]
    if y.size < 4:
        return ResonanceCheck(False, "the spectrum has fewer than 4 finite points")
    dependence, flat_reason = _frequency_dependence(y, max(int(sweeps), 1), counts, dwell)
    fit = getattr(analysis, "fit", analysis)
    if fit is None or len(getattr(fit, "centers", ())) == 0:
        if flat_reason:
            return ResonanceCheck(False, flat_reason, dependence)
        # structure, but no fit to judge: the failed fit is reported as such
        return ResonanceCheck(True, "", dependence)
    centers = np.asarray(fit.centers, dtype=float)
    contrasts = np.asarray(fit.contrasts, dtype=float)
    errors = np.asarray(getattr(fit, "contrast_errors", np.full_like(contrasts, np.nan)),
                        dtype=float)
    deep = np.flatnonzero(~(contrasts <= MAX_CONTRAST))
    if deep.size:
        k = int(deep[0])
        why = (f"implausible fit: the line at {centers[k] / 1e6:.3f} MHz has a contrast of "
               f"{_percent(contrasts[k])} (NV lines stay below {MAX_CONTRAST:.0%})")
        return ResonanceCheck(False, f"{flat_reason}; {why}" if flat_reason else why,
                              dependence)
    with np.errstate(divide="ignore", invalid="ignore"):
        significance = np.where(errors > 0, contrasts / errors, np.nan)
    threshold = line_threshold(f, np.asarray(getattr(fit, "widths", ()), dtype=float))
    usable = _status_name(fit) in _USABLE_STATUSES
    if usable and np.any(significance >= threshold):
        return ResonanceCheck(True, "", dependence,
                              _points_per_linewidth(f, fit, significance, threshold))
    if flat_reason:
        return ResonanceCheck(False, flat_reason, dependence)
    if usable:
        best = np.nanmax(significance) if np.any(np.isfinite(significance)) else math.nan
        best_text = "" if not math.isfinite(best) else f"; the best is {best:.1f} σ"
        return ResonanceCheck(False, f"no fitted line is a dip of at least {threshold:.1f} "
                                     f"standard errors (the false-alarm bound for a line "
                                     f"anywhere in the sweep{best_text})", dependence)
    # the signal depends on frequency but the fit failed: the fit's failure is the news
    return ResonanceCheck(True, "", dependence)


def line_threshold(frequencies: NDArray[np.float64], widths: NDArray[np.float64]) -> float:
    """Significance (contrast / error) a fitted line needs to count as a measured dip: the
    one-sided Gaussian bound at :data:`FALSE_ALARM`, divided among the places a line of the
    fitted width could sit in the sweep (the look-elsewhere effect); about 5.7 for 1 MHz
    lines over 140 MHz."""
    span = float(np.ptp(frequencies)) if np.size(frequencies) > 1 else 0.0
    finite = widths[np.isfinite(widths) & (widths > 0)] if np.size(widths) else widths
    trials = span / float(np.median(finite)) if finite.size and span > 0 else 1.0
    trials = min(max(trials, 1.0), float(np.size(frequencies)))
    return max(normal_isf(FALSE_ALARM / trials), MIN_LINE_SIGNIFICANCE)


def _status_name(fit: Any) -> str:
    status = getattr(fit, "status", None)
    if status is None:
        return "OK" if getattr(fit, "success", True) else "FAILED"
    return str(getattr(status, "name", status))


def _points_per_linewidth(f: NDArray[np.float64], fit: Any, significance: NDArray[np.float64],
                          threshold: float) -> float:
    """Sweep points per FWHM of the significant lines (median width over median step)."""
    widths = np.asarray(getattr(fit, "widths", ()), dtype=float)
    steps = np.diff(np.sort(f))
    steps = steps[steps > 0]
    real = widths[(significance >= threshold) & np.isfinite(widths)] \
        if widths.shape == significance.shape else widths[np.isfinite(widths)]
    if real.size == 0 or steps.size == 0:
        return math.nan
    return float(np.median(real) / np.median(steps))


def _frequency_dependence(y: NDArray[np.float64], sweeps: int, counts: bool,
                          dwell: float | None) -> tuple[float, str]:
    """(significance in σ, reason the signal looks flat or "" if it does not)."""
    n = y.size
    mean = float(np.mean(y))
    if counts:
        rate = "" if not dwell else f", {mean / dwell:.3g} counts/s"
        if mean <= 0:
            return math.nan, "the detector counted no photons at all"
        # Poisson: the average of `sweeps` sweeps has variance mean / sweeps at every point
        lam = mean * sweeps  # counts per point, summed over the sweeps
        dof = n - 1
        chi2 = float(np.sum((y - mean) ** 2) / (mean / sweeps))
        # the χ² tail, widened for few counts: Var[(k − λ)²/λ] = 2 + 1/λ for Poisson k
        widen = math.sqrt(1.0 + 1.0 / (2.0 * lam))
        threshold = dof + (chi2_isf(FALSE_ALARM, dof) - dof) * widen
        sigma = (chi2 - dof) / (math.sqrt(2.0 * dof) * widen)
        if chi2 <= threshold:
            return sigma, (f"the counts do not depend on frequency: they scatter no more than "
                           f"their shot noise (χ²/point {chi2 / dof:.2f}; mean {mean:.3g} "
                           f"counts per point{rate})")
        return sigma, ""
    d2 = float(np.mean(np.diff(y) ** 2))
    var = float(np.var(y, ddof=1))
    if var <= 0:
        return math.nan, "the signal is constant: it does not depend on frequency"
    eta = d2 / var  # von Neumann's ratio: 2 for white noise, below 2 for structure
    z = (1.0 - eta / 2.0) / math.sqrt((n - 2) / (n * n - 1.0))
    if z <= _VON_NEUMANN_Z:
        return z, (f"the signal does not depend on frequency beyond its point-to-point noise "
                   f"({z:.1f} σ)")
    return z, ""


def _percent(value: float) -> str:
    return "?" if not math.isfinite(value) else f"{value * 100:.0f} %"
