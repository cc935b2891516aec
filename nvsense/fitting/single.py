"""``fit_spectrum``: the careful fit of one spectrum, with lmfit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import ZFS_HZ, transition_frequencies

from .batch import (
    DETECT_SIGMA,
    _model_for,
    count_significant,
    default_fixed,
    fit_batch,
    guess_lines_internal,
    hamiltonian_field_guess,
    noise_depth,
    start_values,
)
from .errors import FitInputError, NoDipFoundError
from .inputs import MHZ, Sweep, check_sweep, weights_for
from .models import ModelSpec, gaussian, lorentzian, make_model
from .nv_transitions import transitions_closed_form
from .parameters import Layout, SeedArrays, resolve_bounds, resolve_fixed, resolve_seed
from .status import FitStatus

if TYPE_CHECKING:  # lmfit is imported when a spectrum is fitted (it takes ~0.5 s to import)
    import lmfit

__all__ = ["SpectrumFit", "fit_spectrum"]

#: Most lines ``n_lines=None`` looks for.
MAX_DETECTED_LINES = 8


@dataclass(frozen=True)
class SpectrumFit:
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

    @property
    def success(self) -> bool:
        return self.status == FitStatus.OK

    @property
    def message(self) -> str:
        return self.status.message

    @property
    def n_lines(self) -> int:
        return int(self.centers.size)

    def report(self) -> str:
        """A readable report: model, status, lines, and lmfit's parameter report."""
        lines = [f"nvsense fit: model {self.model.name!r}, {self.n_lines} line(s), "
                 f"{self.model.baseline} baseline",
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

    def as_guess(self) -> dict[str, Any]:
        """Seed values for the next fit (``guess=this``)."""
        if self.field is not None:
            return {"field": self.field, "D": self.D, "E": self.E,
                    "width": float(np.median(self.widths)), "contrasts": self.axis_contrasts,
                    "offset": self.baseline, "slope": self.baseline_slope}
        return {"centers": self.centers, "widths": self.widths, "contrasts": self.contrasts,
                "offset": self.baseline, "slope": self.baseline_slope}


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
) -> SpectrumFit:
    """Fit one spectrum with lmfit (Levenberg–Marquardt, MINPACK), with uncertainties.

    Parameters
    ----------
    frequencies
        Sweep, Hz, shape (n_freq,).
    signal
        Counts or normalised PL with dips, shape (n_freq,).
    model
        "lorentzian", "gaussian", "14n", "15n" or "hamiltonian" (case-insensitive).
    n_lines
        Number of lines (resonances for "14n"/"15n"); None finds the dips (at most 8): the
        deepest-first picks above 5 noise σ are kept, and lines whose fitted contrast is not
        significant are dropped and the fit repeated.  Ignored for "hamiltonian".
    guess
        Seeds: a previous result or a dict (see :func:`nvsense.fitting.fit_batch`).
    field_guess
        Hamiltonian model: a rough field (T).  The field found from the data is replaced by
        its symmetric equivalent nearest to this (see ``field_from_lines``).
    sigma
        None, "poisson", a number or an (n_freq,) array of standard deviations.
    baseline, bounds, fixed, lineshape, nucleus, axes
        As for :func:`nvsense.fitting.fit_batch`.
    scale_covar
        Scale the covariance by the reduced χ² (lmfit's default).
    min_significance
        Lines with contrast below this many standard errors make the fit NOT_SIGNIFICANT.
    max_nfev
        Limit on model evaluations (lmfit's default if None).

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
    Y = y[None, :]
    seed_in = guess.as_guess() if hasattr(guess, "as_guess") else guess
    is_ham = isinstance(model, str) and model.strip().lower() == "hamiltonian"
    if n_lines is None and not is_ham:
        if isinstance(seed_in, Mapping) and seed_in.get("centers") is not None:
            n_lines = int(np.size(seed_in["centers"]))
        else:
            seed_in, n_lines = _detect_lines(sweep, y, model, baseline, lineshape, sigma,
                                             seed_in)
    spec = _model_for(model, n_lines, baseline, lineshape, nucleus, axes)
    if sweep.n <= spec.n_params:
        raise FitInputError(f"the sweep has {sweep.n} points but the model has "
                            f"{spec.n_params} parameters; measure more points or fit fewer "
                            f"lines")
    seed = resolve_seed(seed_in, spec, 1)
    if is_ham and field_guess is not None and not seed.has("field") and not seed.has("centers"):
        D0 = float(seed.values["D"][0, 0]) if seed.has("D") else ZFS_HZ
        B = hamiltonian_field_guess(sweep, y, spec, D0, field_guess)
        seed = SeedArrays({**seed.values, "field": np.asarray(B, dtype=float)[None, :]})
    return _fit_once(sweep, y, Y, spec, seed, sigma, bounds, fixed, scale_covar,
                     min_significance, max_nfev)


def _detect_lines(sweep: Sweep, y: NDArray[np.float64], model: str, baseline: str,
                  lineshape: str | None, sigma: Any, seed: Any) -> tuple[dict[str, Any], int]:
    """Find the number of lines: add lines one at a time where the residual of the fit so far
    has its deepest dip, while that dip stands out of the noise and the new line lowers χ² by
    more than the Bayesian information criterion asks (3 ln n for 3 more parameters)."""
    probe = make_model(model, 1, baseline=baseline, lineshape=lineshape)
    Y = y[None, :]
    P0, H = guess_lines_internal(Y, sweep, probe, 1)
    noise = float(noise_depth(Y, P0[:, 0])[0])
    if count_significant(H[0], noise) == 0:
        raise NoDipFoundError("no dip found above the noise (5 σ); check the sweep range and "
                              "the signal, or give n_lines to force a fit")
    extra = dict(seed) if isinstance(seed, Mapping) else {}
    nb = probe.n_base
    current = {"centers": sweep.to_hz(P0[0, nb:nb + 1]), "widths": P0[0, nb + 1:nb + 2] * MHZ,
               "contrasts": P0[0, nb + 2:nb + 3]}
    f = sweep.to_hz(sweep.x)
    best = fit_batch(f, y, model, 1, guess={**extra, **current}, sigma=sigma,
                     baseline=baseline, lineshape=lineshape, min_significance=0.0)
    penalty = 3.0 * np.log(sweep.n)
    while best.centers.shape[1] < MAX_DETECTED_LINES:
        k = best.centers.shape[1]
        fitted = best.best_fit(f, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = 1.0 - y / fitted
        Pr, Hr = guess_lines_internal(np.ascontiguousarray((1.0 - depth)[None, :] *
                                                           np.abs(best.baseline[0])),
                                      sweep, probe, 1)
        if not Hr[0, 0] > DETECT_SIGMA * noise:
            break
        trial_guess = {
            "centers": np.append(best.centers[0], sweep.to_hz(Pr[0, nb])),
            "widths": np.append(best.widths[0], Pr[0, nb + 1] * MHZ),
            "contrasts": np.append(best.contrasts[0], Pr[0, nb + 2]),
        }
        trial = fit_batch(f, y, model, k + 1, guess={**extra, **trial_guess}, sigma=sigma,
                          baseline=baseline, lineshape=lineshape, min_significance=0.0)
        gain = best.chisqr[0] - trial.chisqr[0]
        unit = trial.redchi[0] if np.isfinite(trial.redchi[0]) and trial.redchi[0] > 0 else 1.0
        if not (np.isfinite(gain) and gain > penalty * unit):
            break
        best = trial
    out = {**extra, "centers": best.centers[0], "widths": best.widths[0],
           "contrasts": best.contrasts[0]}
    return out, int(best.centers.shape[1])


def _fit_once(sweep: Sweep, y: NDArray[np.float64], Y: NDArray[np.float64], spec: ModelSpec,
              seed: SeedArrays, sigma: Any, bounds: Mapping[str, Any] | None,
              fixed: Mapping[str, Any] | None, scale_covar: bool, min_significance: float,
              max_nfev: int | None) -> SpectrumFit:
    layout = Layout(spec)
    rows = slice(0, 1)
    P0 = start_values(Y, sweep, spec, seed, rows)
    vary, fixed_values = resolve_fixed(default_fixed(spec, fixed), layout)
    scale, shift = layout.si_scale_shift(sweep)
    for i, value in fixed_values.items():
        P0[:, i] = (value - shift[i]) / scale[i]
    lo, hi = resolve_bounds(bounds, layout, sweep, P0, rows)
    if np.ndim(sigma) == 2:
        raise FitInputError("fit_spectrum takes sigma as a number or one value per point")
    wt = weights_for(sigma, Y, sweep, rows)[0]
    if not np.all(np.isfinite(wt)):
        raise FitInputError("sigma must be positive and finite")
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
    return _result(spec, layout, sweep, out, evaluate, min_significance)


def _model_function(spec: ModelSpec, f: NDArray[np.float64], f_ref: float):
    """Vectorised model on ``f`` (Hz) from an SI parameter vector, for lmfit."""
    shape = gaussian if spec.lineshape == "gaussian" else lorentzian
    offs = spec.offsets
    nb = spec.n_base
    df = f - f_ref

    def lines(centers: NDArray[np.float64], widths: NDArray[np.float64],
              contrasts: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.float64]:
        line_c = (centers[:, None] + offs[None, :]).ravel()
        line_w = np.repeat(widths, offs.size)
        line_a = np.repeat(contrasts, offs.size)
        depth = (line_a * shape((f[:, None] - line_c) / line_w)).sum(axis=1)
        base = values[0] + (values[1] * df if nb == 2 else 0.0)
        return base * (1.0 - depth)

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
            min_significance: float) -> SpectrumFit:
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
        t, dt = transitions_closed_form(B, D, E, spec.axes)
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
        baseline=float(values[0]), baseline_slope=float(values[1]) if nb == 2 else 0.0,
        chisqr=float(out.chisqr), redchi=float(out.redchi), status=status, best_fit=best,
        residual=residual[::-1] if sweep.reverse else residual, params=out.params,
        lmfit_result=out, **extra)


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
    if min_significance > 0 and np.any(c < min_significance * ce):
        return FitStatus.NOT_SIGNIFICANT
    return FitStatus.OK


