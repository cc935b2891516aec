"""``fit_batch``: many spectra at once with the compiled Levenberg–Marquardt kernel."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import GAMMA_NV_HZ_PER_T, ZFS_HZ

from . import lm_kernel
from .errors import FitInputError
from .field_guess import field_from_lines
from .guess_kernel import SMOOTHING_NOISE_GAIN, guess_rows
from .guess_kernel import scratch as guess_scratch
from .inputs import MHZ, Sweep, check_spectra_shape, check_sweep, weights_for
from .jit import as_f8
from .models import ModelSpec, make_model
from .nv_transitions import axis_frames, transitions_into
from .parallel import run_rows
from .parameters import MT, Layout, SeedArrays, resolve_bounds, resolve_fixed, resolve_seed
from .results import BatchFitResult
from .status import FitStatus

__all__ = ["DEFAULT_CHUNK_SIZE", "fit_batch"]

#: Spectra per chunk: big enough to keep both cores busy, small enough to stay in cache-sized
#: working memory (a 4096 × 201 chunk is 6.6 MB of float64).
DEFAULT_CHUNK_SIZE = 4096
#: Chunks with fewer spectra than this run on one thread.
SMALL_BATCH = 64
_GAMMA_MHZ_PER_MT = GAMMA_NV_HZ_PER_T * 1e-9
#: Dip detection for n_lines=None: a dip must be deeper than this many noise σ ...
DETECT_SIGMA = 5.0
#: ... and than this fraction of the deepest dip (rejects residues of imperfect subtraction).
DETECT_RELATIVE = 0.15


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
        (σ = √counts), a number, an (n_freq,) array, or an (N, n_freq) array.  σ = inf ignores a
        point.
    baseline
        "constant" or "linear".
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
    spec = _model_for(model, n_lines, baseline, lineshape, nucleus, axes)
    shape = getattr(spectra, "shape", None)
    if shape is None:
        spectra = np.asarray(spectra, dtype=float)
        shape = spectra.shape
    N, squeeze = check_spectra_shape(tuple(shape), sweep.n)
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
    scratch = partial(lm_kernel.scratch, sweep.n, P, n_lines,
                      spec.n_axes if spec.is_hamiltonian else 0)
    if spec.is_hamiltonian:
        kernel = lm_kernel.fit_rows_hamiltonian
        model_args: tuple[Any, ...] = (spec.shape_code, spec.n_base, offs,
                                       axis_frames(spec.axes), _GAMMA_MHZ_PER_MT,
                                       sweep.f_ref / MHZ)
    else:
        kernel = lm_kernel.fit_rows_lines
        model_args = (spec.shape_code, spec.n_base, spec.n_lines, offs)
    scale, shift = layout.si_scale_shift(sweep)
    vary = np.ascontiguousarray(vary, dtype=np.bool_)
    n_vary = int(np.count_nonzero(vary))

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
        W, wmode = kernel_weights(sigma, Y, sweep, rows)
        P0 = start_values(Y, sweep, spec, seed, rows, n_threads=threads)
        for i, value in fixed_values.items():
            P0[:, i] = (value - shift[i]) / scale[i]
        LO, HI = resolve_bounds(bounds, layout, sweep, P0, rows)
        LO = as_f8(LO)
        HI = as_f8(HI)
        Pc = out_p[rows]  # the kernel writes the results over the start values, in place
        Pc[...] = P0
        run_rows(kernel, n, *model_args, sweep.x, Y, W, wmode, Pc, LO, HI, vary, int(max_iter),
                 float(ftol), float(xtol), bool(scale_covar), out_err[rows], out_pos[rows],
                 out_pos_err[rows], out_chi2[rows], out_nit[rows], out_status[rows],
                 n_eff[rows], scratch=scratch, n_threads=threads)
        _flag(out_status[rows], Pc, out_err[rows], LO, HI, vary, layout, min_significance)
    out_dof[:] = n_eff - n_vary

    return _assemble(spec, layout, sweep, out_p, out_err, out_pos, out_pos_err, out_chi2,
                     out_dof, out_nit, out_status)


def kernel_weights(sigma: Any, Y: NDArray[np.float64], sweep: Sweep, rows: slice
                   ) -> tuple[NDArray[np.float64], int]:
    """Weights 1/σ for the kernels: (W, mode) with one row per spectrum, one row shared by
    all, or Poisson weights that the kernel computes from the counts (no array pass here)."""
    n = Y.shape[1]
    if isinstance(sigma, str) and sigma.strip().lower() == "poisson":
        return np.zeros((1, n)), lm_kernel.WEIGHTS_POISSON
    shape = () if sigma is None or isinstance(sigma, str) else (
        getattr(sigma, "shape", None) or np.shape(sigma))
    if len(shape) < 2:
        return as_f8(weights_for(sigma, Y[:1], sweep)), lm_kernel.WEIGHTS_SHARED
    return as_f8(weights_for(sigma, Y, sweep, rows)), lm_kernel.WEIGHTS_PER_ROW


def _model_for(model: str, n_lines: int | None, baseline: str, lineshape: str | None,
               nucleus: str | None, axes: ArrayLike | None) -> ModelSpec:
    if isinstance(model, str) and model.strip().lower() == "hamiltonian":
        spec = make_model("hamiltonian", None, baseline=baseline, lineshape=lineshape,
                          nucleus=nucleus, axes=axes)
        if n_lines not in (None, 1, spec.n_lines):
            raise FitInputError(f"the 'hamiltonian' model has 2·n_axes = {spec.n_lines} lines; "
                                f"leave n_lines out (got {n_lines})")
        return spec
    return make_model(model, n_lines, baseline=baseline, lineshape=lineshape, nucleus=nucleus,
                      axes=axes)


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


# --------------------------------------------------------------------------- start values


def guess_lines_internal(
    Y: NDArray[np.float64],
    sweep: Sweep,
    spec: ModelSpec,
    n_groups: int,
    preset: NDArray[np.float64] | None = None,
    n_threads: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Data guesses (internal units, pick order) and dip depths for ``n_groups`` resonances
    of the lines family (``spec``'s shape, offsets and baseline)."""
    n = Y.shape[0]
    P = spec.n_base + 3 * n_groups
    if n_threads is None and n < SMALL_BATCH:
        n_threads = 1
    if preset is None:
        preset = np.full((n, n_groups), np.nan)
    P0 = np.empty((n, P))
    H = np.empty((n, n_groups))
    run_rows(guess_rows, n, spec.shape_code, spec.n_base, n_groups, as_f8(spec.offsets / MHZ),
             sweep.x, as_f8(Y), as_f8(preset), 0.5 * sweep.step_mhz, sweep.span_mhz, P0, H,
             scratch=partial(guess_scratch, sweep.n), n_threads=n_threads)
    return P0, H


def noise_depth(Y: NDArray[np.float64], offset: NDArray[np.float64]) -> NDArray[np.float64]:
    """Noise of the smoothed depth profile, per spectrum, from the second differences (robust
    to the dips themselves)."""
    d2 = np.diff(Y, n=2, axis=1)
    mad = np.median(np.abs(d2 - np.median(d2, axis=1, keepdims=True)), axis=1)
    sigma_y = 1.4826 * mad / np.sqrt(6.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return SMOOTHING_NOISE_GAIN * sigma_y / np.abs(offset)


def count_significant(depths: NDArray[np.float64], noise: float) -> int:
    """Number of leading (deepest-first) picks that are real dips."""
    if depths.size == 0 or not np.isfinite(depths[0]) or depths[0] <= 0:
        return 0
    threshold = max(DETECT_SIGMA * noise, DETECT_RELATIVE * depths[0])
    k = 0
    for d in depths:
        if not d > threshold:
            break
        k += 1
    return k


def _sort_groups(P0: NDArray[np.float64], n_base: int, n_groups: int) -> NDArray[np.float64]:
    groups = P0[:, n_base:].reshape(P0.shape[0], n_groups, 3)
    order = np.argsort(groups[:, :, 0], axis=1)
    groups = np.take_along_axis(groups, order[:, :, None], axis=1)
    out = P0.copy()
    out[:, n_base:] = groups.reshape(P0.shape[0], -1)
    return out


def start_values(
    Y: NDArray[np.float64],
    sweep: Sweep,
    spec: ModelSpec,
    seed: SeedArrays,
    rows: slice,
    n_threads: int | None = None,
) -> NDArray[np.float64]:
    """Start values (internal units) for the chunk ``Y`` from the seed and the data."""
    if spec.is_hamiltonian:
        return _hamiltonian_start(Y, sweep, spec, seed, rows, n_threads)
    n = Y.shape[0]
    G = spec.n_lines
    nb = spec.n_base
    preset = None
    if seed.has("centers"):
        preset = sweep.to_internal(seed.rows("centers", rows, n))
    elif seed.has("field"):
        preset = _centers_from_field(seed, rows, n, G) / MHZ - sweep.f_ref / MHZ
    complete = (preset is not None and seed.has("widths") and seed.has("contrasts")
                and seed.has("offset") and (nb == 1 or seed.has("slope")))
    if complete:
        P0 = np.empty((n, spec.n_params))
    else:
        P0, _ = guess_lines_internal(Y, sweep, spec, G, preset, n_threads)
        if preset is None and G > 1:
            P0 = _sort_groups(P0, nb, G)
    if preset is not None:
        P0[:, nb::3] = preset
    if seed.has("widths"):
        P0[:, nb + 1::3] = seed.rows("widths", rows, n) / MHZ
    if seed.has("contrasts"):
        P0[:, nb + 2::3] = seed.rows("contrasts", rows, n)
    if seed.has("offset"):
        P0[:, 0] = seed.rows("offset", rows, n)[:, 0]
    if nb == 2:
        P0[:, 1] = seed.rows("slope", rows, n)[:, 0] * MHZ if seed.has("slope") else (
            P0[:, 1] if not complete else 0.0)
    return P0


def _centers_from_field(seed: SeedArrays, rows: slice, n: int, G: int) -> NDArray[np.float64]:
    """Sorted line positions (Hz) implied by a field seed, for the lines models."""
    from nvsense.physics import NV_AXES

    B = seed.rows("field", rows, n)
    D = seed.rows("D", rows, n)[:, 0] if seed.has("D") else np.full(n, ZFS_HZ)
    E = seed.rows("E", rows, n)[:, 0] if seed.has("E") else np.zeros(n)
    t = transitions_many(B / MT, D / MHZ, E / MHZ, axis_frames(NV_AXES)) * MHZ
    lines = np.sort(t.reshape(n, -1), axis=1)
    if lines.shape[1] != G:
        raise FitInputError(f"a field seed gives {lines.shape[1]} lines (4 NV axes) but "
                            f"n_lines is {G}; use n_lines={lines.shape[1]} or seed 'centers'")
    return lines


def transitions_many(B_mT: NDArray[np.float64], D_MHz: NDArray[np.float64],
                     E_MHz: NDArray[np.float64], frames: NDArray[np.float64]
                     ) -> NDArray[np.float64]:
    """Transitions (n, n_axes, 2) in MHz for n fields (mT) with their D, E (MHz)."""
    n = B_mT.shape[0]
    out = np.empty((n, frames.shape[0], 2))
    dt = np.empty((frames.shape[0], 2, 5))
    frames = as_f8(frames)
    B_mT = np.asarray(B_mT, dtype=float)
    if n and np.all(B_mT == B_mT[0]) and np.all(D_MHz == D_MHz[0]) and np.all(E_MHz == E_MHz[0]):
        transitions_into(B_mT[0], D_MHz[0], E_MHz[0], frames, _GAMMA_MHZ_PER_MT, out[0], dt)
        out[1:] = out[0]
        return out
    for i in range(n):
        transitions_into(B_mT[i], D_MHz[i], E_MHz[i], frames, _GAMMA_MHZ_PER_MT, out[i], dt)
    return out


def _hamiltonian_start(Y: NDArray[np.float64], sweep: Sweep, spec: ModelSpec, seed: SeedArrays,
                       rows: slice, n_threads: int | None) -> NDArray[np.float64]:
    n = Y.shape[0]
    nb = spec.n_base
    na = spec.n_axes
    layout = Layout(spec)
    P0 = np.empty((n, spec.n_params))
    D = seed.rows("D", rows, n)[:, 0] if seed.has("D") else np.full(n, ZFS_HZ)
    E = seed.rows("E", rows, n)[:, 0] if seed.has("E") else np.zeros(n)
    frames = axis_frames(spec.axes)
    if seed.has("field"):
        B = np.array(seed.rows("field", rows, n), dtype=float)
    elif seed.has("centers"):
        centers = seed.rows("centers", rows, n)
        B = np.empty((n, 3))
        for i in range(n):
            if i and centers.strides[0] == 0:
                B[i] = B[0]
                continue
            B[i], _ = field_from_lines(centers[i][np.isfinite(centers[i])], float(D[i]),
                                       spec.axes)
    else:
        B = np.empty((n, 3))
        for i in range(n):
            B[i] = hamiltonian_field_guess(sweep, Y[i], spec, float(D[i]))
    P0[:, layout.field] = B / MT
    P0[:, layout.D] = D / MHZ
    P0[:, layout.E] = E / MHZ
    need_data = not (seed.has("width") and seed.has("contrasts") and seed.has("offset"))
    if need_data:
        # Width, contrasts and baseline from the data at the lines the field predicts.
        t = transitions_many(B / MT, D / MHZ, E / MHZ, frames)  # (n, na, 2) MHz
        preset = t.reshape(n, 2 * na) - sweep.f_ref / MHZ
        inside = (preset >= sweep.x[0]) & (preset <= sweep.x[-1])
        Pl, _ = guess_lines_internal(Y, sweep, spec, 2 * na, np.where(inside, preset, np.nan),
                                     n_threads)
        widths = Pl[:, nb + 1::3]
        contrasts = Pl[:, nb + 2::3]
        P0[:, layout.widths[0]] = np.nanmedian(np.where(inside, widths, np.nan), axis=1)
        c_med = np.nanmedian(np.where(inside, contrasts, np.nan), axis=1)
        P0[:, layout.contrasts] = np.nan_to_num(c_med, nan=0.01)[:, None]
        P0[:, :nb] = Pl[:, :nb]
        bad = ~np.isfinite(P0[:, layout.widths[0]])
        P0[bad, layout.widths[0]] = 0.05 * sweep.span_mhz
    if seed.has("width"):
        P0[:, layout.widths[0]] = seed.rows("width", rows, n)[:, 0] / MHZ
    if seed.has("contrasts"):
        P0[:, layout.contrasts] = seed.rows("contrasts", rows, n)
    if seed.has("offset"):
        P0[:, 0] = seed.rows("offset", rows, n)[:, 0]
    if nb == 2:
        if seed.has("slope"):
            P0[:, 1] = seed.rows("slope", rows, n)[:, 0] * MHZ
        elif not need_data:
            P0[:, 1] = 0.0
    return P0


def hamiltonian_field_guess(sweep: Sweep, y: NDArray[np.float64], spec: ModelSpec,
                            D: float = ZFS_HZ, field_guess: ArrayLike | None = None
                            ) -> NDArray[np.float64]:
    """Field (T) seed for one spectrum from the data alone: find the dips, fit them as
    independent lines, then invert the line positions (:func:`field_from_lines`)."""
    positions = detect_and_fit_lines(sweep, y, spec, 2 * spec.n_axes)
    if positions.size < 2:
        return np.zeros(3) if field_guess is None else np.asarray(field_guess, dtype=float)
    B, _ = field_from_lines(positions, D, spec.axes, field_guess)
    return B


def detect_and_fit_lines(sweep: Sweep, y: NDArray[np.float64], spec: ModelSpec,
                         max_lines: int) -> NDArray[np.float64]:
    """Positions (Hz, sorted) of the significant dips of ``y``, refined by a quick lines fit
    with ``spec``'s shape and multiplet."""
    if not np.all(np.isfinite(y)):
        return np.zeros(0)
    Y = np.ascontiguousarray(y[None, :], dtype=float)
    P0, H = guess_lines_internal(Y, sweep, spec, max_lines)
    noise = float(noise_depth(Y, P0[:, 0])[0])
    k = count_significant(H[0], noise)
    if k == 0:
        return np.zeros(0)
    name = {1: "lorentzian"}.get(spec.offsets.size, "14n" if spec.offsets.size == 3 else "15n")
    if spec.lineshape == "gaussian" and spec.offsets.size == 1:
        name = "gaussian"
    lines_spec = make_model(name, k, baseline=spec.baseline)
    keep = P0[:, : spec.n_base + 3 * k]
    freq = sweep.to_hz(sweep.x)
    res = fit_batch(freq, y, lines_spec.name, k,
                    baseline=spec.baseline, guess=_guess_from_internal(keep, sweep, k, spec.n_base),
                    min_significance=0.0)
    pos = res.centers[0]
    if not np.all(np.isfinite(pos)):
        pos = np.sort(sweep.to_hz(keep[0, spec.n_base::3]))
    return pos[np.isfinite(pos)]


def _guess_from_internal(P: NDArray[np.float64], sweep: Sweep, k: int, nb: int
                         ) -> dict[str, Any]:
    g = {"centers": sweep.to_hz(P[0, nb::3][:k]), "widths": P[0, nb + 1::3][:k] * MHZ,
         "contrasts": P[0, nb + 2::3][:k], "offset": P[0, 0]}
    if nb == 2:
        g["slope"] = P[0, 1] / MHZ
    return g


# --------------------------------------------------------------------------- flags and output


def _flag(status: NDArray[np.int64], P: NDArray[np.float64], err: NDArray[np.float64],
          lo: NDArray[np.float64], hi: NDArray[np.float64], vary: NDArray[np.bool_],
          layout: Layout, min_significance: float) -> None:
    """Add the AT_BOUND, NOT_SIGNIFICANT and NUMERICAL flags to converged fits (in place)."""
    ok = status == FitStatus.OK
    if not np.any(ok):
        return
    finite = np.all(np.isfinite(P), axis=1) & np.all(np.isfinite(err), axis=1)
    status[ok & ~finite] = FitStatus.NUMERICAL
    ok &= finite
    spec = layout.spec
    idx = list(layout.widths)
    idx += [*list(layout.field), layout.D] if spec.is_hamiltonian else list(layout.centers)
    idx = [i for i in idx if vary[i]]
    if idx:
        p = P[:, idx]
        tol_lo = 1e-9 * np.maximum(np.abs(lo[:, idx]), 1.0)
        tol_hi = 1e-9 * np.maximum(np.abs(hi[:, idx]), 1.0)
        at = (np.isfinite(lo[:, idx]) & (p <= lo[:, idx] + tol_lo)) | (
            np.isfinite(hi[:, idx]) & (p >= hi[:, idx] - tol_hi))
        at_bound = np.any(at, axis=1)
        status[ok & at_bound] = FitStatus.AT_BOUND
        ok &= ~at_bound
    cidx = [i for i in layout.contrasts if vary[i]]
    if cidx and min_significance > 0:
        weak = np.any(P[:, cidx] < min_significance * err[:, cidx], axis=1)
        status[ok & weak] = FitStatus.NOT_SIGNIFICANT


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
        baseline=P_si[:, 0].copy(), baseline_slope=P_si[:, 1].copy() if nb == 2 else np.zeros(N),
        chisqr=chi2, redchi=redchi, n_iter=nit.astype(np.int32), status=status.astype(np.int8),
        extra=extra)
