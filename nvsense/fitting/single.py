"""``fit_spectrum``: the careful fit of one spectrum, with lmfit.

The careful path: the kind of signal (dips, peaks, dispersive lock-in lines) from the data or
the user; the number of lines counted by :mod:`nvsense.fitting.detection`; several starting
points (the data guess, the robust starts of :mod:`nvsense.fitting.robust`, the user's seed),
each fitted by the compiled fitter, the best χ² kept; then lmfit from it, for the report and
the uncertainties.  The status says whether the result is right: at a bound, beaten by another
start, not significant or implausible is not a success.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import ZFS_HZ, transition_frequencies, transition_jacobian

from .batch import default_fixed, fit_batch, model_for
from .detection import MAX_DETECTED_LINES, count_lines
from .errors import FitInputError
from .inputs import Sweep, check_counts, check_sweep, counts_scale, is_poisson, weights_for
from .models import ModelSpec
from .parameters import Layout, SeedArrays, resolve_bounds, resolve_fixed, resolve_seed
from .plausibility import implausible
from .results import SingleFitMixin
from .starts import hamiltonian_field_guess, start_values
from .status import FitStatus

if TYPE_CHECKING:  # lmfit is imported when a spectrum is fitted (it takes ~0.5 s to import)
    import lmfit

__all__ = ["MAX_DETECTED_LINES", "SpectrumFit", "fit_spectrum"]

#: A start whose χ² is lower than the final fit's by more than this many reduced-χ² units
#: means the final fit is a local minimum (not a success).
BEATEN_BY = 1.0


@dataclass(frozen=True)
class SpectrumFit(SingleFitMixin):
    """Result of :func:`fit_spectrum` (SI units; lines sorted by center).

    ``params`` is the lmfit ``Parameters`` (names: offset, slope, center0, width0,
    contrast0, ... or Bx, By, Bz, D, E, width, contrast0..); ``lmfit_result`` the full
    ``MinimizerResult``.  Errors are NaN where lmfit could not estimate them.
    """

    model: ModelSpec
    frequencies: NDArray[np.float64]
    centers: NDArray[np.float64]
    center_errors: NDArray[np.float64]
    widths: NDArray[np.float64]
    width_errors: NDArray[np.float64]
    contrasts: NDArray[np.float64]
    contrast_errors: NDArray[np.float64]
    baseline: float
    baseline_slope: float
    chisqr: float
    redchi: float
    status: FitStatus
    best_fit: NDArray[np.float64]
    residual: NDArray[np.float64]
    params: lmfit.Parameters
    lmfit_result: Any
    field: NDArray[np.float64] | None = None
    field_errors: NDArray[np.float64] | None = None
    D: float | None = None
    D_error: float | None = None
    E: float | None = None
    E_error: float | None = None
    axis_contrasts: NDArray[np.float64] | None = None
    transitions: NDArray[np.float64] | None = None
    baseline_curvature: float = 0.0
    #: χ² of every start (compiled fitter), the one the final fit began from first.
    starts_chisqr: NDArray[np.float64] | None = None
    #: The signal kind fitted: "dips", "peaks" or "derivative".
    signal: str = "dips"

    @property
    def n_lines(self) -> int:
        return int(self.centers.size)

    def report(self) -> str:
        """A readable report: model, status, lines, and lmfit's parameter report."""
        lines = [f"nvsense fit: model {self.model.name!r}, {self.n_lines} line(s), "
                 f"{self.model.baseline} baseline, {self.model.signal}",
                 f"status: {self.status.name} ({self.message}); reduced chi-square "
                 f"{self.redchi:.4g}"]
        if self.field is not None:
            b = ", ".join(f"{v * 1e3:.5f} ± {e * 1e3:.5f}" for v, e in
                          zip(self.field, self.field_errors))
            lines.append(f"field (mT, crystal frame): {b}")
            lines.append(f"D = {self.D / 1e6:.4f} ± {self.D_error / 1e6:.4f} MHz, "
                         f"E = {self.E / 1e6:.4f} ± {self.E_error / 1e6:.4f} MHz")
        for k in range(self.n_lines):
            lines.append(f"line {k}: center {self.centers[k] / 1e6:.4f} ± "
                         f"{self.center_errors[k] / 1e6:.4f} MHz, width "
                         f"{self.widths[k] / 1e6:.3f} MHz, contrast {self.contrasts[k]:.4g}")
        import lmfit

        lines.append(lmfit.fit_report(self.lmfit_result))
        return "\n".join(lines)


def fit_spectrum(
    frequencies: ArrayLike,
    signal: ArrayLike,
    model: str = "lorentzian",
    n_lines: int | None = None,
    *,
    guess: Any = None,
    field_guess: ArrayLike | None = None,
    sigma: Any = None,
    baseline: str = "constant",
    bounds: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    lineshape: str | None = None,
    nucleus: str | None = None,
    axes: ArrayLike | None = None,
    scale_covar: bool = True,
    min_significance: float = 3.0,
    max_nfev: int | None = None,
    signal_kind: str = "dips",
    n_averages: int = 1,
    counts_per_unit: float | None = None,
) -> SpectrumFit:
    """Fit one spectrum with lmfit (Levenberg–Marquardt, MINPACK), with uncertainties.

    Parameters
    ----------
    frequencies
        Sweep, Hz, shape (n_freq,).
    signal
        The spectrum, shape (n_freq,): counts, normalised PL, photodiode volts, or a lock-in
        output (see ``signal_kind``).
    model
        "lorentzian", "gaussian", "14n", "15n" or "hamiltonian" (case-insensitive).
    n_lines
        Number of lines (resonances for "14n"/"15n"); None counts them (at most 8, see
        :func:`nvsense.fitting.detection.count_lines`): lines are added where the residual
        shows an unexplained line, while the information criterion asks for them; lines whose
        fitted contrast is not significant are dropped and the fit repeated.  Unequal depths
        within a hyperfine multiplet do not count as more resonances.  Ignored for
        "hamiltonian".
    guess
        Seeds: a previous result or a dict (see :func:`nvsense.fitting.fit_batch`).
    field_guess
        Hamiltonian model: a rough field (T).  The field found from the data is replaced by
        its symmetric equivalent nearest to this (see ``field_from_lines``).
    sigma
        None, "poisson", a number or an (n_freq,) array of standard deviations.
    baseline, bounds, fixed, lineshape, nucleus, axes
        As for :func:`nvsense.fitting.fit_batch` (baseline "constant", "linear" or
        "quadratic").
    scale_covar
        Scale the covariance by the reduced χ² (lmfit's default).
    min_significance
        Lines with contrast below this many standard errors make the fit NOT_SIGNIFICANT.
    max_nfev
        Limit on model evaluations (lmfit's default if None).
    signal_kind
        "dips" (default), "peaks", "derivative" (FM lock-in) or "auto" (from the data); see
        :mod:`nvsense.fitting.models`.  For peaks and derivative the contrasts are amplitudes
        in signal units.  (Named ``signal_kind`` because ``signal`` is the data.)
    n_averages, counts_per_unit
        With ``sigma="poisson"``: the spectrum is the average of ``n_averages`` sweeps in units
        of ``1/counts_per_unit`` counts (see :func:`nvsense.fitting.fit_batch`).

    Returns
    -------
    SpectrumFit

    Raises
    ------
    FitInputError
        Bad shapes or options, or NaN/inf in the signal (this function fits one spectrum and
        says so; ``fit_batch`` flags such spectra instead).
    NoDipFoundError
        ``n_lines=None`` and no dip stands out of the noise.
    """
    sweep = check_sweep(frequencies)
    y_given = np.asarray(signal, dtype=float)
    if y_given.ndim != 1 or y_given.size != sweep.n:
        raise FitInputError(f"signal must be 1-D with one value per frequency ({sweep.n}), got "
                            f"shape {y_given.shape}; use fit_batch for several spectra")
    bad = np.flatnonzero(~np.isfinite(y_given))
    if bad.size:
        raise FitInputError(f"signal has {bad.size} NaN/inf value(s) (first at index "
                            f"{bad[0]}); drop those points (and their frequencies) first")
    y = np.ascontiguousarray(sweep.columns(y_given))
    k_counts = counts_scale(n_averages, counts_per_unit)
    declared = counts_per_unit is not None or n_averages != 1
    if is_poisson(sigma):
        check_counts(y, k_counts, declared)
    seed_in = guess.as_guess() if hasattr(guess, "as_guess") else guess
    is_ham = isinstance(model, str) and model.strip().lower() == "hamiltonian"
    kind = signal_kind.strip().lower() if isinstance(signal_kind, str) else signal_kind
    if kind == "auto":
        from .signal_detect import detect_signal

        kind = detect_signal(sweep.frequencies, y_given, "lorentzian" if is_ham else model)
    count_options = dict(baseline=baseline, lineshape=lineshape, signal_kind=kind, sigma=sigma,
                         n_averages=n_averages, counts_per_unit=counts_per_unit,
                         min_significance=min_significance)
    given_lines = n_lines
    if n_lines is None and not is_ham:
        if isinstance(seed_in, Mapping) and seed_in.get("centers") is not None:
            n_lines = int(np.size(seed_in["centers"]))
        else:
            model_for(model, 1, baseline, lineshape, nucleus, axes, kind)  # check the options
            counted = count_lines(sweep.frequencies, y_given, model,
                                  seed=dict(seed_in) if isinstance(seed_in, Mapping) else None,
                                  **count_options)
            seed_in, n_lines = counted.seed, counted.n_lines
    spec = model_for(model, n_lines, baseline, lineshape, nucleus, axes, kind)
    if sweep.n <= spec.n_params:
        raise FitInputError(f"the sweep has {sweep.n} points but the model has "
                            f"{spec.n_params} parameters; measure more points or fit fewer "
                            f"lines")
    seed = resolve_seed(seed_in, spec, 1)
    if is_ham and field_guess is not None and not seed.has("field") and not seed.has("centers"):
        D0 = float(seed.values["D"][0, 0]) if seed.has("D") else ZFS_HZ
        B = hamiltonian_field_guess(sweep, y, spec, D0, field_guess)
        seed = SeedArrays({**seed.values, "field": np.asarray(B, dtype=float)[None, :]})
    result = _fit_careful(sweep, y, spec, seed, sigma, k_counts, bounds, fixed, scale_covar,
                          min_significance, max_nfev)
    if (given_lines is not None and not is_ham and kind in ("dips", "peaks")
            and result.status == FitStatus.OK and given_lines < MAX_DETECTED_LINES
            and _more_lines_counted(sweep.frequencies, y_given, model, given_lines,
                                    count_options)):
        from dataclasses import replace

        result = replace(result, status=FitStatus.TOO_FEW_LINES)
    return result


def _more_lines_counted(f: NDArray[np.float64], y: NDArray[np.float64], model: Any,
                        n_lines: int, count_options: dict[str, Any]) -> bool:
    """Whether the lines counted in the data (as for ``n_lines=None``) outnumber ``n_lines``.

    A given number of lines smaller than the data hold fits averages of several resonances
    (one line at the midpoint of a pair) that converge, sit inside their bounds and are
    significant; only counting the lines tells them apart.  A "line" narrower than the sweep
    step is one point (a glitch, a cosmic ray), not a resonance, and does not count.
    """
    from .errors import NoDipFoundError

    try:
        counted = count_lines(f, y, model, max_lines=n_lines + 1, **count_options)
    except (NoDipFoundError, FitInputError):
        return False
    if counted.n_lines <= n_lines:
        return False
    widths = np.abs(np.asarray(counted.seed.get("widths", []), dtype=float)).ravel()
    step = float(np.median(np.abs(np.diff(f))))
    return int(np.sum(widths >= step)) > n_lines


def _fit_careful(sweep: Sweep, y: NDArray[np.float64], spec: ModelSpec, seed: SeedArrays,
                 sigma: Any, k_counts: float, bounds: Mapping[str, Any] | None,
                 fixed: Mapping[str, Any] | None, scale_covar: bool, min_significance: float,
                 max_nfev: int | None) -> SpectrumFit:
    """Several starts fitted by the compiled fitter, the best χ² kept, then lmfit from it."""
    Y = y[None, :]
    layout = Layout(spec)
    rows = slice(0, 1)
    P0 = start_values(Y, sweep, spec, seed, rows)
    vary, fixed_values = resolve_fixed(default_fixed(spec, fixed), layout)
    scale, shift = layout.si_scale_shift(sweep)
    if np.ndim(sigma) == 2:
        raise FitInputError("fit_spectrum takes sigma as a number or one value per point")
    wt = weights_for(sigma, Y, sweep, rows, k_counts)[0]
    if not np.all(np.isfinite(wt)):
        raise FitInputError("sigma must be positive and finite")
    starts_chi2 = None
    if not spec.is_hamiltonian:
        P0, starts_chi2 = _best_start(sweep, y, spec, layout, seed, P0, sigma, k_counts, bounds,
                                      fixed, min_significance)
    for i, value in fixed_values.items():
        P0[:, i] = (value - shift[i]) / scale[i]
    lo, hi = resolve_bounds(bounds, layout, sweep, P0, rows)
    start = layout.to_si(P0[0], sweep)
    lo_si = lo[0] * scale + shift
    hi_si = hi[0] * scale + shift
    import lmfit

    params = lmfit.Parameters()
    for j, name in enumerate(spec.param_names):
        value = float(np.clip(start[j], lo_si[j], hi_si[j]))
        if not np.isfinite(value):
            value = 0.0
        params.add(name, value=value, min=float(lo_si[j]), max=float(hi_si[j]),
                   vary=bool(vary[j]))
    f = sweep.to_hz(sweep.x)  # ascending, as y
    evaluate = _model_function(spec, f, sweep.f_ref)

    def residual(p: lmfit.Parameters) -> NDArray[np.float64]:
        values = np.array([p[name].value for name in spec.param_names])
        return (y - evaluate(values)) * wt

    kws = {} if max_nfev is None else {"max_nfev": max_nfev}
    out = lmfit.minimize(residual, params, method="leastsq", scale_covar=scale_covar,
                         nan_policy="propagate", **kws)
    result = _result(spec, layout, sweep, out, evaluate, min_significance, starts_chi2)
    status = result.status
    # χ² differences below 1e-12 of the signal's weighted power are rounding (noise-free data)
    rounding = 1e-12 * float(np.sum((y * wt) ** 2))
    if status == FitStatus.OK and starts_chi2 is not None and np.any(
            starts_chi2 < result.chisqr - max(BEATEN_BY * result.redchi, rounding)):
        status = FitStatus.LOCAL_MINIMUM
    if status == FitStatus.OK:
        values = np.array([out.params[n].value for n in spec.param_names])
        internal = layout.from_si(values, sweep)[None, :]
        if implausible(internal, Y, sweep, spec, layout)[0]:
            status = FitStatus.IMPLAUSIBLE
    if status != result.status:
        from dataclasses import replace

        result = replace(result, status=status)
    return result


def _best_start(sweep: Sweep, y: NDArray[np.float64], spec: ModelSpec, layout: Layout,
                seed: SeedArrays, P0: NDArray[np.float64], sigma: Any, k_counts: float,
                bounds: Mapping[str, Any] | None, fixed: Mapping[str, Any] | None,
                min_significance: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The converged start with the lowest χ² among the seed/data start, the robust starts
    and (when seeded) the data alone; returns it (internal units) and every start's χ²."""
    from .robust import candidate_starts

    Y = y[None, :]
    starts = [P0, *candidate_starts(Y, sweep, spec, None)]
    if seed.values:  # a misleading seed must not decide alone
        starts.append(start_values(Y, sweep, spec, SeedArrays({}), slice(0, 1)))
    P = np.concatenate(starts, axis=0)
    P = np.where(np.isfinite(P), P, P0)
    m = P.shape[0]
    G = spec.n_lines
    nb = spec.n_base
    si = np.array([layout.to_si(row, sweep) for row in P])
    guess: dict[str, Any] = {"centers": si[:, nb::3], "widths": si[:, nb + 1::3],
                             "contrasts": si[:, nb + 2::3], "offset": si[:, 0]}
    if nb >= 2:
        guess["slope"] = si[:, 1]
    if nb == 3:
        guess["curvature"] = si[:, 2]
    f = sweep.to_hz(sweep.x)
    s = sweep.columns(np.asarray(sigma, dtype=float)) if (
        sigma is not None and not isinstance(sigma, str) and np.ndim(sigma) == 1) else sigma
    res = fit_batch(f, np.tile(y, (m, 1)), spec.name, G, guess=guess, sigma=s,
                    baseline=spec.baseline, bounds=bounds, fixed=fixed,
                    lineshape=spec.lineshape, signal=spec.signal, counts_per_unit=k_counts,
                    min_significance=min_significance, robust=False)
    chi2 = np.where(np.isfinite(res.chisqr), res.chisqr, np.inf)
    if not np.any(np.isfinite(chi2)):
        return P0, chi2
    # the lowest χ² wins, whatever its status: a lower χ² at a bound means the best fit inside
    # the bounds is not the answer (the final fit then reports AT_BOUND)
    best = int(np.argmin(chi2))
    P_best = layout.from_si(res.params[best], sweep)[None, :]
    # fit_batch sorted the lines by center; the order of lines does not matter to lmfit
    return np.ascontiguousarray(P_best), np.concatenate([chi2[best:best + 1],
                                                         np.delete(chi2, best)])


def _model_function(spec: ModelSpec, f: NDArray[np.float64], f_ref: float):
    """Vectorised model on ``f`` (Hz) from an SI parameter vector, for lmfit."""
    shape = spec.shape_function()
    offs = spec.offsets
    nb = spec.n_base
    df = f - f_ref
    dips = spec.signal == "dips"

    def lines(centers: NDArray[np.float64], widths: NDArray[np.float64],
              contrasts: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.float64]:
        line_c = (centers[:, None] + offs[None, :]).ravel()
        line_w = np.repeat(widths, offs.size)
        line_a = np.repeat(contrasts, offs.size)
        depth = (line_a * shape((f[:, None] - line_c) / line_w)).sum(axis=1)
        base = values[0] + (values[1] * df if nb >= 2 else 0.0) + (
            values[2] * df * df if nb == 3 else 0.0)
        return base * (1.0 - depth) if dips else base + depth

    if spec.is_hamiltonian:
        axes = spec.axes

        def evaluate(values: NDArray[np.float64]) -> NDArray[np.float64]:
            B = values[nb:nb + 3]
            t = transition_frequencies(B, values[nb + 3], values[nb + 4], axes)  # (n_axes, 2)
            w = np.full(t.size, values[nb + 5])
            a = np.repeat(values[nb + 6:nb + 6 + axes.shape[0]], 2)
            return lines(t.ravel(), w, a, values)

        return evaluate

    def evaluate(values: NDArray[np.float64]) -> NDArray[np.float64]:
        g = values[nb:].reshape(-1, 3)
        return lines(g[:, 0], g[:, 1], g[:, 2], values)

    return evaluate


def _result(spec: ModelSpec, layout: Layout, sweep: Sweep, out: Any, evaluate: Any,
            min_significance: float, starts_chi2: NDArray[np.float64] | None = None
            ) -> SpectrumFit:
    names = spec.param_names
    values = np.array([out.params[n].value for n in names])
    errors = np.array([np.nan if out.params[n].stderr is None else out.params[n].stderr
                       for n in names])
    errors[[not out.params[n].vary for n in names]] = 0.0
    nb = spec.n_base
    best_internal = evaluate(values)
    best = best_internal[::-1] if sweep.reverse else best_internal
    residual = np.asarray(out.residual, dtype=float)
    extra: dict[str, Any] = {}
    if spec.is_hamiltonian:
        B = values[layout.field]
        D, E = values[layout.D], values[layout.E]
        t, dt = transition_jacobian(B, D, E, spec.axes)
        positions = t.ravel()
        grad = dt.reshape(-1, 5)  # d(line)/d(Bx, By, Bz, D, E)
        idx = [*list(layout.field), layout.D, layout.E]
        cov = _covariance(out, names, idx)
        pos_err = np.sqrt(np.maximum(np.einsum("li,ij,lj->l", grad, cov, grad), 0.0))
        na = spec.n_axes
        widths = np.full(2 * na, values[layout.widths[0]])
        width_errors = np.full(2 * na, errors[layout.widths[0]])
        contrasts = np.repeat(values[layout.contrasts], 2)
        contrast_errors = np.repeat(errors[layout.contrasts], 2)
        extra = {"field": B, "field_errors": errors[layout.field], "D": float(D),
                 "D_error": float(errors[layout.D]), "E": float(E),
                 "E_error": float(errors[layout.E]),
                 "axis_contrasts": values[layout.contrasts], "transitions": t}
    else:
        positions = values[layout.centers]
        pos_err = errors[layout.centers]
        widths, width_errors = values[layout.widths], errors[layout.widths]
        contrasts, contrast_errors = values[layout.contrasts], errors[layout.contrasts]
    order = np.argsort(positions)
    status = _status(out, spec, layout, values, errors, min_significance)
    return SpectrumFit(
        model=spec, frequencies=sweep.frequencies, centers=positions[order],
        center_errors=pos_err[order], widths=widths[order], width_errors=width_errors[order],
        contrasts=contrasts[order], contrast_errors=contrast_errors[order],
        baseline=float(values[0]), baseline_slope=float(values[1]) if nb >= 2 else 0.0,
        chisqr=float(out.chisqr), redchi=float(out.redchi), status=status, best_fit=best,
        residual=residual[::-1] if sweep.reverse else residual, params=out.params,
        lmfit_result=out, baseline_curvature=float(values[2]) if nb == 3 else 0.0,
        starts_chisqr=starts_chi2, signal=spec.signal, **extra)


def _covariance(out: Any, names: list[str], idx: list[int]) -> NDArray[np.float64]:
    """Covariance of the parameters ``idx`` (zero rows for fixed ones, NaN if unknown)."""
    k = len(idx)
    cov = np.zeros((k, k))
    if out.covar is None:
        return np.full((k, k), np.nan)
    var_names = list(out.var_names)
    for a, ia in enumerate(idx):
        for b, ib in enumerate(idx):
            if names[ia] in var_names and names[ib] in var_names:
                cov[a, b] = out.covar[var_names.index(names[ia]), var_names.index(names[ib])]
    return cov


def _status(out: Any, spec: ModelSpec, layout: Layout, values: NDArray[np.float64],
            errors: NDArray[np.float64], min_significance: float) -> FitStatus:
    if not np.all(np.isfinite(values)):
        return FitStatus.NUMERICAL
    if not out.success:
        return FitStatus.MAX_ITER
    if not out.errorbars or not np.all(np.isfinite(errors)):
        return FitStatus.SINGULAR
    idx = list(layout.widths)
    idx += [*list(layout.field), layout.D] if spec.is_hamiltonian else list(layout.centers)
    for i in idx:
        p = out.params[spec.param_names[i]]
        if not p.vary:
            continue
        tol = 1e-6 * max(abs(p.max - p.min) if np.isfinite(p.max - p.min) else 1.0, 1e-12)
        if (np.isfinite(p.min) and p.value - p.min <= tol) or (
                np.isfinite(p.max) and p.max - p.value <= tol):
            return FitStatus.AT_BOUND
    c = values[layout.contrasts]
    ce = errors[layout.contrasts]
    if min_significance > 0 and np.any(np.abs(c) < min_significance * ce):
        return FitStatus.NOT_SIGNIFICANT
    return FitStatus.OK


