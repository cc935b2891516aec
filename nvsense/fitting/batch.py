"""``fit_batch``: many spectra at once with the compiled Levenberg–Marquardt kernel.

After the first fit of every spectrum, the spectra whose fit is doubtful (status not OK, a line
on the sweep's edge or narrower than the sampling, an implausible result) are fitted again from
other starting points (:mod:`nvsense.fitting.robust`) and the lowest χ² is kept; a result is a
success only if it is that best fit, inside its bounds, significant and plausible
(:mod:`nvsense.fitting.plausibility`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import GAMMA_NV_HZ_PER_T

from . import kernel_layout
from .errors import FitInputError
from .inputs import (
    MHZ,
    Sweep,
    check_counts,
    check_spectra_shape,
    check_sweep,
    counts_scale,
    is_poisson,
    weights_for,
)
from .jit import as_f8
from .kernel_layout import axis_frames
from .kernels import FIT_ROWS_HAMILTONIAN, FIT_ROWS_LINES
from .models import ModelSpec, make_model
from .parallel import run_rows
from .parameters import Layout, resolve_bounds, resolve_fixed, resolve_seed
from .plausibility import flag_implausible
from .results import BatchFitResult
from .starts import DETECT_RELATIVE, DETECT_SIGMA, SMALL_BATCH, start_values
from .status import FitStatus

__all__ = ["DEFAULT_CHUNK_SIZE", "DETECT_RELATIVE", "DETECT_SIGMA", "fit_batch", "flag_fits",
           "model_for"]

#: Spectra per chunk: big enough to keep both cores busy, small enough to stay in cache-sized
#: working memory (a 4096 × 201 chunk is 6.6 MB of float64).
DEFAULT_CHUNK_SIZE = 4096
_GAMMA_MHZ_PER_MT = GAMMA_NV_HZ_PER_T * 1e-9


def fit_batch(
    frequencies: ArrayLike,
    spectra: Any,
    model: str = "lorentzian",
    n_lines: int | None = 1,
    *,
    guess: Any = None,
    sigma: Any = None,
    baseline: str = "constant",
    bounds: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    lineshape: str | None = None,
    nucleus: str | None = None,
    axes: ArrayLike | None = None,
    max_iter: int = 100,
    ftol: float = 1e-4,
    xtol: float = 1e-3,
    scale_covar: bool = True,
    min_significance: float = 3.0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    n_threads: int | None = None,
    signal: str = "dips",
    n_averages: int = 1,
    counts_per_unit: float | None = None,
    robust: bool = True,
) -> BatchFitResult:
    """Fit many spectra at once (vectorised Levenberg–Marquardt, compiled with numba).

    Parameters
    ----------
    frequencies
        Sweep frequencies in Hz, shape (n_freq,), increasing or decreasing.
    spectra
        Shape (N, n_freq) (or (n_freq,) for one spectrum): counts or normalised PL with dips.
        Any array that supports row slicing works (numpy, memmap, h5py, zarr): it is read one
        chunk at a time, so memory stays bounded however large N is.
    model
        "lorentzian", "gaussian", "14n", "15n" or "hamiltonian" (case-insensitive); see
        :mod:`nvsense.fitting.models`.
    n_lines
        Lines per spectrum (resonances for "14n"/"15n"; ignored for "hamiltonian").
    guess
        Seeds: a previous result (``LineFit``, ``SpectrumFit`` or ``BatchFitResult``) or a dict
        with any of "centers", "widths", "contrasts", "offset", "slope" (Hz, fractional) or,
        for the Hamiltonian, "field" (T), "D", "E", "width", "contrasts" (per axis).  Each value
        is shared by all spectra (n_lines values) or given per spectrum ((N, n_lines) array).
        A "field" seed also gives line centers for the other models.  Anything not given is
        estimated from the data.
    sigma
        Noise weighting: None (uniform; errors scaled by the reduced χ²), "poisson"
        (σ = √counts, see ``n_averages``), a number, an (n_freq,) array, or an (N, n_freq)
        array.  σ = inf ignores a point.  Poisson weights on data that cannot be counts
        (negative, normalised to ~1, not whole numbers) give a ``PoissonWeightsWarning``.
    baseline
        "constant", "linear" or "quadratic" (a slowly wandering photodiode baseline).
    bounds
        Box bounds in SI, e.g. ``{"center_window": 25e6, "width": (3e6, 40e6),
        "contrast": (0, 0.3)}``; see :func:`nvsense.fitting.parameters.resolve_bounds`.
        Defaults: centers inside the sweep, widths from half a point spacing to the span,
        contrasts 0–1, |B components| ≤ 0.1 T, D in 2.80–2.95 GHz, E within ±50 MHz.
    fixed
        Parameters held fixed, e.g. ``{"width": 6e6}`` or ``{"D": 2.8701e9}`` (a value of None
        holds it at the seed).  Default: nothing, except E = 0 for the Hamiltonian model
        (pass ``fixed={}`` to fit E, useful near zero field).
    lineshape, nucleus, axes
        Hamiltonian model options (see :func:`nvsense.fitting.models.make_model`).
    max_iter, ftol, xtol
        Iteration limit; convergence when an iteration lowers χ² by less than ``ftol`` times
        the reduced χ² (the parameters are then within about √ftol standard errors of the
        optimum), or when every step is below ``xtol`` standard errors.
    scale_covar
        Scale the covariance by the reduced χ² (as lmfit and ``curve_fit`` do by default).
    min_significance
        A fit whose weakest line has contrast below this many standard errors is flagged
        ``NOT_SIGNIFICANT``.
    chunk_size
        Spectra per chunk.
    n_threads
        Threads for this call (default: numba's setting, all cores).
    signal
        "dips" (ODMR in fluorescence), "peaks" or "derivative" (FM lock-in: the Lorentzian's
        derivative); see :mod:`nvsense.fitting.models`.  For "peaks" and "derivative" the
        ``contrasts`` are amplitudes in signal units.  "auto" picks from the data (the mean
        spectrum of the first chunk).
    n_averages, counts_per_unit
        With ``sigma="poisson"``: the spectra are averages of ``n_averages`` sweeps, in units
        of ``1/counts_per_unit`` counts (e.g. counts/s with ``counts_per_unit`` = the dwell
        time in s).  σ = √(y·k)/k with k = n_averages·counts_per_unit: the average of N sweeps
        of Poisson counts has variance mean/N, so without it the reduced χ² of an average
        comes out N times too small (and its errors are wrong if not rescaled).  Giving
        either declares the data as counts on that scale: values that are not whole numbers
        (averages, a camera's photo-electrons, counts_per_unit=1) then raise no
        ``PoissonWeightsWarning``.
    robust
        Fit doubtful spectra again from other starting points and keep the lowest χ² (see the
        module docstring).  False keeps the first fit of every spectrum (slightly faster when
        many fits are doubtful).

    Returns
    -------
    BatchFitResult
        Arrays ``centers``, ``center_errors``, ``widths``, ``contrasts``, ``baseline``,
        ``chisqr``, ``redchi``, ``success``, ``status``, ``n_iter`` ...; ``result[i]`` is the
        fit of spectrum ``i`` as a :class:`LineFit`.  Bad spectra (NaN, flat, no dip, line
        off the sweep) are flagged, never raised.

    Raises
    ------
    FitInputError
        For unusable options or shapes (not for bad data in individual spectra).
    """
    sweep = check_sweep(frequencies)
    shape = getattr(spectra, "shape", None)
    if shape is None:
        spectra = np.asarray(spectra, dtype=float)
        shape = spectra.shape
    N, squeeze = check_spectra_shape(tuple(shape), sweep.n)
    k_counts = counts_scale(n_averages, counts_per_unit)
    declared = counts_per_unit is not None or n_averages != 1
    if isinstance(signal, str) and signal.strip().lower() == "auto":
        from .signal_detect import detect_signal

        first = np.asarray(spectra, dtype=float) if squeeze else np.asarray(
            spectra[: min(N, chunk_size)], dtype=float)
        signal = detect_signal(sweep.frequencies, np.atleast_2d(first).mean(axis=0),
                               model=model if model != "hamiltonian" else "lorentzian")
    spec = model_for(model, n_lines, baseline, lineshape, nucleus, axes, signal)
    layout = Layout(spec)
    if sweep.n <= spec.n_params:
        raise FitInputError(f"the sweep has {sweep.n} points but model {spec.name!r} with "
                            f"{spec.n_lines} lines has {spec.n_params} parameters; measure more "
                            f"points or fit fewer lines")
    _check_options(max_iter, ftol, xtol, min_significance, chunk_size)
    seed = resolve_seed(guess, spec, N)
    vary, fixed_values = resolve_fixed(default_fixed(spec, fixed), layout)

    P = spec.n_params
    n_pos = spec.n_lines if not spec.is_hamiltonian else 2 * spec.n_axes
    out_p = np.full((N, P), np.nan)
    out_err = np.full((N, P), np.nan)
    out_pos = np.full((N, n_pos), np.nan)
    out_pos_err = np.full((N, n_pos), np.nan)
    out_chi2 = np.full(N, np.nan)
    out_dof = np.zeros(N)
    out_nit = np.zeros(N, dtype=np.int64)
    out_status = np.zeros(N, dtype=np.int64)
    n_eff = np.zeros(N, dtype=np.int64)
    offs = as_f8(spec.offsets / MHZ)
    n_lines = (2 * spec.n_axes if spec.is_hamiltonian else spec.n_lines) * spec.offsets.size
    scratch = partial(kernel_layout.fit_scratch, sweep.n, P, n_lines,
                      spec.n_axes if spec.is_hamiltonian else 0)
    if spec.is_hamiltonian:
        kernel = FIT_ROWS_HAMILTONIAN
        model_args: tuple[Any, ...] = (spec.shape_code, spec.n_base, offs,
                                       axis_frames(spec.axes), _GAMMA_MHZ_PER_MT,
                                       sweep.f_ref / MHZ, int(spec.additive))
    else:
        kernel = FIT_ROWS_LINES
        model_args = (spec.shape_code, spec.n_base, spec.n_lines, offs, int(spec.additive))
    fit = partial(_run_kernel, kernel, model_args, sweep, vary, int(max_iter), float(ftol),
                  float(xtol), bool(scale_covar), scratch)
    scale, shift = layout.si_scale_shift(sweep)
    vary = np.ascontiguousarray(vary, dtype=np.bool_)
    n_vary = int(np.count_nonzero(vary))

    retry = robust and not spec.is_hamiltonian
    known_noise = sigma is not None
    pending: list[tuple[Any, ...]] = []  # doubtful rows, refitted together (see _refit)
    outputs_all = (out_p, out_err, out_pos, out_pos_err, out_chi2, out_nit, out_status, n_eff)

    def refit_pending() -> None:
        if pending:
            _refit(pending, fit, wmode, outputs_all, sweep, spec, layout, vary, fixed_values,
                   min_significance, n_threads, known_noise)
            pending.clear()

    for start in range(0, N, chunk_size):
        rows = slice(start, min(start + chunk_size, N))
        n = rows.stop - rows.start
        # A few spectra (the live loop): one thread.  Waking a second thread costs more than
        # the fit, and far more when the other core is busy.
        threads = n_threads if n_threads is not None else (1 if n < SMALL_BATCH else None)
        if squeeze:
            Y = np.asarray(spectra, dtype=float)[None, :]
        else:
            Y = np.asarray(spectra[rows], dtype=float)
        Y = as_f8(sweep.columns(Y))
        if start == 0 and is_poisson(sigma):
            check_counts(Y, k_counts, declared)
        W, wmode = kernel_weights(sigma, Y, sweep, rows, k_counts)
        P0 = start_values(Y, sweep, spec, seed, rows, n_threads=threads)
        for i, value in fixed_values.items():
            P0[:, i] = (value - shift[i]) / scale[i]
        LO, HI = resolve_bounds(bounds, layout, sweep, P0, rows)
        LO = as_f8(LO)
        HI = as_f8(HI)
        Pc = out_p[rows]  # the kernel writes the results over the start values, in place
        Pc[...] = P0
        outputs = (Pc, out_err[rows], out_pos[rows], out_pos_err[rows], out_chi2[rows],
                   out_nit[rows], out_status[rows], n_eff[rows])
        fit(Y, W, wmode, LO, HI, outputs, threads)
        flag_fits(out_status[rows], Pc, out_err[rows], LO, HI, vary, layout, min_significance)
        status = out_status[rows]
        if retry:
            from .robust import doubtful_rows

            idx = np.flatnonzero(doubtful_rows(
                status, Pc, sweep, spec, layout, out_chi2[rows] if known_noise else None,
                n_eff[rows] - n_vary if known_noise else None))
        if retry and idx.size:
            # judged (and flagged implausible) after their refit, with the other chunks'
            saved = status[idx]
            flag_implausible(status, Pc, Y, sweep, spec, layout)
            status[idx] = saved
            per_row = wmode == kernel_layout.WEIGHTS_PER_ROW
            pending.append((start + idx, Y[idx], W[idx] if per_row else W, LO[idx], HI[idx],
                            P0[idx]))
            if sum(len(item[0]) for item in pending) >= chunk_size:
                refit_pending()
        else:
            flag_implausible(status, Pc, Y, sweep, spec, layout)
    refit_pending()
    out_dof[:] = n_eff - n_vary

    return _assemble(spec, layout, sweep, out_p, out_err, out_pos, out_pos_err, out_chi2,
                     out_dof, out_nit, out_status)


def _refit(pending: list[tuple[Any, ...]], fit: Any, wmode: int, outputs: tuple[Any, ...],
           sweep: Sweep, spec: ModelSpec, layout: Layout, vary: NDArray[np.bool_],
           fixed_values: dict[int, Any], min_significance: float, n_threads: int | None,
           known_noise: bool) -> None:
    """Refit the doubtful rows of several chunks at once (one set of candidate starts for
    all: their preparation costs the same for 3 rows as for 300) and flag the implausible."""
    from .robust import refit_rows

    idx = np.concatenate([item[0] for item in pending])
    Yi = np.concatenate([item[1] for item in pending])
    Wi = (np.concatenate([item[2] for item in pending]) if wmode == kernel_layout.WEIGHTS_PER_ROW
          else pending[0][2])
    LOi, HIi, P0i = (np.concatenate([item[k] for item in pending]) for k in (3, 4, 5))
    refit_rows(fit, idx, Yi, Wi, wmode, LOi, HIi, outputs, sweep, spec, layout, vary, P0i,
               fixed_values, min_significance, n_threads, known_noise)
    status = outputs[6][idx]
    flag_implausible(status, outputs[0][idx], Yi, sweep, spec, layout)
    outputs[6][idx] = status


def _run_kernel(kernel: Any, model_args: tuple[Any, ...], sweep: Sweep, vary: NDArray[np.bool_],
                max_iter: int, ftol: float, xtol: float, scale_covar: bool, scratch: Any,
                Y: NDArray[np.float64], W: NDArray[np.float64], wmode: int,
                LO: NDArray[np.float64], HI: NDArray[np.float64], outputs: tuple[Any, ...],
                n_threads: int | None) -> None:
    """Fit the rows of ``Y`` from the start values in ``outputs[0]`` (overwritten with the
    results; ``outputs`` = P, errors, positions, position errors, χ², iterations, status,
    points used)."""
    P, err, pos, pos_err, chi2, nit, status, n_eff = outputs
    run_rows(kernel, Y.shape[0], *model_args, sweep.x, Y, W, wmode, P, LO, HI, vary, max_iter,
             ftol, xtol, scale_covar, err, pos, pos_err, chi2, nit, status, n_eff,
             scratch=scratch, n_threads=n_threads)


def kernel_weights(sigma: Any, Y: NDArray[np.float64], sweep: Sweep, rows: slice,
                   counts: float = 1.0) -> tuple[NDArray[np.float64], int]:
    """Weights 1/σ for the kernels: (W, mode) with one row per spectrum, one row shared by
    all, or Poisson weights that the kernel computes from the counts (no array pass here;
    averaged or scaled counts, ``counts`` ≠ 1, get an explicit row per spectrum)."""
    n = Y.shape[1]
    if is_poisson(sigma):
        if counts == 1.0:
            return np.zeros((1, n)), kernel_layout.WEIGHTS_POISSON
        return as_f8(weights_for(sigma, Y, sweep, None, counts)), kernel_layout.WEIGHTS_PER_ROW
    shape = () if sigma is None or isinstance(sigma, str) else (
        getattr(sigma, "shape", None) or np.shape(sigma))
    if len(shape) < 2:
        return as_f8(weights_for(sigma, Y[:1], sweep)), kernel_layout.WEIGHTS_SHARED
    return as_f8(weights_for(sigma, Y, sweep, rows)), kernel_layout.WEIGHTS_PER_ROW


def model_for(model: str, n_lines: int | None, baseline: str = "constant",
              lineshape: str | None = None, nucleus: str | None = None,
              axes: ArrayLike | None = None, signal: str = "dips") -> ModelSpec:
    """The :class:`ModelSpec` of the fitters' options (``n_lines`` ignored, or checked, for
    the Hamiltonian model)."""
    if isinstance(model, str) and model.strip().lower() == "hamiltonian":
        spec = make_model("hamiltonian", None, baseline=baseline, lineshape=lineshape,
                          nucleus=nucleus, axes=axes, signal=signal)
        if n_lines not in (None, 1, spec.n_lines):
            raise FitInputError(f"the 'hamiltonian' model has 2·n_axes = {spec.n_lines} lines; "
                                f"leave n_lines out (got {n_lines})")
        return spec
    return make_model(model, n_lines, baseline=baseline, lineshape=lineshape, nucleus=nucleus,
                      axes=axes, signal=signal)


def default_fixed(spec: ModelSpec, fixed: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``fixed`` with the model's default: the Hamiltonian model holds E = 0 unless the user
    says otherwise (``fixed={}`` fits E).  Away from zero field E shifts the lines only to
    second order and trades off against the transverse field, so fitting it by default makes
    the field worse, not better."""
    if fixed is None and spec.is_hamiltonian:
        return {"E": 0.0}
    return fixed


def _check_options(max_iter: Any, ftol: Any, xtol: Any, min_significance: Any,
                   chunk_size: Any) -> None:
    for name, value in (("max_iter", max_iter), ("chunk_size", chunk_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise FitInputError(f"{name} must be a positive whole number, got {value!r}")
    for name, value in (("ftol", ftol), ("xtol", xtol)):
        if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
            raise FitInputError(f"{name} must be a positive number, got {value!r}")
    if not (isinstance(min_significance, int | float) and min_significance >= 0):
        raise FitInputError(f"min_significance must be a number ≥ 0, got {min_significance!r}")


# --------------------------------------------------------------------------- flags and output


_OK = int(FitStatus.OK)
_NUMERICAL = int(FitStatus.NUMERICAL)
_AT_BOUND = int(FitStatus.AT_BOUND)
_NOT_SIGNIFICANT = int(FitStatus.NOT_SIGNIFICANT)


def flag_fits(status: NDArray[np.int64], P: NDArray[np.float64], err: NDArray[np.float64],
          lo: NDArray[np.float64], hi: NDArray[np.float64], vary: NDArray[np.bool_],
          layout: Layout, min_significance: float) -> None:
    """Add the AT_BOUND, NOT_SIGNIFICANT and NUMERICAL flags to converged fits (in place)."""
    ok = status == _OK
    if not ok.any():
        return
    finite = np.isfinite(P).all(axis=1) & np.isfinite(err).all(axis=1)
    if not finite.all():
        status[ok & ~finite] = _NUMERICAL
        ok &= finite
    spec = layout.spec
    idx = np.concatenate((layout.widths, np.append(layout.field, layout.D)
                          if spec.is_hamiltonian else layout.centers))
    idx = idx[vary[idx]]
    if idx.size:
        p = P[:, idx]
        lo_i = lo[:, idx]
        hi_i = hi[:, idx]
        # relative tolerance 1e-9; an infinite bound stays infinite (no inf − inf)
        at = (p <= lo_i + 1e-9 * np.clip(np.abs(lo_i), 1.0, 1e300)) | (
            p >= hi_i - 1e-9 * np.clip(np.abs(hi_i), 1.0, 1e300))
        at_bound = at.any(axis=1)
        status[ok & at_bound] = _AT_BOUND
        ok &= ~at_bound
    cidx = layout.contrasts[vary[layout.contrasts]]
    if cidx.size and min_significance > 0:
        weak = (np.abs(P[:, cidx]) < min_significance * err[:, cidx]).any(axis=1)
        status[ok & weak] = _NOT_SIGNIFICANT


def _assemble(spec: ModelSpec, layout: Layout, sweep: Sweep, P: NDArray[np.float64],
              err: NDArray[np.float64], pos: NDArray[np.float64], pos_err: NDArray[np.float64],
              chi2: NDArray[np.float64], dof: NDArray[np.float64], nit: NDArray[np.int64],
              status: NDArray[np.int64]) -> BatchFitResult:
    N = P.shape[0]
    nb = spec.n_base
    P_si = layout.to_si(P, sweep)
    E_si = layout.errors_to_si(err, sweep)
    centers = sweep.to_hz(pos)
    center_errors = pos_err * MHZ
    extra: dict[str, NDArray[np.float64]] = {}
    if spec.is_hamiltonian:
        na = spec.n_axes
        w = P_si[:, layout.widths[0]]
        we = E_si[:, layout.widths[0]]
        widths = np.repeat(w[:, None], 2 * na, axis=1)
        width_errors = np.repeat(we[:, None], 2 * na, axis=1)
        contrasts = np.repeat(P_si[:, layout.contrasts], 2, axis=1)
        contrast_errors = np.repeat(E_si[:, layout.contrasts], 2, axis=1)
        extra = {
            "field": P_si[:, layout.field], "field_errors": E_si[:, layout.field],
            "D": P_si[:, layout.D], "D_error": E_si[:, layout.D],
            "E": P_si[:, layout.E], "E_error": E_si[:, layout.E],
            "axis_contrasts": P_si[:, layout.contrasts],
            "axis_contrast_errors": E_si[:, layout.contrasts],
            "transitions": centers.reshape(N, na, 2).copy(),
        }
    else:
        widths = P_si[:, layout.widths]
        width_errors = E_si[:, layout.widths]
        contrasts = P_si[:, layout.contrasts]
        contrast_errors = E_si[:, layout.contrasts]
    if centers.shape[1] > 1:  # lines sorted by center
        order = np.argsort(np.where(np.isfinite(centers), centers, np.inf), axis=1)

        def by_center(a: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.take_along_axis(a, order, axis=1)

        centers, center_errors = by_center(centers), by_center(center_errors)
        widths, width_errors = by_center(widths), by_center(width_errors)
        contrasts, contrast_errors = by_center(contrasts), by_center(contrast_errors)
        if not spec.is_hamiltonian:  # keep the parameter vectors in the same (sorted) order
            G = spec.n_lines
            for arr in (P_si, E_si):
                groups = arr[:, nb:].reshape(N, G, 3)
                arr[:, nb:] = np.take_along_axis(groups, order[:, :, None],
                                                 axis=1).reshape(N, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        redchi = np.where(dof > 0, chi2 / dof, np.nan)
    return BatchFitResult(
        model=spec, f_ref=sweep.f_ref, param_names=spec.param_names, params=P_si,
        param_errors=E_si, centers=centers, center_errors=center_errors, widths=widths,
        width_errors=width_errors, contrasts=contrasts, contrast_errors=contrast_errors,
        baseline=P_si[:, 0].copy(), baseline_slope=P_si[:, 1].copy() if nb >= 2 else np.zeros(N),
        baseline_curvature=P_si[:, 2].copy() if nb == 3 else np.zeros(N),
        chisqr=chi2, redchi=redchi, n_iter=nit.astype(np.int32), status=status.astype(np.int8),
        extra=extra)
