"""From measured ODMR lines back to the magnetic field (and D).

* :func:`field_from_transitions` — the field vector from the lines of several axes, by least
  squares on the exact Hamiltonian, with D fitted or fixed.
* :func:`axial_field` and :func:`axis_field_components` (one axis's two lines) live in
  :mod:`nvsense.physics.axial` and are re-exported here.

The pieces are in their own modules: the least-squares problem and its matching of model lines
to measured lines (:mod:`~nvsense.physics.line_problem`), the starting points
(:mod:`~nvsense.physics.field_starts`), telling solutions and symmetric images apart
(:mod:`~nvsense.physics.field_solutions`) and the result (:mod:`~nvsense.physics.field_estimate`).

What the lines determine
------------------------
Each axis's two lines fix only |B·n| and |B×n| (for E = 0), so one axis never gives a vector.
B and −B always give the same lines.  Lines *assigned* to their axes (an (n_axes, 2) array)
fix the vector up to that sign: the projection signs follow from Σ B·nᵢ = 0 for the four NV
axes.  *Unassigned* lines (a flat array) from an ensemble with all axes equally bright are the
same for all 48 signed permutations of (Bx, By, Bz) (the cubic symmetry of the axes), so the
vector is defined only up to that symmetry: every such field is in
:attr:`FieldEstimate.equivalent_fields`, and ``guess`` (an approximate field, e.g. the bias
magnet's) picks the one reported.  Without a guess the reported field is the image that
maximises (B·n₀, B·n₁, …) in turn — for the NV axes, Bx ≥ By ≥ Bz ≥ 0.

How the fit is found
--------------------
The global search fits (Levenberg–Marquardt, analytic Jacobian from the derivatives of the
closed-form levels) from every closed-form candidate: every pairing of unassigned lines into
axes, every sign pattern of the projections, or a grid of directions for merged lines; then
keeps the best fit and every fit as good (Δχ² < 1) that is not a symmetric image of it.

With a ``guess`` the fit from the guess comes first, and it is returned without the global
search when it explains the lines: the lines of four or more axes are all given, no residual
exceeds ``max_residual``, the χ² is one the uncertainties allow (tail probability above 1e-6;
without ``sigma`` the lines must be reproduced exactly), and no nearby other solution fits as
well: a symmetric image of the fit or its reflection through the plane normal to an axis,
refitted (nearby minima close to a symmetry element, or with an axis nearly normal to the
field).  Otherwise the global search runs as without a guess.  Merged lines, the lines of
three axes, strain (E ≠ 0), lines not measured (NaN, or outside ``window``) and noisy lines
without ``sigma`` always take the global search.

Guards
------
Lines that cannot be NV transitions in hertz are refused with the likely unit (2870 is MHz, not
Hz).  When no E is given and the lines are also explained by strain at zero field (a pair
split symmetrically about D), the estimate says so (``strain_E``) and is not a success: the
lines alone cannot tell a small field from strain.  With line uncertainties the goodness of fit
is reported (``chi2_reduced``, ``p_value``); lines that scatter more than their uncertainties
allow give errors scaled by the reduced χ², not a failure.  Only lines that no field reproduces
within ``max_residual`` (default 20σ, or 1 MHz without uncertainties) are refused.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .axes import NV_AXES
from .axial import axial_field, axis_field_components
from .constants import GAMMA_NV_HZ_PER_T
from .field_estimate import STRAIN_E_MAX_HZ, FieldEstimate
from .field_solutions import (
    choose_image,
    equally_good,
    equivalent_fields,
    image_starts,
    same_solution,
    slack,
)
from .field_starts import starts_assigned, starts_grid, starts_pairings
from .line_problem import MHZ, LineProblem, Solution
from .symmetry import axis_symmetries
from .tails import chi2_isf, chi2_sf

__all__ = [
    "DEFAULT_MAX_RESIDUAL_HZ",
    "FieldEstimate",
    "axial_field",
    "axis_field_components",
    "field_from_transitions",
]

#: Largest line residual (Hz) accepted without line uncertainties before lines are refused as
#: ones no field produces.
DEFAULT_MAX_RESIDUAL_HZ = 1e6
#: With uncertainties, lines are refused when a residual exceeds this many σ (a wrong line, or
#: uncertainties wrong by more than an order of magnitude); smaller misfits are reported as a
#: goodness of fit, with errors scaled to the scatter.
REFUSE_SIGMAS = 20.0
#: Tail probability of the χ² below which the line uncertainties are taken to be too small and
#: the errors are scaled by the reduced χ².
SCALE_ERRORS_BELOW = 1e-3
#: Lines above this frequency cannot be NV ground-state transitions (γ·1 T ≈ 28 GHz above D).
MAX_LINE_HZ = 100e9

# The starts are module attributes (the tests count the global searches by wrapping them).
_starts_assigned = starts_assigned
_starts_pairings = starts_pairings
_starts_grid = starts_grid


def _search(problem: LineProblem, guess, limit: float, explained: float
            ) -> tuple[list[Solution], Solution]:
    """Fit from every start (guess, closed-form inversions or grid) and return all fits and
    the best; raise ValueError when even the best misses a line by more than ``limit``.  A
    best fit that misses a line by more than ``explained`` (5σ) makes the search wider."""
    n_axes, n_lines, assigned = problem.n_axes, problem.y.size, problem.assigned
    fits: list[Solution] = []
    if guess is not None:
        first = problem.refine(problem.pack(guess, np.array(problem.default_d())))
        if _explains(problem, first, explained):
            return [first], first
        fits.append(first)
    starts: list[NDArray[np.float64]] = []
    if assigned and problem.complete:
        starts += _starts_assigned(problem)
    elif not assigned and n_lines == 2 * n_axes and problem.window is None:
        starts += _starts_pairings(problem)
    else:
        starts += _starts_grid(problem)
    fits += [problem.refine(x0) for x0 in starts]
    best = _best(fits)
    if problem.E != 0:
        # Strain breaks the axes' symmetry a little, so the symmetric images of a solution
        # are near-solutions that the (strain-free) starting guesses cannot tell apart.
        fits += [problem.refine(x0) for x0 in image_starts(problem, best)]
        best = _best(fits)
    if not (assigned and problem.complete) and problem.worst(best) > explained:
        fits += [problem.refine(x0) for x0 in _starts_grid(problem)]
        best = _best(fits)
    worst = problem.worst(best)
    if worst > limit:
        used = best.assignment >= 0
        miss = np.abs(best.lines - problem.targets(best.assignment, best.lines)) * MHZ
        j = int(np.argmax(np.where(used, miss, -1.0)))
        hint = "" if assigned or n_lines == 2 * n_axes else (
            f" (unassigned lines must include both transitions of all {n_axes} axes, "
            "coinciding ones given once; give window= when lines lie outside the sweep, or "
            "fewer axes for fewer lines)")
        raise ValueError(
            f"no field reproduces these lines: the best fit misses the line at "
            f"{problem.y[best.assignment[j]]:.4f} MHz by {worst / 1e3:.1f} kHz (limit "
            f"{limit / 1e3:.1f} kHz); check the lines, D, E and the axes{hint}"
        )
    return fits, best


def _best(fits: list[Solution]) -> Solution:
    """The fit with the lowest cost; among fits whose costs differ only by rounding (1e-9
    relative), the earliest (the fit from the guess comes first, so the answer does not hinge
    on rounding in the last digits of χ²)."""
    low = min(f.cost for f in fits)
    return next(f for f in fits if f.cost <= low + 1e-9 * low + 1e-12)


#: Tail probability of the χ² up to which the fit from the guess is accepted without the
#: global search (see :func:`_explains`).  Small, so that line uncertainties somewhat
#: underestimated by the line fits still pass: χ² < 33.4 for 4 degrees of freedom.
_CHI2_TAIL = 1e-6


def _explains(problem: LineProblem, fit: Solution, limit: float) -> bool:
    """Whether the fit from the guess can be taken without the global search.

    * The lines of four axes or more, every one given (one per transition), and no strain:
      merged lines, the lines of only three axes, lines not measured and strained lines
      (whose symmetric images are near-solutions, with a shallow valley of them for a field
      near an axis) often have other solutions that the global search finds and reports in
      ``FieldEstimate.alternatives``.
    * The parameters are determined (full-rank Jacobian) and no residual exceeds ``limit``.
    * The χ² is one the line uncertainties allow (tail probability above 1e-6).  Without
      uncertainties there is no scale for "allow": the lines must then be reproduced exactly
      (rms below ~1 kHz, the full search's "equally good").  A wrong local minimum or line
      assignment leaves residuals of the order of the line spacing instead.
    * No nearby other solution is as good (within Δχ² = 1), from a symmetric image of the
      fit or its reflection through the plane normal to an axis (:func:`_rival_images`):
      near a symmetry element or with an axis nearly normal to the field these are nearby
      minima, and the fit from a guess on the wrong side would otherwise be taken for the
      answer.

    Fits that pass are what the global search returns (the tests compare the two).  What the
    shortcut cannot see are distant unrelated solutions that fit as well; with all lines of
    four axes none turned up in thousands of random trials (the global search reports them
    in ``alternatives``, and they are common for merged lines).
    """
    if problem.n_axes < 4 or problem.E != 0 or not problem.complete:
        return False
    if problem.worst(fit) > limit:
        return False
    jac = fit.jac * np.sqrt(problem.weights(fit.assignment))[:, None]
    sv = np.linalg.svd(jac, compute_uv=False)
    if not sv[-1] > 1e-5 * sv[0]:
        return False
    allowed = chi2_isf(_CHI2_TAIL, problem.y.size - fit.x.size)  # 4 or more degrees of freedom
    if fit.cost > (allowed if problem.sigma is not None else slack(problem, None)):
        return False
    return not _rival_images(problem, fit, 4.0 * (fit.cost + allowed))


def _rival_images(problem: LineProblem, fit: Solution, bound: float) -> bool:
    """Whether a field related to ``fit`` that does not give exactly its lines (they differ by
    more than 1 Hz) refines to a fit at least as good (within Δχ² = 1).  The candidates are
    the symmetric images of the field and its reflections through the planes normal to each
    axis (which keep that axis's lines and |B|: where an axis is nearly normal to the field
    the sign of its projection is barely determined, and both signs can fit).  Only candidates
    whose cost before refinement is below ``bound`` are refined (one per value of that cost):
    for a field away from every symmetry element they are far off and none is."""
    axes = problem.axes
    maps = np.concatenate([axis_symmetries(axes),
                           np.eye(3) - 2.0 * axes[:, :, None] * axes[:, None, :]])
    x = np.repeat(fit.x[None, :], len(maps), axis=0)
    x[:, :3] = maps @ fit.x[:3]
    lines = problem.model(x)  # (m, 2n)
    if problem.assigned:
        target, s, own = problem.y[problem.fixed], problem.s[problem.fixed], fit.lines
    else:  # the full set of lines: sorted order is the one-to-one matching
        order = np.argsort(problem.y)
        target, s, own = problem.y[order], problem.s[order], np.sort(fit.lines)
        lines = np.sort(lines, axis=-1)
    other = np.max(np.abs(lines - own), axis=-1) * MHZ >= 1.0  # not an exact image (1 Hz)
    cost = np.sum(((lines - target) / s) ** 2, axis=-1)
    seen: list[float] = []
    for k in np.argsort(cost):
        if cost[k] >= bound:
            break
        if not other[k] or any(abs(cost[k] - c) <= 1e-6 * (1.0 + c) for c in seen):
            continue
        seen.append(float(cost[k]))
        rival = problem.refine(x[k])
        if (rival.cost < fit.cost + slack(problem, problem.sigma)
                and not same_solution(problem, rival, fit)):
            return True
    return False


# -- input ------------------------------------------------------------------------------------
def _unit_hint(lines: NDArray[np.float64]) -> str | None:
    """Why finite positive ``lines`` cannot be NV transitions in Hz, naming the likely unit."""
    top = float(np.max(lines))
    if top < 1e6:
        if 1e3 <= top < 1e5:
            unit, factor = "MHz", "1e6"
        elif top < 100:
            unit, factor = "GHz", "1e9"
        else:
            unit, factor = "an unknown unit", None
        fix = f"multiply by {factor}" if factor else "give them in Hz"
        return (f"lines must be in Hz, and {top:g} cannot be an NV transition in Hz (they lie "
                f"near D = 2.87 GHz); these look like {unit}: {fix}")
    if top > MAX_LINE_HZ:
        return (f"line {top:g} Hz is above any NV ground-state transition (< {MAX_LINE_HZ:g} "
                f"Hz even at 1 T); check the unit (lines must be in Hz)")
    return None


def _as_lines(freqs: ArrayLike, n_axes: int
              ) -> tuple[NDArray[np.float64], bool, NDArray[np.bool_]]:
    """(lines as given, assigned, measured mask): NaN marks an assigned line not measured."""
    try:
        lines = np.asarray(freqs, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"lines must be numbers in Hz, not {freqs!r}") from None
    if lines.ndim == 2 and lines.shape == (n_axes, 2):
        assigned = True
    elif lines.ndim == 1 and 1 <= lines.size <= 2 * n_axes:
        assigned = n_axes == 1 and lines.size == 2
    else:
        raise ValueError(
            f"lines must be an ({n_axes}, 2) array (two lines per axis, assigned; NaN for a "
            f"line not measured) or a flat array of 1 to {2 * n_axes} unassigned lines; got "
            f"shape {lines.shape}"
        )
    measured = ~np.isnan(lines) if assigned else np.ones(lines.shape, dtype=bool)
    values = lines[measured]
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"lines must be finite positive frequencies in Hz (NaN only for an "
                         f"assigned line not measured); got {lines.tolist()}")
    hint = _unit_hint(values)
    if hint:
        raise ValueError(hint)
    return lines, assigned, measured


def _as_sigma(sigma: ArrayLike | None, shape: tuple[int, ...]) -> NDArray[np.float64] | None:
    if sigma is None:
        return None
    s = np.asarray(sigma, dtype=float)
    try:
        s = np.broadcast_to(s, shape)
    except ValueError:
        raise ValueError(
            f"sigma must be one uncertainty in Hz or one per line (shape {shape}), "
            f"not shape {s.shape}"
        ) from None
    return np.array(s, dtype=float)


def _as_axes(axes: ArrayLike) -> NDArray[np.float64]:
    a = np.atleast_2d(np.asarray(axes, dtype=float))
    if a.ndim != 2 or a.shape[1] != 3 or not np.all(np.isfinite(a)):
        raise ValueError(f"axes must be finite vectors of shape (n_axes, 3), not {a.shape}")
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("axes must be non-zero vectors")
    return a / norms


def _scalar(value: float, name: str, *, positive: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in Hz, not {value!r}") from None
    if not np.isfinite(v) or (positive and v <= 0):
        raise ValueError(f"{name} must be a finite{' positive' if positive else ''} number in "
                         f"Hz, not {value!r}")
    return v


def _as_window(window: ArrayLike | None) -> tuple[float, float] | None:
    if window is None:
        return None
    try:
        lo, hi = (float(v) for v in window)
    except (TypeError, ValueError):
        raise ValueError(f"window must be (low, high) in Hz, not {window!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo < hi):
        raise ValueError(f"window must be (low, high) in Hz with low < high, not {window!r}")
    hint = _unit_hint(np.array([hi]))
    if hint:
        raise ValueError(f"window: {hint}")
    return lo, hi


def _check_determinable(n_axes: int, n_lines: int, assigned: bool, fit_d: bool) -> None:
    if n_axes == 1:
        raise ValueError(
            "the two lines of one NV axis fix only |B∥| and |B⊥|, not the field vector; use "
            "axis_field_components(f_low, f_high, D) for those, or give lines of 2 or more axes"
        )
    if not assigned and n_lines < 2:
        raise ValueError("one line cannot determine a field: give the lines of at least two "
                         "axes (both transitions of each)")
    if assigned and n_lines < 3 + fit_d:
        raise ValueError(f"{n_lines} measured line(s) cannot determine the field"
                         f"{' and D' if fit_d else ''}: give at least {3 + fit_d}, or pass D")
    if n_axes == 2 and fit_d:
        # |B|² from either axis changes with D in the same way, so two axes leave a
        # one-parameter family of (B, D) that fits exactly
        raise ValueError(
            "the lines of two axes fix the field only for a known D: pass D (e.g. "
            "zfs_at(temperature)) or give the lines of a third axis"
        )


def _assignment_map(lines: NDArray[np.float64], measured: NDArray[np.bool_]
                    ) -> NDArray[np.intp]:
    """For assigned lines (n, 2): the measured line of each model line (axis-major, low then
    high), −1 where not measured.  Complete pairs may come in either order; a row with a NaN
    must be (low, high)."""
    n = lines.shape[0]
    index = np.full(lines.shape, -1, dtype=np.intp)
    index[measured] = np.arange(int(np.count_nonzero(measured)))
    out = np.empty((n, 2), dtype=np.intp)
    for a in range(n):
        if measured[a].all() and lines[a, 0] > lines[a, 1]:
            out[a] = index[a, ::-1]
        else:
            out[a] = index[a]
    return out.ravel()


# -- the estimate -----------------------------------------------------------------------------
def field_from_transitions(
    freqs: ArrayLike,
    *,
    D: float | None = None,
    E: float | None = None,
    axes: ArrayLike = NV_AXES,
    guess: ArrayLike | None = None,
    sigma: ArrayLike | None = None,
    max_residual: float | None = None,
    window: ArrayLike | None = None,
) -> FieldEstimate:
    """Recover the field vector (and D) from measured ODMR lines.

    Parameters
    ----------
    freqs
        Line positions in Hz, either

        * an (n_axes, 2) array: the two lines of each axis, in the order of ``axes`` (each
          pair in any order).  A line that was not measured (e.g. outside the sweep at high
          field) is NaN; a row with a NaN must be (low line, high line) in that order.
        * a flat array of up to 2·n_axes unassigned lines.  Every transition of every axis
          must be among them, except those outside ``window``; lines closer than the
          resolution may be given once (a line then stands for all the transitions that
          coincide there, e.g. 2 lines for a field along [100]).
    D
        Zero-field splitting in Hz, or None (default) to fit it (a temperature readout).
    E
        Transverse (strain) splitting in Hz, held fixed.  None (default) takes E = 0 but
        checks whether strain at zero field explains the lines as well (see ``strain_E``);
        give it (0 for an unstrained sample) to skip that check.
    axes
        The NV axes, (n_axes, 3); the field is returned in the same frame.  Default: the four
        NV axes in the crystal frame (use :func:`nv_axes_in_lab` for a lab frame).
    guess
        Approximate field (3,) in T, e.g. from the bias magnet or the previous measurement:
        picks, among the fields that give the same lines (see module docstring), the one
        nearest to it, and seeds the fit.  When the fit from the guess alone explains the
        lines, the global search is skipped (see "How the fit is found" in the module
        docstring): a live loop that passes the previous field gets the same answer several
        times faster.
    sigma
        Line uncertainties in Hz: one value or one per line (shaped like ``freqs``).  They
        weight the fit and give ``covariance``, ``D_error``, ``chi2`` and the goodness of fit;
        without them those are None.
    max_residual
        Largest acceptable line residual in Hz: lines that no field reproduces within it are
        refused (default 20σ with ``sigma``, 1 MHz without).  Smaller misfits are reported as
        a goodness of fit (``chi2_reduced``, ``p_value``, ``errors_scaled``).
    window
        (low, high) in Hz, for unassigned lines: the sweep's range.  Transitions outside it are
        not expected among the lines (a high-field sweep that sees only some of them).

    Returns
    -------
    FieldEstimate

    Raises
    ------
    ValueError
        Wrong shapes, non-finite or non-positive lines or settings, lines that cannot be NV
        transitions in Hz (the message names the likely unit); lines that cannot determine the
        vector (one axis, a single line); lines that no field reproduces within
        ``max_residual``.

    Examples
    --------
    >>> from nvsense.physics import transition_frequencies
    >>> lines = transition_frequencies([1e-3, 2e-3, 3e-3])
    >>> est = field_from_transitions(lines)  # assigned: exact up to the sign of B
    >>> np.round(est.field * 1e3, 6), round(est.D / 1e6, 6)
    (array([1., 2., 3.]), 2870.0)
    """
    axes_arr = _as_axes(axes)
    n_axes = axes_arr.shape[0]
    lines, assigned, measured = _as_lines(freqs, n_axes)
    sig = _as_sigma(sigma, lines.shape)
    if sig is not None:
        sig = sig[measured]
        if not np.all(np.isfinite(sig) & (sig > 0)):
            raise ValueError(f"sigma must be positive finite line uncertainties in Hz, not "
                             f"{sigma!r}")
    d_fixed = None if D is None else _scalar(D, "D", positive=True)
    e = 0.0 if E is None else _scalar(E, "E", positive=False)
    win = _as_window(window)
    if win is not None and assigned:
        raise ValueError("window= applies to unassigned lines; for lines assigned to their axes "
                         "mark the lines not measured with NaN")
    guess_arr = None
    if guess is not None:
        guess_arr = np.asarray(guess, dtype=float)
        if guess_arr.shape != (3,) or not np.all(np.isfinite(guess_arr)):
            raise ValueError(f"guess must be a finite field vector (3,) in T, not {guess!r}")
    values = lines[measured]
    _check_determinable(n_axes, values.size, assigned, d_fixed is None)

    fixed = _assignment_map(lines, measured) if assigned else None
    problem = LineProblem(values, sig, axes_arr, e, d_fixed, fixed, win)
    explained = _residual_limit(None, sig)
    if max_residual is not None:
        limit = _scalar(max_residual, "max_residual", positive=True)
    else:
        limit = DEFAULT_MAX_RESIDUAL_HZ if sig is None else REFUSE_SIGMAS * float(np.max(sig))

    fits, best = _search(problem, guess_arr, limit, min(explained, limit))

    # Every distinct solution that fits as well as the best one (degenerate lines can be
    # explained by different fields), each with its symmetric images.  Report the field
    # nearest the guess, or the canonical image of the best solution; then polish the fit
    # there so that assignment and errors belong to it.
    solutions = equally_good(problem, fits, best, sig)
    image_sets = [equivalent_fields(problem, *problem.split(f.x), sig) for f in solutions]
    index = 0
    if guess_arr is not None:
        index = int(np.argmin([np.min(np.linalg.norm(im - guess_arr, axis=1))
                               for im in image_sets]))
    pick, images = solutions[index], image_sets[index]
    chosen = choose_image(images, guess_arr, axes_arr)
    field, d = problem.split(pick.x)
    if not np.allclose(chosen, field, atol=1e-12):
        polished = problem.refine(problem.pack(chosen, np.array(d)))
        if polished.cost <= pick.cost + slack(problem, sig):
            pick = polished
    others = tuple(
        (choose_image(im, None, axes_arr), float(problem.split(f.x)[1]))
        for k, (f, im) in enumerate(zip(solutions, image_sets))
        if k != index
    )
    strain = None if E is not None else _strain_alternative(problem, pick, sig)
    return _result(problem, pick, images, sig, lines.shape, measured, others, strain)


def _residual_limit(max_residual: float | None, sig) -> float:
    """Residual up to which a fit explains the lines (5σ, or 1 MHz without uncertainties)."""
    if max_residual is not None:
        return _scalar(max_residual, "max_residual", positive=True)
    return DEFAULT_MAX_RESIDUAL_HZ if sig is None else 5.0 * float(np.max(sig))


def _strain_alternative(problem: LineProblem, fit: Solution, sig) -> float | None:
    """E (Hz) when strain at zero field explains the lines as well as ``fit`` does: every
    measured line at D ± E (D fitted or the fixed one), with E ≤ STRAIN_E_MAX_HZ.  None when
    it does not (or the lines are too many or too spread for it)."""
    y = problem.y * MHZ
    if not 2 <= y.size or np.ptp(y) > 2 * STRAIN_E_MAX_HZ:
        return None
    lo, hi = float(np.min(y)), float(np.max(y))
    d = 0.5 * (lo + hi) if problem.D_fixed is None else float(problem.D_fixed)
    e = 0.5 * (hi - lo) if problem.D_fixed is None else max(abs(hi - d), abs(d - lo))
    if e <= 0:
        return None
    model = np.where(y < d, d - e, d + e)
    s = problem.s * MHZ if sig is not None else np.full(y.size, MHZ)
    cost = float(np.sum(((y - model) / s) ** 2))
    tolerance = slack(problem, sig)
    if sig is not None:
        tolerance += max(fit.cost, 0.0) + 4.0  # as good as the field within ~2σ overall
    else:
        tolerance += max(fit.cost, 0.0)
    if cost > tolerance:
        return None
    # only distinct lines at D − E and D + E: a field that gives just these is along a
    # symmetry direction with a small Zeeman splitting, which strain mimics
    return e


def _result(problem: LineProblem, fit: Solution, images, sig, shape, measured, others,
            strain_e: float | None) -> FieldEstimate:
    field, d = problem.split(fit.x)
    model = fit.lines  # MHz, (2n,)
    a = fit.assignment
    used = a >= 0
    k = problem.y.size
    mult = np.bincount(a[used], minlength=k)
    mean_model = np.bincount(a[used], weights=model[used], minlength=k) / np.maximum(mult, 1)
    residual_measured = np.where(mult > 0, (problem.y - mean_model) * MHZ, np.nan)
    residuals = np.full(shape, np.nan)
    residuals[measured] = residual_measured

    jac = fit.jac  # (2n, p): MHz per parameter unit
    w = problem.weights(a)
    jw = jac * np.sqrt(w)[:, None]
    sv = np.linalg.svd(jw, compute_uv=False)
    # a field on a stationary point of some lines (e.g. B ≈ 0, or B along [110] with
    # merged lines) leaves a direction undetermined to first order
    full_rank = sv.size > 0 and sv[-1] > 1e-5 * sv[0]
    fit_d = problem.D_fixed is None
    cov = par_cov = None
    d_err = chi2 = chi2_red = p_value = None
    scaled = False
    if sig is not None and full_rank:
        # Sandwich covariance: exact for weighted least squares where one measured line may
        # stand for several model lines (its error then enters each of them, correlated).
        bread = np.linalg.inv(jac.T @ (w[:, None] * jac))
        select = np.zeros((a.size, k))
        select[np.flatnonzero(used), a[used]] = 1.0
        meat_half = (w[:, None] * jac).T @ select  # (p, k)
        meat = meat_half @ np.diag(problem.sigma**2) @ meat_half.T
        cov_x = bread @ meat @ bread
        chi2 = float(np.nansum((residual_measured / (problem.sigma * MHZ)) ** 2))
        dof = k - fit.x.size
        if dof > 0:
            chi2_red = chi2 / dof
            p_value = chi2_sf(chi2, dof)
            if p_value < SCALE_ERRORS_BELOW and chi2_red > 1.0:
                cov_x = cov_x * chi2_red
                scaled = True
        units = np.full(cov_x.shape[0], MHZ)
        units[:3] = MHZ / GAMMA_NV_HZ_PER_T
        par_cov = cov_x * np.outer(units, units)
        cov = par_cov[:3, :3]
        if fit_d:
            d_err = float(np.sqrt(par_cov[3, 3]))
    success = bool(full_rank)
    if full_rank:
        message = "field determined"
        if len(images) > 1:
            message += (f"; {len(images)} fields give these lines (see equivalent_fields)")
    else:
        message = ("the lines do not determine every parameter to first order here (e.g. "
                   "B ≈ 0, or coinciding lines on a symmetry direction): no covariance")
    if others:
        message += (f"; {len(others)} other field(s) not related by symmetry reproduce the lines "
                    "as well (see alternatives): give a guess to choose")
    if scaled:
        message += (f"; the lines scatter more than their uncertainties (χ²/dof = "
                    f"{chi2_red:.3g}, p = {p_value:.2g}): errors scaled by √(χ²/dof)")
    if strain_e is not None:
        success = False
        message += (f"; these lines are also explained at zero field by strain E = "
                    f"{strain_e / 1e6:.4g} MHz (lines at D ± E): the field is not determined by "
                    f"them alone — pass E (measured at zero field, or 0 for an unstrained "
                    f"sample)")
    return FieldEstimate(
        field=field,
        D=float(d),
        E=problem.E,
        residuals=residuals,
        model_lines=model.reshape(problem.n_axes, 2) * MHZ,
        assignment=a.reshape(problem.n_axes, 2).astype(np.int64),
        covariance=cov,
        D_error=d_err,
        parameter_covariance=par_cov,
        chi2=chi2,
        equivalent_fields=images,
        assigned=problem.assigned,
        success=success,
        message=message,
        D_fitted=fit_d,
        alternatives=others,
        chi2_reduced=chi2_red,
        p_value=p_value,
        errors_scaled=scaled,
        strain_E=strain_e,
    )
