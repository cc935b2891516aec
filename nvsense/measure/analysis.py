"""Fit one ODMR spectrum and turn its lines into field, as each sweep arrives.

The live loop uses :func:`nvsense.fitting.fit_batch` on one spectrum (about 1 ms for 8 lines),
seeded by the previous fit, and then derives the field:

- two lines (one NV axis, or a field along an axis): B∥ and D from the exact axial relation
  (:func:`nvsense.physics.axial_field`);
- eight lines of an ensemble: the field vector and D by least squares on the exact Hamiltonian
  (:func:`nvsense.physics.field_from_transitions`), the assignment of lines to axes guided by
  ``field_guess`` (or the previous field);
- the ``hamiltonian`` model: the field comes out of the fit itself;
- any other number of lines: lines only, no field.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..fitting import FitInputError, FitStatus, LineFit, count_lines, fit_batch
from ..physics import GAMMA_NV_HZ_PER_T, axial_field, field_from_transitions
from ..storage.layouts import odmr_fit_variables
from .documents import FitSummary

__all__ = ["FieldKind", "SweepAnalysis", "analyse_spectrum", "count_dips", "field_kind",
           "fine_grid", "segments"]

log = logging.getLogger(__name__)

FieldKind = Literal["vector", "parallel", "none"]


def field_kind(model: str, n_lines: int) -> FieldKind:
    """What field a fit with ``n_lines`` lines of ``model`` gives."""
    if model == "hamiltonian" or n_lines == 8:
        return "vector"
    if n_lines == 2:
        return "parallel"
    return "none"


@dataclass(frozen=True)
class SweepAnalysis:
    """Lines and field from one spectrum (all SI; NaN where unknown).

    Attributes
    ----------
    fit
        The line fit (:class:`nvsense.fitting.LineFit`); use ``fit.as_guess()`` to seed the
        next one.
    success
        The fit converged and its lines are significant.
    field, field_errors
        Field vector (3,) in T (crystal frame) and its standard errors, for ``"vector"``.
    field_parallel, field_parallel_error
        B∥ in T for ``"parallel"``: the projection on the axis of the two lines.
    D, D_error
        Zero-field splitting in Hz (a temperature readout).
    best_fit
        The fitted model on the sweep's frequencies (for plots and residuals).
    message
        Why the fit or the field failed, empty when all went well.
    """

    fit: LineFit
    kind: FieldKind
    success: bool
    field: NDArray[np.float64]
    field_errors: NDArray[np.float64]
    field_parallel: float
    field_parallel_error: float
    D: float
    D_error: float
    best_fit: NDArray[np.float64]
    message: str = ""
    batch: Any = dc_field(default=None, repr=False, compare=False)

    def curve(self, frequencies: NDArray[np.float64]) -> NDArray[np.float64]:
        """The fitted model on any frequencies (Hz), e.g. a fine grid for plots."""
        return self.batch.best_fit(np.asarray(frequencies, dtype=float), 0)

    @property
    def centers(self) -> NDArray[np.float64]:
        return self.fit.centers

    # the run-file variables by their declared names (nvsense.storage.odmr_fit_variables)
    @property
    def line_center(self) -> NDArray[np.float64]:
        return self.fit.centers

    @property
    def line_center_error(self) -> NDArray[np.float64]:
        return self.fit.center_errors

    @property
    def line_width(self) -> NDArray[np.float64]:
        return self.fit.widths

    @property
    def line_width_error(self) -> NDArray[np.float64]:
        return self.fit.width_errors

    @property
    def line_contrast(self) -> NDArray[np.float64]:
        return self.fit.contrasts

    @property
    def line_contrast_error(self) -> NDArray[np.float64]:
        return self.fit.contrast_errors

    @property
    def fit_success(self) -> bool:
        return self.success

    @property
    def field_error(self) -> NDArray[np.float64]:
        return self.field_errors

    @property
    def center_errors(self) -> NDArray[np.float64]:
        return self.fit.center_errors

    @property
    def widths(self) -> NDArray[np.float64]:
        return self.fit.widths

    @property
    def contrasts(self) -> NDArray[np.float64]:
        return self.fit.contrasts

    @property
    def redchi(self) -> float:
        return self.fit.redchi

    def record(self, prefix: str = "") -> dict[str, Any]:
        """The values of one run-file record: every variable of
        :func:`nvsense.storage.odmr_fit_variables` for this fit's field kind, by its declared
        name (with ``prefix``: ``"avg_"`` for the running average's fit)."""
        return {f"{prefix}{v.name}": getattr(self, v.name)
                for v in odmr_fit_variables(self.kind)}

    def summary(self, curve_frequencies: NDArray[np.float64] | None = None) -> FitSummary:
        """The fit as a document (:class:`~nvsense.measure.documents.FitSummary`): its
        numbers, its model on the sweep and, given ``curve_frequencies`` (a fine grid,
        NaN between ranges), the curve to draw."""
        fine = np.zeros(0) if curve_frequencies is None else np.asarray(curve_frequencies)
        curve = np.zeros(0)
        if fine.size and self.batch is not None:
            curve = np.full(fine.shape, np.nan)
            finite = np.isfinite(fine)
            try:
                curve[finite] = self.batch.best_fit(fine[finite], 0)
            except Exception as exc:  # a curve is a courtesy: the numbers stand without it
                log.debug("fit curve on the fine grid failed: %s", exc)
                fine = curve = np.zeros(0)
        f = self.fit
        return FitSummary(
            kind=self.kind, success=bool(self.success), message=self.message,
            centers=f.centers, center_errors=f.center_errors, widths=f.widths,
            width_errors=f.width_errors, contrasts=f.contrasts,
            contrast_errors=f.contrast_errors, redchi=float(f.redchi), field=self.field,
            field_errors=self.field_errors, field_parallel=float(self.field_parallel),
            field_parallel_error=float(self.field_parallel_error), D=float(self.D),
            D_error=float(self.D_error), best_fit=self.best_fit,
            curve_frequencies=fine, curve_values=curve)

    def results(self) -> dict[str, Any]:
        """Key results for the catalogue and the CLI's JSON."""
        out: dict[str, Any] = {
            "lines_hz": [float(c) for c in self.fit.centers],
            "line_errors_hz": [float(e) for e in self.fit.center_errors],
            "linewidth": float(np.nanmedian(self.fit.widths)),
            "contrast": float(np.nanmedian(self.fit.contrasts)),
            "fit_success": bool(self.success),
        }
        if self.kind == "vector":
            for label, value, error in zip("xyz", self.field, self.field_errors, strict=True):
                out[f"field_{label}"] = float(value)
                out[f"field_{label}_error"] = float(error)
        elif self.kind == "parallel":
            out["field_parallel"] = self.field_parallel
            out["field_parallel_error"] = self.field_parallel_error
        if self.kind != "none":
            out["D"] = self.D
            out["D_error"] = self.D_error
        return out


_NAN3 = np.full(3, np.nan)

#: Points of the fine grid a fit curve is drawn on, per frequency range.
CURVE_POINTS = 1500


def segments(frequencies: NDArray[np.float64]) -> list[slice]:
    """Contiguous frequency ranges of a sweep (several ranges are swept one after the other):
    a new segment starts where the frequency goes down or jumps by more than twice the median
    step."""
    f = np.asarray(frequencies, dtype=float)
    if f.size < 3:
        return [slice(0, f.size)]
    step = np.diff(f)
    typical = np.median(np.abs(step))
    cuts = np.flatnonzero((step <= 0) | (step > 2 * typical)) + 1
    edges = [0, *cuts.tolist(), f.size]
    return [slice(a, b) for a, b in itertools.pairwise(edges) if b > a]


def fine_grid(frequencies: NDArray[np.float64], points: int = CURVE_POINTS
              ) -> NDArray[np.float64]:
    """``points`` frequencies across each range of the sweep, a NaN between ranges (so that a
    curve drawn on them has a gap there)."""
    f = np.asarray(frequencies, dtype=float)
    parts = [np.linspace(f[p][0], f[p][-1], points) for p in segments(f) if f[p].size]
    out: list[NDArray[np.float64]] = []
    for k, part in enumerate(parts):
        if k:
            out.append(np.array([np.nan]))
        out.append(part)
    return np.concatenate(out) if out else np.zeros(0)


def count_dips(frequencies: NDArray[np.float64], signal: NDArray[np.float64],
               model: str = "lorentzian") -> int:
    """Number of dips in a spectrum: :func:`nvsense.fitting.count_lines`, the line count
    that ``fit_spectrum(..., n_lines=None)`` uses, without that function's final lmfit fit
    (the number of lines is decided before it; lmfit would only add its import and a fit to
    every run's start).

    The line detector behind it (:func:`nvsense.fitting.lines_present`) reports a line in a
    line-free shot-noise sweep less than once in 10⁴ sweeps; without a dip this raises
    :class:`nvsense.fitting.NoDipFoundError`; a signal that is not one finite value per
    frequency raises :class:`nvsense.fitting.FitInputError`."""
    y = np.asarray(signal, dtype=float)
    if y.ndim != 1 or y.size != np.size(frequencies):
        raise FitInputError(f"signal must be 1-D with one value per frequency "
                            f"({np.size(frequencies)}), got shape {y.shape}")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise FitInputError(f"signal has {bad.size} NaN/inf value(s) (first at index "
                            f"{bad[0]}); drop those points (and their frequencies) first")
    model = model if model != "hamiltonian" else "lorentzian"
    return count_lines(frequencies, y, model).n_lines


def analyse_spectrum(
    frequencies: NDArray[np.float64],
    signal: NDArray[np.float64],
    *,
    model: str,
    n_lines: int,
    sigma: str | NDArray[np.float64] | None = "poisson",
    guess: Any = None,
    field_guess: NDArray[np.float64] | None = None,
    axes: NDArray[np.float64] | None = None,
    n_averages: int = 1,
) -> SweepAnalysis:
    """Fit one spectrum and derive the field.

    Parameters
    ----------
    frequencies, signal
        The sweep (Hz) and its counts (or volts).
    model, n_lines
        Fit model and number of lines (resonances for 14n/15n; ignored for hamiltonian).
    sigma
        ``"poisson"`` for photon counts, an array of standard deviations, or None.
    guess
        A previous :class:`LineFit` (or its ``as_guess()``) to start from.
    field_guess
        Approximate field (3,) in T to pick the line assignment of 8 lines.
    axes
        NV axes of the sample (for the hamiltonian model), default all four.
    n_averages
        The spectrum is the average of this many sweeps: with ``sigma="poisson"`` the weights
        are those of the average (variance mean/N), so χ² and the errors are right.
    """
    kwargs: dict[str, Any] = {"sigma": sigma, "n_averages": int(n_averages)}
    if guess is not None:
        kwargs["guess"] = guess.as_guess() if isinstance(guess, LineFit) else guess
    if model == "hamiltonian":
        if field_guess is not None and guess is None:
            kwargs["guess"] = {"field": np.asarray(field_guess, dtype=float)}
        if axes is not None:
            kwargs["axes"] = axes
        n = 2 * (4 if axes is None else len(axes))
    else:
        n = n_lines
    batch = fit_batch(frequencies, np.asarray(signal, dtype=float)[None, :], model=model,
                      n_lines=n, **kwargs)
    fit = batch[0]
    kind = field_kind(model, n)
    success = fit.status == FitStatus.OK
    message = "" if success else fit.status.message
    b_vec, b_vec_err = _NAN3, _NAN3
    b_par = b_par_err = d = d_err = float("nan")
    if kind == "vector" and model == "hamiltonian":
        if fit.field is not None:
            b_vec = np.asarray(fit.field, dtype=float)
            b_vec_err = np.asarray(fit.field_errors, dtype=float)
            d, d_err = float(fit.D), float(fit.D_error)
    elif kind == "vector" and success:
        try:
            est = field_from_transitions(fit.centers, sigma=fit.center_errors, guess=field_guess)
            b_vec, d = est.field, float(est.D)
            b_vec_err = est.field_errors if est.field_errors is not None else _NAN3
            d_err = float(est.D_error) if est.D_error is not None else float("nan")
            if not est.success:
                success, message = False, f"field: {est.message}"
        except ValueError as exc:  # lines no field reproduces: report, keep measuring
            success, message = False, f"field: {exc}"
    elif kind == "parallel":
        lo, hi = np.sort(fit.centers)
        e_lo, e_hi = fit.center_errors[np.argsort(fit.centers)]
        b_par, d = (float(v) for v in axial_field(lo, hi))
        # B∥ = (f+ − f−) / 2γ and D = (f+ + f−) / 2 for a field along the axis
        b_par_err = float(np.hypot(e_lo, e_hi) / (2 * GAMMA_NV_HZ_PER_T))
        d_err = float(np.hypot(e_lo, e_hi) / 2)
    return SweepAnalysis(fit=fit, kind=kind, success=bool(success), field=b_vec,
                         field_errors=b_vec_err, field_parallel=b_par,
                         field_parallel_error=b_par_err, D=d, D_error=d_err,
                         best_fit=batch.best_fit(frequencies, 0), message=message, batch=batch)
