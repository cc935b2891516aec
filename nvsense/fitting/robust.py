"""Other starting points for doubtful fits, and the refit that keeps the lowest χ².

The guess kernel estimates the baseline from the upper decile and picks dips deepest first.  On
real spectra that goes wrong in known ways: a bump or a glitch tilts the baseline, two nearby
dips (or a narrow dip on a broad one) merge into one wide pick, and a later pick lands on a
one-point glitch.  The starts here are built differently:

* **robust baseline** — a polynomial (the model's baseline degree, at least a line) fitted to
  the points that are not in dips, iteratively (points more than 2σ below the baseline are
  left out), so that neither the dips nor a glitch tilt it;
* **lines by prominence** — peaks of the depth profile (smoothed at two scales, and averaged
  over the hyperfine offsets of one resonance for the multiplet models) found by their
  *prominence* and a width of at least 1.5 points, so that a one-point glitch is not a line and
  two dips separated by a notch are two lines;
* **nested** — when fewer dips than lines stand out, the strongest as a narrow dip on a broad
  one at the same place;
* **swap** — the converged fit with its weakest line (or a line on the sweep's edge, or
  narrower than the sampling) moved to the deepest unexplained feature of the residual.

:func:`refit_doubtful` fits the doubtful spectra of a chunk from these starts and keeps, per
spectrum, the fit with the lowest χ².
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .convolve import convolve_rows
from .evaluate import evaluate_lines, unit_depth
from .inputs import Sweep
from .models import ModelSpec
from .parameters import Layout
from .peaks import find_prominent_peaks
from .signal_views import dip_view, from_dip_view
from .status import FitStatus

__all__ = [
    "CLEARLY",
    "candidate_starts",
    "doubtful_rows",
    "find_lines",
    "refit_doubtful",
    "refit_rows",
    "robust_baseline",
    "smooth_rows",
]

#: Statuses worth another start (BAD_INPUT is the data's fault, not the start's).
_RETRY = (FitStatus.MAX_ITER, FitStatus.AT_BOUND, FitStatus.SINGULAR,
          FitStatus.NOT_SIGNIFICANT, FitStatus.NUMERICAL)
_RETRY_TABLE = np.zeros(max(int(s) for s in FitStatus) + 1, dtype=bool)
_RETRY_TABLE[[int(s) for s in _RETRY]] = True
_OK = int(FitStatus.OK)
#: A line narrower than this many point spacings is a glitch more likely than a line.
NARROW_POINTS = 2.0
#: Points more than this many σ below the baseline are in dips (robust baseline).
_BASELINE_CLIP = 2.0
#: Smoothing scales (points) of the depth profile for the prominence starts.
_SCALES = (5, 11)
#: Prominence (in smoothed-noise σ) of a dip that the prominence starts take for a line.
_PROMINENCE = 5.0
#: A fit at a bound (or otherwise not OK) must beat the best OK fit by this many reduced-χ²
#: units to be kept: Δχ² = 9 is 3 σ for one parameter.
CLEARLY = 9.0


def doubtful_rows(status: NDArray[np.int64], P: NDArray[np.float64], sweep: Sweep,
                  spec: ModelSpec, layout: Layout, chi2: NDArray[np.float64] | None = None,
                  dof: NDArray[np.float64] | None = None) -> NDArray[np.bool_]:
    """(n,) which fits deserve other starts: a failure other than bad input, or a converged
    fit with a line on the sweep's edge (within half a width, or 1.5 points) or narrower than
    ``NARROW_POINTS`` point spacings, or — with known noise (``chi2`` and ``dof`` given) — a
    χ² that the noise does not allow (more than 3.5 standard deviations of the χ²
    distribution above its mean: a local minimum, or a line count or shape that is wrong)."""
    if status.shape[0] == 1:  # the live loop: plain Python is 10x faster on one row
        return np.array([_doubtful_row(int(status[0]), P[0], sweep, spec, layout,
                                       None if chi2 is None else float(chi2[0]),
                                       None if dof is None else float(dof[0]))])
    retry = _RETRY_TABLE[np.clip(status, 0, _RETRY_TABLE.size - 1)]
    ok = status == _OK
    with np.errstate(invalid="ignore"):
        if chi2 is not None and dof is not None:
            retry |= ok & (chi2 > dof + 3.5 * np.sqrt(2.0 * dof))
        if not spec.is_hamiltonian:
            c = P[:, layout.centers]
            w = P[:, layout.widths]
            step = sweep.step_mhz
            margin = np.maximum(0.5 * w, 1.5 * step)
            bad = (c - sweep.x[0] < margin) | (sweep.x[-1] - c < margin)
            bad |= w < NARROW_POINTS * step
            retry |= ok & bad.any(axis=1)
    return retry


def _doubtful_row(status: int, p: NDArray[np.float64], sweep: Sweep, spec: ModelSpec,
                  layout: Layout, chi2: float | None, dof: float | None) -> bool:
    """:func:`doubtful_rows` for one row (the same rules, tested to agree)."""
    if status != _OK:
        return bool(_RETRY_TABLE[min(max(status, 0), _RETRY_TABLE.size - 1)])
    if chi2 is not None and dof is not None and chi2 > dof + 3.5 * math.sqrt(2.0 * dof):
        return True
    if spec.is_hamiltonian:
        return False
    values = p.tolist()
    step = sweep.step_mhz
    x0 = float(sweep.x[0])
    x1 = float(sweep.x[-1])
    for c, w in zip([values[i] for i in layout.centers.tolist()],
                    [values[i] for i in layout.widths.tolist()], strict=True):
        margin = max(0.5 * w, 1.5 * step)
        if c - x0 < margin or x1 - c < margin or w < NARROW_POINTS * step:
            return True
    return False


def smooth_rows(Y: NDArray[np.float64], points: int) -> NDArray[np.float64]:
    """Rows smoothed with a binomial kernel of ``points`` taps (odd), renormalised at the
    edges (no pull toward zero there)."""
    kernel = _binomial(points)
    norm = convolve_rows(np.ones(Y.shape[1]), kernel)
    return convolve_rows(Y, kernel) / norm


def _binomial(points: int) -> NDArray[np.float64]:
    kernel = np.array([1.0])
    for _ in range(points - 1):
        kernel = np.convolve(kernel, [0.5, 0.5])
    return kernel


def _noise(Y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-row white-noise σ from the second differences (robust to lines and baselines)."""
    d2 = np.diff(Y, n=2, axis=1)
    mad = np.median(np.abs(d2 - np.median(d2, axis=1, keepdims=True)), axis=1)
    return 1.4826 * mad / np.sqrt(6.0)


def robust_baseline(x: NDArray[np.float64], V: NDArray[np.float64], degree: int,
                    iterations: int = 4) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Baseline under dips, per row: coefficients (n, degree + 1) of c0 + c1·x + c2·x² and the
    baseline (n, n_points), fitted to the points not more than 2σ below it."""
    A = np.vander(x, degree + 1, increasing=True)  # (n_points, d + 1)
    sigma = _noise(V)
    keep = np.ones(V.shape, dtype=bool)
    coef = np.zeros((V.shape[0], degree + 1))
    for _ in range(iterations):
        Wm = keep.astype(float)
        AtA = np.einsum("pk,np,pl->nkl", A, Wm, A)
        Aty = np.einsum("pk,np->nk", A, Wm * V)
        try:
            coef = np.linalg.solve(AtA, Aty[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        base = coef @ A.T
        keep = V - base > -_BASELINE_CLIP * sigma[:, None]
        # never fewer than a third of the points (a spectrum made mostly of dips): then the
        # highest third above the current baseline
        few = np.flatnonzero(keep.sum(axis=1) < V.shape[1] // 3)
        if few.size:
            top = np.argsort(-(V[few] - base[few]), axis=1)[:, : V.shape[1] // 3]
            mask = np.zeros((few.size, V.shape[1]), dtype=bool)
            np.put_along_axis(mask, top, True, axis=1)
            keep[few] = mask
    return coef, coef @ A.T


def _comb(x: NDArray[np.float64], profile: NDArray[np.float64], offs: NDArray[np.float64]
          ) -> NDArray[np.float64]:
    """The depth averaged over a multiplet's offsets (peaks at the resonance centers)."""
    if offs.size == 1:
        return profile
    return np.mean([np.interp(x + o, x, profile, left=0.0, right=0.0) for o in offs], axis=0)


def find_lines(x: NDArray[np.float64], profile: NDArray[np.float64], threshold: float,
               max_lines: int) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                         NDArray[np.float64]]:
    """Lines of a depth profile by prominence: (centers, full widths at half prominence,
    depths), most prominent first, at most ``max_lines``; peaks narrower than 1.5 points or
    less prominent than ``threshold`` are not lines."""
    found = find_prominent_peaks(profile, threshold, width=1.5, rel_height=0.5)
    if found.peaks.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    order = np.argsort(-found.prominences)[:max_lines]
    peaks = found.peaks[order]
    widths_pts = found.widths[order]
    step = float(np.median(np.diff(x)))
    # parabolic refinement of each peak's position
    centers = x[peaks].astype(float)
    inner = (peaks > 0) & (peaks < x.size - 1)
    p = peaks[inner]
    c0, c1, c2 = profile[p - 1], profile[p], profile[p + 1]
    den = c0 - 2 * c1 + c2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(den < 0, 0.5 * (c0 - c2) / den, 0.0)
    centers[inner] += np.clip(shift, -1, 1) * step
    return centers, widths_pts * step, profile[peaks]


def candidate_starts(Y: NDArray[np.float64], sweep: Sweep, spec: ModelSpec,
                     P_fit: NDArray[np.float64] | None = None) -> list[NDArray[np.float64]]:
    """Starting points (internal units) for the rows of ``Y``: lines by prominence at two
    smoothing scales on a robust baseline, and (given a converged fit) a swap start."""
    view = dip_view(Y, sweep, spec)
    V = view.Y
    m, n = V.shape
    G = spec.n_lines
    nb = spec.n_base
    x = sweep.x
    offs = spec.offsets / 1e6
    span_offs = float(np.ptp(offs))
    coef, base = robust_baseline(x, V, max(nb - 1, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(base > 0, 1.0 - V / base, 0.0)
    starts = []
    nested = np.full((m, nb + 3 * G), np.nan) if G >= 2 else None
    for points in _SCALES:
        if points >= n:
            continue
        smooth = smooth_rows(depth, points)
        noise = _noise(depth) * _smoothing_gain(points)
        Pv = np.empty((m, nb + 3 * G))
        Pv[:, :nb] = 0.0
        Pv[:, : min(nb, coef.shape[1])] = coef[:, : min(nb, coef.shape[1])]
        for i in range(m):
            prof = _comb(x, smooth[i], offs)
            c, fw, d = find_lines(x, prof, _PROMINENCE * noise[i], G)
            Pv[i, nb:] = _fill(c, fw, d, G, x, span_offs, P_fit[i] if P_fit is not None else None,
                               nb, sweep.step_mhz)
            if nested is not None and points == _SCALES[0] and c.size > 0:
                # the strongest dip may be a narrow dip on a broad one (in place of the
                # least prominent other dip, when all lines were found)
                lines = [[c[0], max(fw[0] / 3, sweep.step_mhz), 0.5 * d[0]],
                         [c[0], 3 * fw[0], 0.5 * d[0]]]
                rest = list(zip(c[1:], fw[1:], d[1:]))[: max(G - 2, 0)]
                lines += [[ci, wi, di] for ci, wi, di in rest]
                lines = sorted(lines[:G], key=lambda line: line[0])
                while len(lines) < G:
                    lines.append([float(x[x.size // 2]), 0.1 * sweep.span_mhz, 0.0])
                nested[i, :nb] = Pv[i, :nb]
                nested[i, nb:] = np.ravel(lines)
        widths = Pv[:, nb + 1::3]
        Pv[:, nb + 2::3] = np.clip(Pv[:, nb + 2::3] / unit_depth(widths, spec), 0.0, 1.0)
        starts.append(from_dip_view(Pv, view, spec, G))
    if nested is not None and np.any(np.isfinite(nested[:, nb])):
        widths = nested[:, nb + 1::3]
        nested[:, nb + 2::3] = np.clip(nested[:, nb + 2::3] / unit_depth(widths, spec), 0.0, 1.0)
        filled = np.where(np.isfinite(nested), nested, starts[0] if starts else 0.0)
        starts.append(from_dip_view(filled, view, spec, G) if not np.isnan(filled).any()
                      else filled)
    if P_fit is not None and spec.signal != "derivative":
        swap = _swap_start(Y, sweep, spec, P_fit)
        if swap is not None:
            starts.append(swap)
    return starts


def _smoothing_gain(points: int) -> float:
    """Noise gain of the binomial smoothing (std of smoothed white noise / its std)."""
    return float(np.sqrt(np.sum(_binomial(points) ** 2)))


def _fill(c: NDArray[np.float64], fw: NDArray[np.float64], d: NDArray[np.float64], G: int,
          x: NDArray[np.float64], span_offs: float, previous: NDArray[np.float64] | None,
          nb: int, step: float) -> NDArray[np.float64]:
    """[center, width, depth] × G from the lines found, completed from the previous fit's
    lines not near them, or by splitting the widest line."""
    width = np.sqrt(np.maximum(fw**2 - span_offs**2, (0.5 * fw) ** 2))
    lines = [[float(ci), max(float(wi), 0.5 * step), float(di)] for ci, wi, di in
             zip(c, width, d)]
    if previous is not None and len(lines) < G:
        for j in range(G):
            pc, pw, pa = previous[nb + 3 * j: nb + 3 * j + 3]
            if len(lines) >= G or not np.isfinite(pc):
                continue
            if all(abs(pc - line[0]) > 0.5 * max(pw, line[1]) for line in lines):
                lines.append([float(pc), float(pw), float(pa)])
    while len(lines) < G:
        if not lines:
            lines.append([float(x[x.size // 2]), 0.1 * float(x[-1] - x[0]), 0.0])
            continue
        k = int(np.argmax([line[1] for line in lines]))
        ck, wk, dk = lines[k]
        lines[k] = [ck - wk / 4, wk / 2, dk]
        lines.append([ck + wk / 4, wk / 2, dk])
    lines.sort(key=lambda line: line[0])
    return np.array(lines[:G]).ravel()


def _swap_start(Y: NDArray[np.float64], sweep: Sweep, spec: ModelSpec, P_fit: NDArray[np.float64]
                ) -> NDArray[np.float64] | None:
    """The converged fit with its weakest (or edge, or narrow) line moved to the deepest
    feature of the residual."""
    nb = spec.n_base
    P = P_fit.copy()
    if not np.all(np.isfinite(P)):
        return None
    model = evaluate_lines(P, sweep.x, spec)
    sign = 1.0 if spec.signal == "dips" else -1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.abs(P[:, :1]) if spec.signal == "dips" else 1.0
        resid_depth = sign * (model - Y) / scale
    resid = smooth_rows(np.nan_to_num(resid_depth), 5)
    c = P[:, nb::3]
    w = P[:, nb + 1::3]
    a = np.abs(P[:, nb + 2::3])
    x = sweep.x
    margin = np.maximum(0.5 * w, 1.5 * sweep.step_mhz)
    edge = (c - x[0] < margin) | (x[-1] - c < margin)
    narrow = w < NARROW_POINTS * sweep.step_mhz
    strength = a * np.sqrt(np.maximum(w, 1e-300))  # ~ the line's weight in χ²
    strength = np.where(edge | narrow, -1.0, strength)
    drop = np.argmin(strength, axis=1)
    near = np.abs(x[None, None, :] - c[:, :, None]) < 0.5 * w[:, :, None]
    near[np.arange(P.shape[0]), drop] = False  # the dropped line's place is free
    masked = np.where(near.any(axis=1), -np.inf, resid)
    k = np.argmax(masked, axis=1)
    rows = np.arange(P.shape[0])
    width = np.median(w, axis=1)
    P[rows, nb + 3 * drop] = x[k]
    P[rows, nb + 3 * drop + 1] = np.maximum(width, sweep.step_mhz)
    depth = np.maximum(resid[rows, k], 0.0)
    if spec.signal == "dips":
        P[rows, nb + 3 * drop + 2] = np.clip(depth / unit_depth(width, spec), 0.0, 1.0)
    else:
        P[rows, nb + 3 * drop + 2] = depth / unit_depth(width, spec)
    return P


def refit_doubtful(fit: Callable[..., None], Y: NDArray[np.float64], W: NDArray[np.float64],
                   wmode: int, LO: NDArray[np.float64], HI: NDArray[np.float64],
                   outputs: tuple[Any, ...], sweep: Sweep, spec: ModelSpec, layout: Layout,
                   vary: NDArray[np.bool_], P0: NDArray[np.float64], fixed_values: dict[int, Any],
                   min_significance: float, n_threads: int | None, known_noise: bool = False
                   ) -> int:
    """Fit the doubtful rows of a chunk again from :func:`candidate_starts` and keep, row by
    row, the fit with the lowest χ² (in place in ``outputs``) — or the lowest-χ² fit with
    status OK when the lowest of all is not clearly better than it (by ``CLEARLY`` reduced-χ²
    units): a spurious feature (a glitch) that a line at its bound fits barely better does
    not displace a real line.  Returns the number of rows retried."""
    from .kernel_layout import WEIGHTS_PER_ROW

    P, _, _, _, chi2, _, status, n_eff = outputs
    n_vary = int(np.count_nonzero(vary))
    dof = n_eff - n_vary if known_noise else None
    idx = np.flatnonzero(doubtful_rows(status, P, sweep, spec, layout,
                                       chi2 if known_noise else None, dof))
    if idx.size == 0:
        return 0
    Wi = W[idx] if wmode == WEIGHTS_PER_ROW else W
    refit_rows(fit, idx, Y[idx], Wi, wmode, LO[idx], HI[idx], outputs, sweep, spec, layout,
               vary, P0[idx], fixed_values, min_significance, n_threads, known_noise)
    return int(idx.size)


def refit_rows(fit: Callable[..., None], idx: NDArray[np.intp], Yi: NDArray[np.float64],
               Wi: NDArray[np.float64], wmode: int, LOi: NDArray[np.float64],
               HIi: NDArray[np.float64], outputs: tuple[Any, ...], sweep: Sweep,
               spec: ModelSpec, layout: Layout, vary: NDArray[np.bool_],
               P0i: NDArray[np.float64], fixed_values: dict[int, Any], min_significance: float,
               n_threads: int | None, known_noise: bool = False) -> None:
    """Fit rows ``idx`` of ``outputs`` (their spectra ``Yi``, weights, bounds and first start
    values given) again from :func:`candidate_starts` and keep the best fit of each, as
    :func:`refit_doubtful` says (in place in ``outputs``)."""
    from .batch import flag_fits

    P, err, pos, pos_err, chi2, nit, status, n_eff = outputs
    n_vary = int(np.count_nonzero(vary))
    Yi = np.ascontiguousarray(Yi)
    Wi = np.ascontiguousarray(Wi)
    LOi = np.ascontiguousarray(LOi)
    HIi = np.ascontiguousarray(HIi)
    scale, shift = layout.si_scale_shift(sweep)
    fields = (P, err, pos, pos_err, chi2, nit, status, n_eff)
    results = [tuple(np.array(a[idx]) for a in fields)]  # the first fit is a candidate too
    for start in candidate_starts(Yi, sweep, spec, P[idx].copy()):
        Pc = np.ascontiguousarray(start, dtype=float)
        for i, value in fixed_values.items():
            Pc[:, i] = (value - shift[i]) / scale[i]
        Pc = np.where(np.isfinite(Pc), Pc, P0i)
        Pc = np.minimum(np.maximum(Pc, LOi), HIi)
        out = (Pc, np.full_like(Pc, np.nan), np.full((idx.size, pos.shape[1]), np.nan),
               np.full((idx.size, pos.shape[1]), np.nan), np.full(idx.size, np.nan),
               np.zeros(idx.size, dtype=np.int64), np.zeros(idx.size, dtype=np.int64),
               np.zeros(idx.size, dtype=np.int64))
        fit(Yi, Wi, wmode, LOi, HIi, out, 1 if idx.size < 64 else n_threads)
        flag_fits(out[6], Pc, out[1], LOi, HIi, vary, layout, min_significance)
        results.append(out)
    c2 = np.array([np.where(np.isfinite(r[4]), r[4], np.inf) for r in results])  # (k, m)
    ok = np.array([r[6] == FitStatus.OK for r in results])
    best = np.argmin(c2, axis=0)
    cols = np.arange(idx.size)
    low = c2[best, cols]
    dofs = np.maximum(results[0][7] - n_vary, 1)
    unit = low / dofs if not known_noise else np.maximum(low / dofs, 1.0)
    ok_c2 = np.where(ok, c2, np.inf)
    best_ok = np.argmin(ok_c2, axis=0)
    keep_ok = np.isfinite(ok_c2[best_ok, cols]) & (ok_c2[best_ok, cols] <= low + CLEARLY * unit)
    choice = np.where(keep_ok, best_ok, best)
    for target, k in zip(fields, range(len(fields))):
        stacked = np.stack([r[k] for r in results])  # (k, m, ...)
        target[idx] = stacked[choice, cols]
