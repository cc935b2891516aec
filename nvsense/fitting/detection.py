"""Is there a line at all, and how many: the line detector and the line count.

The detector (:func:`dip_statistic`, :func:`lines_present`)
    The spectrum is smoothed with a 5-point binomial kernel; the statistic is the depth of its
    lowest point below the median level, in units of the smoothed noise at that point (the
    noise from the second differences of the raw spectrum, by a clipped standard deviation:
    robust to the lines and to slow baselines).  A line is present when the statistic exceeds
    :func:`detection_threshold` — calibrated on pure shot-noise sweeps (10⁵–10⁶ simulated
    sweeps per case, 3 to 10⁴ counts per point, 31 to 1001 points) so that a line-free sweep
    shows a line less than once in 10⁴ sweeps (``benchmarks/line_false_alarms.py`` measures
    it).  The threshold rises for short sweeps, where the noise estimate itself is uncertain.

The count (:func:`count_lines`)
    Lines are added one at a time, refitting after each: a line where the residual of the fit
    so far has its most prominent unexplained dip (standing out of the noise like a first line
    would), or one line of the fit split in two (two blended dips leave little residual); the
    best of these fits is kept while the new line

    * is at least 15 % as deep as the deepest line (not a residue of an imperfect line
      shape or a baseline ripple);
    * is not a shoulder of a line already there: two lines closer than the smaller FWHM/√3
      (where two equal dips merge into one, without a bump between them) are one feature,
      and for 14N/15N also those within the multiplet's span (whose three or two lines often
      differ in depth: that is not another resonance); a narrow dip on a broad one, off its
      center, counts as two lines if it is at least 30 % as deep;
    * lowers χ² by more than the Bayesian information criterion asks (3 ln n for the 3 new
      parameters, in units of the reduced χ² of the larger model, so that a line-shape misfit
      of real data does not count as lines);
    * leaves every line significant and the fit inside its bounds.

    Lines that are not significant in the final fit are dropped and the fit is repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .convolve import convolve_rows
from .errors import NoDipFoundError
from .inputs import MHZ, Sweep, check_sweep
from .models import ModelSpec

__all__ = [
    "MAX_DETECTED_LINES",
    "LineCount",
    "count_lines",
    "detection_threshold",
    "dip_statistic",
    "lines_present",
]

#: Most lines the count looks for.
MAX_DETECTED_LINES = 8
#: Every line of a count must be at least this fraction of the deepest line's depth ...
RELATIVE_DEPTH = 0.15
#: ... and a line within another's half width at least this fraction of that one's depth.
NESTED_DEPTH = 0.3
_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0])


def detection_threshold(n_points: int) -> float:
    """Detection threshold (in noise σ of the smoothed spectrum) for a sweep of ``n_points``.

    ``max(5.2, z) + 6/√n + 30/n`` with z the Gaussian quantile that a single point exceeds with
    probability 3·10⁻⁵/n (the Bonferroni bound for ~n/3 independent smoothed points: it grows
    for long sweeps); the other terms cover the uncertainty of the noise estimate in short
    sweeps.  Calibrated on simulated line-free shot-noise sweeps so that a sweep false-alarms
    less than once in 10⁴ (``benchmarks/line_false_alarms.py``).
    """
    from nvsense.physics.tails import normal_isf

    n = max(int(n_points), 5)
    return float(max(5.2, normal_isf(3e-5 / n)) + 6.0 / np.sqrt(n) + 30.0 / n)


def _smooth(Y: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Smoothed rows (edges renormalised) and the per-point noise gain of the smoothing."""
    n = Y.shape[1]
    norm = convolve_rows(np.ones(n), _KERNEL)
    gain = np.sqrt(convolve_rows(np.ones(n), _KERNEL**2)) / norm
    return convolve_rows(Y, _KERNEL) / norm, gain


def noise_sigma(Y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-row white-noise σ from the second differences: a standard deviation clipped at 4σ
    (started from the MAD), robust to lines and slow baselines and, unlike the MAD alone,
    not quantised by small integer counts."""
    d2 = np.diff(Y, n=2, axis=1)
    c = np.median(d2, axis=1, keepdims=True)
    s = 1.4826 * np.median(np.abs(d2 - c), axis=1)
    s = np.where(s > 0, s, d2.std(axis=1))
    for _ in range(3):
        keep = np.abs(d2 - c) < 4.0 * s[:, None]
        count = np.maximum(keep.sum(axis=1), 2)
        c = (np.where(keep, d2, 0.0).sum(axis=1) / count)[:, None]
        s = np.sqrt((np.where(keep, d2 - c, 0.0) ** 2).sum(axis=1) / (count - 1))
    return s / np.sqrt(6.0)


def dip_statistic(spectra: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """The detector's statistic per spectrum (see the module docstring) and the index of the
    deepest smoothed point; ``spectra`` (N, n_points) or (n_points,), in sweep order."""
    Y = np.atleast_2d(np.asarray(spectra, dtype=float))
    smooth, gain = _smooth(Y)
    sigma = noise_sigma(Y)
    level = np.median(smooth, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (level[:, None] - smooth) / (sigma[:, None] * gain[None, :])
    z = np.where(np.isfinite(z), z, 0.0)
    where = np.argmax(z, axis=1)
    return z[np.arange(Y.shape[0]), where], where


def lines_present(spectra: ArrayLike, signal: str = "dips") -> NDArray[np.bool_]:
    """(N,) whether each spectrum shows a line (a dip, or a peak for ``signal="peaks"``)."""
    Y = np.atleast_2d(np.asarray(spectra, dtype=float))
    if signal == "peaks":
        Y = -Y
    z, _ = dip_statistic(Y)
    return z > detection_threshold(Y.shape[1])


@dataclass
class LineCount:
    """The result of :func:`count_lines`: the number of lines and a seed for the final fit."""

    n_lines: int
    seed: dict[str, Any]
    #: (number of lines, χ²) of every model tried, in order.
    path: list[tuple[int, float]] = field(default_factory=list)


def count_lines(
    frequencies: ArrayLike,
    signal: ArrayLike,
    model: str = "lorentzian",
    *,
    baseline: str = "constant",
    lineshape: str | None = None,
    signal_kind: str = "dips",
    sigma: Any = None,
    n_averages: int = 1,
    counts_per_unit: float | None = None,
    min_significance: float = 3.0,
    max_lines: int = MAX_DETECTED_LINES,
    seed: dict[str, Any] | None = None,
) -> LineCount:
    """Count the lines (resonances for "14n"/"15n") of one spectrum and seed their fit.

    Raises
    ------
    NoDipFoundError
        No line stands out of the noise.
    """
    from .batch import fit_batch, model_for

    sweep = check_sweep(frequencies)
    y = np.asarray(signal, dtype=float)
    f = sweep.frequencies
    extra = dict(seed) if seed else {}
    options = dict(baseline=baseline, lineshape=lineshape, signal=signal_kind, sigma=sigma,
                   n_averages=n_averages, counts_per_unit=counts_per_unit)

    def fit(k: int, guess: dict[str, Any] | None = None) -> Any:
        return fit_batch(f, y, model, k, guess={**extra, **(guess or {})}, **options)

    if signal_kind == "derivative":
        first = fit(1)
        a, e = first.contrasts[0, 0], first.contrast_errors[0, 0]
        present = first.status[0] in (0, 5) and abs(a) > detection_threshold(sweep.n) * e
    else:
        present = bool(lines_present(y, signal_kind)[0])
        first = fit(1) if present else None
    if not present:
        raise NoDipFoundError(
            f"no {'line' if signal_kind != 'dips' else 'dip'} stands out of the noise "
            f"({detection_threshold(sweep.n):.1f} σ); check the sweep range and the signal, or "
            f"give n_lines to force a fit")
    spec = model_for(model, 1, baseline, lineshape, None, None, signal_kind)
    best = first
    path = [(1, float(best.chisqr[0]))]
    penalty = 3.0 * np.log(sweep.n)
    threshold = detection_threshold(sweep.n)
    span = float(np.ptp(spec.offsets))
    while best.centers.shape[1] < max_lines:
        k = best.centers.shape[1]
        trials = []
        for guess in _next_guesses(sweep, y, best, spec, threshold, span):
            trial = fit(k + 1, guess)
            path.append((k + 1, float(trial.chisqr[0])))
            if trial.status[0] == 0 and np.isfinite(trial.chisqr[0]) and not (
                    _has_shoulders(trial, span, spec) or _too_shallow(trial, spec)):
                trials.append(trial)
        if not trials:
            break
        trial = min(trials, key=lambda t: t.chisqr[0])
        gain = best.chisqr[0] - trial.chisqr[0]
        unit = trial.redchi[0] if np.isfinite(trial.redchi[0]) and trial.redchi[0] > 0 else 1.0
        if not (np.isfinite(gain) and gain > penalty * unit):
            break
        best = trial
    # drop lines that are not significant and refit, as long as some are
    while best.centers.shape[1] > 1 and best.status[0] == 5:
        keep = np.abs(best.contrasts[0]) >= min_significance * best.contrast_errors[0]
        if keep.all() or not keep.any():
            break
        k = int(np.count_nonzero(keep))
        best = fit(k, {"centers": best.centers[0][keep], "widths": best.widths[0][keep],
                       "contrasts": best.contrasts[0][keep]})
        path.append((k, float(best.chisqr[0])))
    out = {**extra, "centers": best.centers[0], "widths": best.widths[0],
           "contrasts": best.contrasts[0]}
    return LineCount(int(best.centers.shape[1]), out, path)


def _too_shallow(fit: Any, spec: ModelSpec) -> bool:
    """Whether a fitted line is shallower than ``RELATIVE_DEPTH`` of the deepest (by its
    depth, or for dispersive lines its slope at the center, amplitude / width)."""
    a = np.abs(fit.contrasts[0])
    if spec.signal == "derivative":
        a = a / fit.widths[0]
    return bool(a.size > 1 and np.min(a) < RELATIVE_DEPTH * np.max(a))


def _has_shoulders(fit: Any, span: float, spec: ModelSpec) -> bool:
    """Whether two fitted lines are one feature with a shoulder (a line-shape misfit soaked
    up by a second line) rather than two lines: centers closer than the smaller FWHM/√3 (two
    equal Lorentzian dips merge into one, with no bump between them, below that separation)
    plus, for 14N/15N, the multiplet's span.  A narrow dip on a broad one, off its center,
    is two lines."""
    c = fit.centers[0]
    w = fit.widths[0]
    a = np.abs(fit.contrasts[0])
    for i in range(c.size):
        for j in range(i + 1, c.size):
            gap = abs(c[i] - c[j])
            if gap < min(w[i], w[j]) / np.sqrt(3.0) + span:
                return True
            # a line within another's half width must be a good part of its depth: a weak
            # one there is what a line-shape misfit looks like
            if gap < 0.5 * max(w[i], w[j]) and min(a[i], a[j]) < NESTED_DEPTH * max(a[i], a[j]):
                return True
    return False


def _next_guesses(sweep: Sweep, y: NDArray[np.float64], best: Any, spec: ModelSpec,
                  threshold: float, span: float) -> list[dict[str, Any]]:
    """Seeds (SI) of the fits with one more line: the fit so far plus a line at the most
    prominent unexplained feature of the residual, and the fit so far with one of its lines
    split in two (two dips blended into one wide line leave little residual)."""
    base = {"offset": best.baseline[0], "slope": best.baseline_slope[0]}
    c0, w0, a0 = best.centers[0], best.widths[0], best.contrasts[0]
    guesses = []
    for new in _residual_lines(sweep, y, best, spec, threshold, span):
        guesses.append({**base, "centers": np.append(c0, new[0]), "widths": np.append(w0, new[1]),
                        "contrasts": np.append(a0, new[2])})
    for j in range(c0.size):
        if w0[j] < 4.0 * sweep.step_mhz * MHZ:  # too narrow to hold two lines
            continue
        half = 0.5 * w0[j]
        c = np.concatenate([np.delete(c0, j), [c0[j] - 0.5 * half, c0[j] + 0.5 * half]])
        w = np.concatenate([np.delete(w0, j), [half, half]])
        a = np.concatenate([np.delete(a0, j), [a0[j], a0[j]]])
        guesses.append({**base, "centers": c, "widths": w, "contrasts": a})
    return guesses


def _residual_lines(sweep: Sweep, y: NDArray[np.float64], best: Any, spec: ModelSpec,
                    threshold: float, span: float, count: int = 2
                    ) -> list[tuple[float, float, float]]:
    """(center, width, contrast) in SI of the ``count`` most prominent unexplained features
    of the residual that stand out of the noise like a first line would."""
    f = sweep.frequencies
    model = best.best_fit(f, 0)
    resid = y - model
    if spec.signal == "dips":
        profile = -resid
    elif spec.signal == "peaks":
        profile = resid
    else:  # dispersive: the integrated residual, either sign
        x = f / MHZ
        mid = 0.5 * (resid[1:] + resid[:-1]) * np.diff(x)
        integ = np.concatenate([[0.0], np.cumsum(mid)])
        integ -= np.linspace(integ[0], integ[-1], integ.size)
        profile = integ if np.max(integ) >= -np.min(integ) else -integ
    order = np.argsort(f)
    fs, prof = f[order], profile[order]
    smooth, gain = _smooth(prof[None, :])
    if spec.signal == "derivative":
        min_depth = 0.0  # (the integrated noise is not white: χ² and significance decide)
    else:
        min_depth = threshold * float(noise_sigma(prof[None, :])[0]) * float(np.median(gain))
    c, fw, d = _candidates(fs, smooth[0], min_depth)
    out = []
    # (a candidate may sit on a line already fitted: a narrow dip on a broad one pulls the
    # one-line fit toward it; the trial fit is checked for shoulders instead)
    for ci, wi, di in list(zip(c, fw, d))[:count]:
        width = max(np.sqrt(max(wi**2 - span**2, 0.25 * wi**2)), 0.5 * sweep.step_mhz * MHZ)
        if spec.signal == "dips":
            contrast = float(np.clip(di / abs(best.baseline[0]), 0.0, 1.0))
        elif spec.signal == "peaks":
            contrast = float(di)
        else:
            sign = 1.0 if np.max(profile) >= -np.min(profile) else -1.0
            contrast = sign * float(di) * 3.0 * np.sqrt(3.0) / (4.0 * width / MHZ)
        out.append((float(ci), float(width), contrast))
    return out


def _candidates(f: NDArray[np.float64], profile: NDArray[np.float64], min_depth: float):
    from .robust import find_lines

    return find_lines(f, profile, max(min_depth, 1e-300), MAX_DETECTED_LINES)
