"""From measured ODMR lines back to the magnetic field (and D).

* :func:`axial_field` — field along one axis from its two lines (closed form).
* :func:`axis_field_components` — |B∥| and |B⊥| of one axis from its two lines (exact, E = 0).
* :func:`field_from_transitions` — the field vector from the lines of several axes, by least
  squares on the exact Hamiltonian, with D fitted or fixed.

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
three axes, strain (E ≠ 0) and noisy lines without ``sigma`` always take the global search.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations, product

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment
from scipy.special import chdtri

from .axes import NV_AXES
from .constants import GAMMA_NV_HZ_PER_T, ZFS_HZ
from .hamiltonian import _BLOCK, _frames, _levels_from_frame_field
from .symmetry import axis_symmetries

__all__ = [
    "DEFAULT_MAX_RESIDUAL_HZ",
    "FieldEstimate",
    "axial_field",
    "axis_field_components",
    "field_from_transitions",
]

#: Largest line residual (Hz) accepted without line uncertainties; with ``sigma`` the limit is
#: 5σ per line.  Lines that leave larger residuals are reported as ones no field can produce.
DEFAULT_MAX_RESIDUAL_HZ = 1e6

_MHZ = 1e6  # the fit works in MHz (γB and D) so that all parameters are of order 1–1000

#: Model evaluations (lines and Jacobian) allowed for one fit from one start, re-assignments
#: included.  A start in the basin of a solution converges in 5–30.
_EVALUATIONS = 150


def axial_field(
    f_low: ArrayLike, f_high: ArrayLike, *, E: float = 0.0
) -> tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]:
    """Field along an NV axis and D from that axis's two lines.

    For a field along the axis, ``f± = D ± √((γB)² + E²)``, so
    ``B∥ = √(((f₊ − f₋)/2)² − E²)/γ`` and ``D = (f₊ + f₋)/2``.  Off-axis fields bias both (see
    :func:`axis_field_components` and :func:`field_from_transitions` for the exact inversion).

    Parameters
    ----------
    f_low, f_high
        The two lines in Hz (scalars or arrays that broadcast; their order does not matter).
    E
        Transverse splitting in Hz.

    Returns
    -------
    (B_parallel, D)
        |B∥| in T (its sign is not measurable) and D in Hz.  NaN inputs give NaN.

    Examples
    --------
    >>> b, d = axial_field(2841.968e6, 2898.032e6)
    >>> round(b * 1e3, 4), d / 1e6
    (1.0, 2870.0)
    """
    lo = np.asarray(f_low, dtype=float)
    hi = np.asarray(f_high, dtype=float)
    half = 0.5 * np.abs(hi - lo)
    b = np.sqrt(np.maximum(half * half - float(E) ** 2, 0.0)) / GAMMA_NV_HZ_PER_T
    d = 0.5 * (lo + hi)
    return (float(b), float(d)) if np.ndim(b) == 0 else (b, d)


def axis_field_components(
    f_low: ArrayLike, f_high: ArrayLike, D: ArrayLike = ZFS_HZ
) -> tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]:
    """|B∥| and |B⊥| of one NV axis from its two lines, exact for E = 0.

    With the levels λ0 (ms ≈ 0), λ0 + f₋, λ0 + f₊ and trace 2D, the invariants of the
    Hamiltonian give ``|b|² = D² − c₁`` and ``b⊥² = −det(H)/D`` (b = γB).  They are evaluated in
    terms of u = f₋ − D, v = f₊ − D, s = u + v so that nothing cancels::

        |b|²  = D s/3 + s²/9 − w,      w = (u − s/3)(v − s/3)
        b⊥²   = (s/3) (D + s/3 + w/D)

    Near the axis B⊥ is poorly determined: it follows from the shift of the lines' midpoint,
    ≈ (3/2)·b⊥²/D, so a midpoint error δ gives |B⊥| ≈ √(2Dδ/3)/γ (0.4 mT for 10 kHz).  Values
    that noise pushes below zero are clipped to zero.

    Parameters
    ----------
    f_low, f_high
        The axis's two lines in Hz (broadcast; order does not matter).
    D
        Zero-field splitting in Hz.

    Returns
    -------
    (B_parallel, B_perp)
        Magnitudes in T.
    """
    lo = np.asarray(f_low, dtype=float)
    hi = np.asarray(f_high, dtype=float)
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    d = np.asarray(D, dtype=float)
    u, v = lo - d, hi - d
    third = (u + v) / 3.0
    w = (u - third) * (v - third)
    b2 = d * third + third * third - w
    bperp2 = third * (d + third + w / d)
    bpar2 = b2 - bperp2
    scale = GAMMA_NV_HZ_PER_T
    b_par = np.sqrt(np.maximum(bpar2, 0.0)) / scale
    b_perp = np.sqrt(np.maximum(bperp2, 0.0)) / scale
    return (float(b_par), float(b_perp)) if np.ndim(b_par) == 0 else (b_par, b_perp)


@dataclass(frozen=True)
class FieldEstimate:
    """The field recovered from ODMR lines by :func:`field_from_transitions`.

    Attributes
    ----------
    field
        Field vector (3,) in T, in the frame of the ``axes`` given (crystal frame by default).
    D, E
        Zero-field splitting (fitted, or as given) and the transverse splitting used, Hz.
    residuals
        Measured minus model line positions in Hz, shaped like the input lines.  A measured
        line standing for several coinciding model lines is compared with their mean.
    model_lines
        (n_axes, 2) model transitions of each axis at the solution, Hz.
    assignment
        (n_axes, 2) integers: for each model line, the index of the measured line it was
        matched to (into the flattened input).
    covariance
        (3, 3) covariance of ``field`` in T², when line uncertainties were given, else None.
    D_error
        Standard error of D in Hz when D was fitted and uncertainties were given, else None.
    parameter_covariance
        Covariance of (Bx, By, Bz[, D]) in T and Hz, or None.
    chi2
        Σ (residual/σ)² when uncertainties were given, else None.
    equivalent_fields
        (m, 3): every field (this one included) that gives the same lines — within the line
        uncertainty, or 1 Hz without one — under the symmetries of the axes: ±B for assigned
        lines (more on symmetric directions), up to 48 signed permutations for unassigned
        ones.
    assigned
        True when the lines were given per axis.
    success
        True when the fit converged and the parameters are determined (full-rank Jacobian).
    message
        What happened, in words.
    D_fitted
        True when D was fitted (``D=None``), False when it was held fixed.
    alternatives
        Other solutions ``(field, D)`` that reproduce the lines as well but are not symmetric
        images of this one.  This happens with merged lines (e.g. 4 lines for a field near
        [111], which a field in a {110} plane with another D can also produce); a ``guess``
        picks among all of them.
    """

    field: NDArray[np.float64]
    D: float
    E: float
    residuals: NDArray[np.float64]
    model_lines: NDArray[np.float64]
    assignment: NDArray[np.int64]
    covariance: NDArray[np.float64] | None
    D_error: float | None
    parameter_covariance: NDArray[np.float64] | None
    chi2: float | None
    equivalent_fields: NDArray[np.float64]
    assigned: bool
    success: bool
    message: str
    D_fitted: bool = True
    alternatives: tuple[tuple[NDArray[np.float64], float], ...] = ()

    @property
    def field_errors(self) -> NDArray[np.float64] | None:
        """Standard errors of the three components in T, or None."""
        return None if self.covariance is None else np.sqrt(np.diag(self.covariance))

    @property
    def magnitude(self) -> float:
        """|B| in T."""
        return float(np.linalg.norm(self.field))

    @property
    def magnitude_error(self) -> float | None:
        """Standard error of |B| in T (linear propagation), or None."""
        if self.covariance is None or self.magnitude == 0:
            return None
        unit = self.field / self.magnitude
        return float(np.sqrt(max(unit @ self.covariance @ unit, 0.0)))


@dataclass
class _Fit:
    x: NDArray[np.float64]  # γB in MHz (3), then D in MHz if fitted
    assignment: NDArray[np.intp]  # (2n,) model line -> measured line
    cost: float
    lines: NDArray[np.float64]  # (2n,) model lines at x, MHz
    jac: NDArray[np.float64]  # (2n, p) their derivatives


class _Problem:
    """Measured lines, their weights and the model; the fitting machinery."""

    def __init__(
        self,
        lines: NDArray[np.float64],
        sigma: NDArray[np.float64] | None,
        axes: NDArray[np.float64],
        E: float,
        D: float | None,
        assigned: bool,
    ) -> None:
        self.y = lines / _MHZ
        self.sigma = None if sigma is None else sigma / _MHZ
        # without uncertainties every line weighs as if σ = 1 MHz
        self.s = np.ones_like(self.y) if sigma is None else self.sigma
        self.axes = axes
        self.n_axes = axes.shape[0]
        self.E = E
        self.D_fixed = D
        self.assigned = assigned
        self.frames = _frames(axes)  # (n, 3, 3): rows x, y, z of each NV frame
        self.to_frame = [self.frames[:, k, :].T.copy() for k in range(3)]  # (3, n) each
        self.e = E / _MHZ
        if assigned:  # model line (axis, low/high) -> the input line; pairs may be in any order
            pairs = self.y.reshape(-1, 2)
            self.fixed = (np.argsort(pairs, axis=1, kind="stable")
                          + 2 * np.arange(pairs.shape[0])[:, None]).ravel()

    # -- model ---------------------------------------------------------------------------
    def split(self, x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Field in T and D in Hz for parameters x (any leading batch shape)."""
        b = x[..., :3] * (_MHZ / GAMMA_NV_HZ_PER_T)
        d = x[..., 3] * _MHZ if self.D_fixed is None else np.full(x.shape[:-1], self.D_fixed)
        return b, d

    def _levels(self, x: NDArray[np.float64]):
        """NV-frame field (bx, by, bz), D, and λ0, f₋, f₊ of every axis, in MHz, for parameters
        x (…, p): the closed form of :func:`transition_frequencies`, evaluated in MHz."""
        xb = x[..., :3]
        bx, by, bz = xb @ self.to_frame[0], xb @ self.to_frame[1], xb @ self.to_frame[2]
        d = x[..., 3:4] if self.D_fixed is None else self.D_fixed / _MHZ
        return (bx, by, bz), d, _levels_from_frame_field(bx, by, bz, d, self.e)

    def model(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Model lines in MHz, shape (..., 2·n_axes) (axis-major, low then high)."""
        n = self.n_axes
        flat = x.reshape(-1, x.shape[-1])
        out = np.empty((flat.shape[0], 2 * n))
        rows = max(1, _BLOCK // n)  # blocks that stay in the CPU cache, as transition_frequencies
        for start in range(0, flat.shape[0], rows):
            _, _, (_, low, high) = self._levels(flat[start:start + rows])
            out[start:start + rows, 0::2] = low
            out[start:start + rows, 1::2] = high
        return out.reshape(*x.shape[:-1], 2 * n)

    def lines_jacobian(self, x: NDArray[np.float64]) -> tuple[NDArray[np.float64],
                                                               NDArray[np.float64]]:
        """Model lines (2n,) in MHz for one parameter vector and their exact derivatives
        d(lines)/dx (2n, p).

        The lowest level λ0 is a root of the characteristic polynomial
        P(λ) = λ³ − 2Dλ² + (D² − |b|² − E²)λ + D b⊥² − E(bx² − by²), so
        dλ0/dq = −(∂P/∂q)/P'(λ0) with P'(λ0) = f₋f₊ (the product of the gaps to the other
        levels); the lines are f∓ = c ∓ s with c = D − 3λ0/2 and
        (2s)² = 4(|b|² + E²) + λ0(4D − 3λ0), differentiated as written.  Where two levels
        coincide (f₋ = f₊ at b = 0, or the level anticrossing) the lines are not differentiable
        and central differences (1 kHz steps) stand in.
        """
        fit_d = self.D_fixed is None
        (bx, by, bz), d, (lam0, low, high) = self._levels(x)
        n = self.n_axes
        lines = np.empty(2 * n)
        lines[0::2] = low
        lines[1::2] = high
        e = self.e
        jac = np.empty((2 * n, 4 if fit_d else 3))
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_slope = -1.0 / (low * high)  # −1/P'(λ0)
            inv_s = 1.0 / (4.0 * (high - low))  # 1/(8s)
            # dλ0/d(bx, by, bz) from ∂P/∂b at λ0, per axis (n, 3)
            dlam = np.empty((n, 3))
            dlam[:, 0] = bx * (d - e - lam0)
            dlam[:, 1] = by * (d + e - lam0)
            dlam[:, 2] = -bz * lam0
            dlam *= (2.0 * inv_slope)[:, None]
            ds = dlam * ((4.0 * d - 6.0 * lam0) * inv_s)[:, None]  # ds/db
            ds[:, 0] += 8.0 * bx * inv_s
            ds[:, 1] += 8.0 * by * inv_s
            ds[:, 2] += 8.0 * bz * inv_s
            dc = -1.5 * dlam  # dc/db
            # chain rule to the crystal frame: b_k = (row k of the axis's frame)·x
            jac[0::2, :3] = np.einsum("nk,nkj->nj", dc - ds, self.frames)
            jac[1::2, :3] = np.einsum("nk,nkj->nj", dc + ds, self.frames)
            if fit_d:
                dlam_d = (2.0 * lam0 * (d - lam0) + bx * bx + by * by) * inv_slope
                ds_d = ((4.0 * d - 6.0 * lam0) * dlam_d + 4.0 * lam0) * inv_s
                dc_d = 1.0 - 1.5 * dlam_d
                jac[0::2, 3] = dc_d - ds_d
                jac[1::2, 3] = dc_d + ds_d
        if not np.isfinite(jac).all():
            jac = self.jacobian_fd(x)
        return lines, jac

    def jacobian_fd(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """d(model lines)/dx by central differences (step 1 kHz)."""
        h = 1e-3
        steps = np.eye(x.size) * h
        plus = self.model(x[None, :] + steps)
        minus = self.model(x[None, :] - steps)
        return ((plus - minus) / (2 * h)).T  # (2n, p)

    def weights(self, a: NDArray[np.intp]) -> NDArray[np.float64]:
        """Per-model-line weights: a measured line shared by m model lines counts once."""
        mult = np.bincount(a, minlength=self.y.size)
        return 1.0 / (self.s[a] ** 2 * mult[a])

    def residual(self, x: NDArray[np.float64], a: NDArray[np.intp]) -> NDArray[np.float64]:
        return (self.model(x) - self.y[a]) * np.sqrt(self.weights(a))

    def cost(self, x: NDArray[np.float64], a: NDArray[np.intp]) -> float:
        r = self.residual(x, a)
        return float(r @ r)

    # -- assignment ------------------------------------------------------------------------
    def assign(self, model: NDArray[np.float64], weighted: bool = True) -> NDArray[np.intp]:
        """Match model lines to measured lines: every measured line gets at least one model
        line (optimal one-to-one matching first), the rest go to their nearest line.  The
        distances are in units of the line uncertainties, or in MHz (``weighted=False``: for
        a model still far from the lines, where a precise line would otherwise draw the
        nearest model line to it across the others)."""
        if self.assigned:
            return self.fixed
        diff = model[None, :] - self.y[:, None]
        cost = (diff / self.s[:, None]) ** 2 if weighted else diff * diff
        a = np.argmin(cost, axis=0)
        rows, cols = linear_sum_assignment(cost)
        a[cols] = rows
        return a

    # -- fitting ----------------------------------------------------------------------------
    def refine(self, x0: NDArray[np.float64], budget: int = _EVALUATIONS) -> _Fit:
        """Least squares from x0, re-assigning lines until the assignment is stable (the
        first assignment by distance, the later ones in units of the uncertainties), with at
        most ``budget`` model evaluations in all: a start in the basin of a solution needs a
        few tens; one that wanders off (e.g. a guess of 1 T) is given up."""
        x = np.asarray(x0, dtype=float)
        a = self.assign(self.model(x), weighted=False)
        for _ in range(20):
            x, cost, lines, jac, used = self.least_squares(x, a, budget)
            budget -= used
            new = self.assign(lines)
            if np.array_equal(new, a) or budget <= 0:
                break
            a = new
            cost = self.cost(x, a)
        return _Fit(x, a, cost, lines, jac)

    def least_squares(
        self, x: NDArray[np.float64], a: NDArray[np.intp], max_evaluations: int = _EVALUATIONS
    ) -> tuple[NDArray[np.float64], float, NDArray[np.float64], NDArray[np.float64], int]:
        """Levenberg–Marquardt for the assignment ``a`` with the exact Jacobian: Marquardt's
        scaling (damping ∝ diag JᵀJ), Nielsen's damping update.  Stops when a step no longer
        changes x (relative 1e-12) or the cost (relative 1e-14), or after
        ``max_evaluations`` evaluations of the model.  Returns x, its cost, the model lines
        and Jacobian there, and the number of evaluations used."""
        sw = np.sqrt(self.weights(a))
        y = self.y[a]
        lines, jac = self.lines_jacobian(x)
        r = (lines - y) * sw
        jw = jac * sw[:, None]
        cost = float(r @ r)
        mu, nu = 1e-3, 2.0
        used = 1
        while used < max_evaluations:
            g = jw.T @ r
            h = jw.T @ jw
            diag = np.diag(h)
            scale = np.maximum(diag, 1e-12 * max(float(diag.max()), 1e-300))
            try:
                step = np.linalg.solve(h + np.diag(mu * scale), -g)
            except np.linalg.LinAlgError:
                mu, nu = mu * nu, nu * 2.0
                if mu > 1e16:
                    break
                continue
            if not np.isfinite(step).all():
                break
            if np.sqrt(step @ step) <= 1e-12 * (np.sqrt(x @ x) + 1e-12):
                break
            predicted = -(2.0 * (g @ step) + step @ h @ step)  # decrease of the linear model
            if predicted <= 0.0:
                break
            x_new = x + step
            lines_new, jac_new = self.lines_jacobian(x_new)
            used += 1
            r_new = (lines_new - y) * sw
            cost_new = float(r_new @ r_new)
            rho = (cost - cost_new) / predicted
            if rho > 0.0 and np.isfinite(cost_new):
                done = cost - cost_new <= 1e-14 * cost
                x, r, cost, lines, jac = x_new, r_new, cost_new, lines_new, jac_new
                jw = jac * sw[:, None]
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                if done or cost == 0.0:
                    break
            else:
                mu, nu = mu * nu, nu * 2.0
                if mu > 1e16:
                    break
        return x, cost, lines, jac, used


def _as_lines(freqs: ArrayLike, n_axes: int) -> tuple[NDArray[np.float64], bool]:
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
            f"lines must be an ({n_axes}, 2) array (two lines per axis, assigned) or a flat "
            f"array of 1 to {2 * n_axes} unassigned lines; got shape {lines.shape}"
        )
    if not np.all(np.isfinite(lines)) or np.any(lines <= 0):
        raise ValueError(f"lines must be finite positive frequencies in Hz; got {lines.tolist()}")
    return lines, assigned


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
    if not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"sigma must be positive finite line uncertainties in Hz, not {sigma!r}")
    return np.array(s, dtype=float).ravel()


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


def _check_determinable(n_axes: int, n_lines: int, assigned: bool, fit_d: bool) -> None:
    if n_axes == 1:
        raise ValueError(
            "the two lines of one NV axis fix only |B∥| and |B⊥|, not the field vector; use "
            "axis_field_components(f_low, f_high, D) for those, or give lines of 2 or more axes"
        )
    if not assigned and n_lines < 2:
        raise ValueError("one line cannot determine a field: give the lines of at least two "
                         "axes (both transitions of each)")
    if n_axes == 2 and fit_d:
        # |B|² from either axis changes with D in the same way, so two axes leave a
        # one-parameter family of (B, D) that fits exactly
        raise ValueError(
            "the lines of two axes fix the field only for a known D: pass D (e.g. "
            "zfs_at(temperature)) or give the lines of a third axis"
        )


def _sign_patterns(n: int) -> NDArray[np.float64]:
    """(2^(n-1), n) sign patterns with the first sign +1 (B and −B are equivalent)."""
    rest = np.array(list(product((1.0, -1.0), repeat=n - 1))).reshape(-1, n - 1)
    return np.concatenate([np.ones((rest.shape[0], 1)), rest], axis=1)


def _fields_from_pairs(
    pairs: NDArray[np.float64], d: NDArray[np.float64], axes: NDArray[np.float64], E: float
) -> NDArray[np.float64]:
    """Candidate fields (…, S, 3) in T from per-axis line pairs (…, n, 2) in Hz and D (…):
    |B∥|, |B⊥| per axis (E = 0 inversion), every projection sign pattern, least squares."""
    b_par, b_perp = axis_field_components(pairs[..., 0], pairs[..., 1], d[..., None])
    if E:  # strain adds E² to the apparent |b|²: remove it from the projections
        excess = (E / GAMMA_NV_HZ_PER_T) ** 2
        b_par = np.sqrt(np.maximum(b_par**2 - excess, 0.0))
    signs = _sign_patterns(axes.shape[0])  # (S, n)
    proj = b_par[..., None, :] * signs  # (…, S, n)
    fields = proj @ np.linalg.pinv(axes).T  # least squares of axes·B = proj
    rank = np.linalg.matrix_rank(axes)
    if rank < 3:  # two axes: the component normal to their plane comes from |B|
        normal = np.linalg.svd(axes)[2][-1]
        total2 = np.mean(b_par**2 + b_perp**2, axis=-1)[..., None]
        extra = np.sqrt(np.maximum(total2 - np.sum(fields**2, axis=-1), 0.0))[..., None]
        fields = np.concatenate([fields + extra * normal, fields - extra * normal], axis=-2)
    return fields


def _d_grid(problem: _Problem, step: float, half_width: float) -> NDArray[np.float64]:
    if problem.D_fixed is not None:
        return np.array([problem.D_fixed])
    return ZFS_HZ + np.arange(-half_width, half_width + step / 2, step)


def _pack(field: NDArray[np.float64], d: NDArray[np.float64], problem: _Problem):
    x = field * (GAMMA_NV_HZ_PER_T / _MHZ)
    if problem.D_fixed is None:
        x = np.concatenate([x, (d / _MHZ)[..., None]], axis=-1)
    return x


def _best_rows(x: NDArray[np.float64], cost: NDArray[np.float64], count: int):
    order = np.argsort(cost, axis=None)[: 4 * count]
    picked: list[NDArray[np.float64]] = []
    for idx in order:
        cand = x.reshape(-1, x.shape[-1])[idx]
        if all(np.max(np.abs(cand - p)) > 1e-3 for p in picked):
            picked.append(cand)
        if len(picked) == count:
            break
    return picked


def _starts_assigned(problem: _Problem) -> list[NDArray[np.float64]]:
    pairs = (problem.y[problem.fixed] * _MHZ).reshape(problem.n_axes, 2)
    d = _d_grid(problem, 1e6, 12e6)  # (G,)
    fields = _fields_from_pairs(np.broadcast_to(pairs, (d.size, *pairs.shape)), d,
                                problem.axes, problem.E)  # (G, S, 3)
    x = _pack(fields, np.broadcast_to(d[:, None], fields.shape[:-1]), problem)
    a = problem.fixed
    cost = np.sum(((problem.model(x) - problem.y[a]) / problem.s[a]) ** 2, axis=-1)
    return _best_rows(x, cost, 2)


def _matchings(items: tuple[int, ...]) -> list[list[tuple[int, int]]]:
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for i, partner in enumerate(rest):
        for tail in _matchings(rest[:i] + rest[i + 1:]):
            out.append([(first, partner), *tail])
    return out


@lru_cache(maxsize=8)
def _matching_positions(n: int) -> NDArray[np.intp]:
    """(P, n, 2): every split of 2n sorted positions into n pairs (each pair ascending)."""
    out = np.array(_matchings(tuple(range(2 * n))), dtype=np.intp)
    out.setflags(write=False)
    return out


def _starts_pairings(problem: _Problem) -> list[NDArray[np.float64]]:
    """Every way to split 2n unassigned lines into per-axis pairs, for every order of axes."""
    n = problem.n_axes
    y = problem.y * _MHZ
    order = np.argsort(y)
    matchings = order[_matching_positions(n)]  # (P, n, 2), pairs ascending
    perms = _axis_orders(problem.axes)
    assign = matchings[:, perms].reshape(-1, n, 2)  # (C, n, 2) measured index per model line
    ascending = (y[assign[..., 0]] <= y[assign[..., 1]])[..., None]
    assign = np.where(ascending, assign, assign[..., ::-1])
    d = _d_grid(problem, 5e6, 10e6)
    pairs = y[assign]  # (C, n, 2)
    fields = _fields_from_pairs(pairs[None], np.broadcast_to(d[:, None], (d.size, pairs.shape[0])),
                                problem.axes, problem.E)  # (G, C, S, 3)
    dd = np.broadcast_to(d[:, None, None], fields.shape[:-1])
    x = _pack(fields, dd, problem)
    model = problem.model(x)  # (G, C, S, 2n)
    target = problem.y[assign.reshape(-1, 2 * n)][None, :, None, :]
    scale = problem.s[assign.reshape(-1, 2 * n)][None, :, None, :]
    cost = np.sum(((model - target) / scale) ** 2, axis=-1)
    return _best_rows(x, cost, 4)


def _axis_orders(axes: NDArray[np.float64]) -> NDArray[np.intp]:
    """The orders in which line pairs must be tried on the axes.  When the axes' symmetries
    permute them in every possible way (the four NV axes: the cubic group acts as all 24
    permutations), one order stands for all: the others give symmetric images."""
    return _axis_orders_cached(axes.tobytes(), axes.shape[0])


@lru_cache(maxsize=32)
def _axis_orders_cached(key: bytes, n: int) -> NDArray[np.intp]:
    axes = np.frombuffer(key, dtype=float).reshape(n, 3)
    signed = np.concatenate([axes, -axes])
    realised = set()
    for m in axis_symmetries(axes):
        images = axes @ m.T
        nearest = np.argmin(np.linalg.norm(images[:, None] - signed[None], axis=-1), axis=1)
        realised.add(tuple(int(j) % n for j in nearest))
    every = list(permutations(range(n)))
    out = np.array([every[0]] if len(realised) == len(every) else every)
    out.setflags(write=False)
    return out


def _fibonacci_sphere(count: int) -> NDArray[np.float64]:
    i = np.arange(count) + 0.5
    z = 1 - 2 * i / count
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=-1)


def _grid_directions(axes: NDArray[np.float64], count: int = 4800) -> NDArray[np.float64]:
    """Unit vectors covering the sphere once modulo the axes' symmetry group (for the NV axes
    the 1/48 wedge), so that grid candidates are not repeats of each other."""
    group = axis_symmetries(axes)
    directions = _fibonacci_sphere(count)
    images = np.einsum("gij,nj->ngi", group, directions)  # (N, m, 3)
    weights = np.zeros(3)
    for i, axis in enumerate(axes[:3]):
        weights = weights + 10.0 ** (-3 * i) * axis
    canonical = images[np.arange(len(directions)), np.argmax(images @ weights, axis=1)]
    keep = np.all(np.isclose(canonical, directions, atol=1e-12), axis=1)
    return directions[keep] if np.any(keep) else directions


def _starts_grid(problem: _Problem) -> list[NDArray[np.float64]]:
    """Coarse search over directions and magnitudes (any number of lines, any axes), scored
    by the distance of every model line to its nearest measured line and vice versa."""
    y = problem.y * _MHZ
    spread = max(np.max(np.abs(y - ZFS_HZ)), 1e6) / GAMMA_NV_HZ_PER_T
    magnitudes = spread * np.geomspace(0.6, 4.0, 14)
    directions = _grid_directions(problem.axes)
    d = _d_grid(problem, 5e6, 10e6)
    fields = magnitudes[:, None, None] * directions[None, :, :]  # (M, N, 3)
    fields = np.broadcast_to(fields[None], (d.size, *fields.shape))
    dd = np.broadcast_to(d[:, None, None], fields.shape[:-1])
    x = _pack(fields, dd, problem)
    model = problem.model(x)  # (..., 2n)
    dist = ((model[..., None, :] - problem.y[:, None]) / problem.s[:, None]) ** 2  # (..., k, 2n)
    cost = np.sum(np.min(dist, axis=-2), axis=-1) + np.sum(np.min(dist, axis=-1), axis=-1)
    return _best_rows(x, cost, 8)


def field_from_transitions(
    freqs: ArrayLike,
    *,
    D: float | None = None,
    E: float = 0.0,
    axes: ArrayLike = NV_AXES,
    guess: ArrayLike | None = None,
    sigma: ArrayLike | None = None,
    max_residual: float | None = None,
) -> FieldEstimate:
    """Recover the field vector (and D) from measured ODMR lines.

    Parameters
    ----------
    freqs
        Line positions in Hz, either

        * an (n_axes, 2) array: the two lines of each axis, in the order of ``axes`` (each
          pair in any order), or
        * a flat array of up to 2·n_axes unassigned lines.  Every transition of every axis
          must be among them; lines closer than the resolution may be given once (a line then
          stands for all the transitions that coincide there, e.g. 2 lines for a field along
          [100]).  Lines outside the sweep are not supported: give only the axes you saw.
    D
        Zero-field splitting in Hz, or None (default) to fit it (a temperature readout).
    E
        Transverse (strain) splitting in Hz, held fixed.
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
        Line uncertainties in Hz: one value or one per line.  They weight the fit and give
        ``covariance``, ``D_error`` and ``chi2``; without them those are None.
    max_residual
        Largest acceptable line residual in Hz (default 5σ, or 1 MHz without ``sigma``).

    Returns
    -------
    FieldEstimate

    Raises
    ------
    ValueError
        Wrong shapes, non-finite or non-positive lines or settings; lines that cannot
        determine the vector (one axis, a single line); lines that no field reproduces within
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
    lines, assigned = _as_lines(freqs, n_axes)
    sig = _as_sigma(sigma, lines.shape)
    d_fixed = None if D is None else _scalar(D, "D", positive=True)
    e = _scalar(E, "E", positive=False)
    guess_arr = None
    if guess is not None:
        guess_arr = np.asarray(guess, dtype=float)
        if guess_arr.shape != (3,) or not np.all(np.isfinite(guess_arr)):
            raise ValueError(f"guess must be a finite field vector (3,) in T, not {guess!r}")
    _check_determinable(n_axes, lines.size, assigned, d_fixed is None)

    problem = _Problem(lines.ravel(), sig, axes_arr, e, d_fixed, assigned)
    limit = _residual_limit(max_residual, sig)

    fits, best = _search(problem, guess_arr, limit)

    # Every distinct solution that fits as well as the best one (degenerate lines can be
    # explained by different fields), each with its symmetric images.  Report the field
    # nearest the guess, or the canonical image of the best solution; then polish the fit
    # there so that assignment and errors belong to it.
    solutions = _equally_good(problem, fits, best, sig)
    image_sets = [_equivalent_fields(problem, *problem.split(f.x), sig) for f in solutions]
    index = 0
    if guess_arr is not None:
        index = int(np.argmin([np.min(np.linalg.norm(im - guess_arr, axis=1))
                               for im in image_sets]))
    pick, images = solutions[index], image_sets[index]
    chosen = _choose(images, guess_arr, axes_arr)
    field, d = problem.split(pick.x)
    if not np.allclose(chosen, field, atol=1e-12):
        polished = problem.refine(_pack(chosen, np.array(d), problem))
        if polished.cost <= pick.cost + _slack(problem, sig):
            pick = polished
    others = tuple(
        (_choose(im, None, axes_arr), float(problem.split(f.x)[1]))
        for k, (f, im) in enumerate(zip(solutions, image_sets))
        if k != index
    )
    return _result(problem, pick, images, sig, lines.shape, others)


def _search(problem: _Problem, guess, limit: float) -> tuple[list[_Fit], _Fit]:
    """Fit from every start (guess, closed-form inversions or grid) and return all fits and
    the best; raise ValueError when even the best misses a line by more than ``limit``."""
    n_axes, n_lines, assigned = problem.n_axes, problem.y.size, problem.assigned
    fits: list[_Fit] = []
    if guess is not None:
        first = problem.refine(_pack(guess, np.array(problem.D_fixed or ZFS_HZ), problem))
        if _explains(problem, first, limit):
            return [first], first
        fits.append(first)
    starts: list[NDArray[np.float64]] = []
    if assigned:
        starts += _starts_assigned(problem)
    elif n_lines == 2 * n_axes:
        starts += _starts_pairings(problem)
    else:
        starts += _starts_grid(problem)
    fits += [problem.refine(x0) for x0 in starts]
    best = min(fits, key=lambda f: f.cost)
    if problem.E != 0:
        # Strain breaks the axes' symmetry a little, so the symmetric images of a solution
        # are near-solutions that the (strain-free) starting guesses cannot tell apart.
        fits += [problem.refine(x0) for x0 in _image_starts(problem, best)]
        best = min(fits, key=lambda f: f.cost)
    if not assigned and _worst(problem, best) > limit:
        fits += [problem.refine(x0) for x0 in _starts_grid(problem)]
        best = min(fits, key=lambda f: f.cost)
    worst = _worst(problem, best)
    if worst > limit:
        model = problem.model(best.x) * _MHZ
        j = int(np.argmax(np.abs(model - problem.y[best.assignment] * _MHZ)))
        hint = "" if assigned or n_lines == 2 * n_axes else (
            f" (unassigned lines must include both transitions of all {n_axes} axes, "
            "coinciding ones given once; give fewer axes for fewer lines)")
        raise ValueError(
            f"no field reproduces these lines: the best fit misses the line at "
            f"{problem.y[best.assignment[j]]:.4f} MHz by {worst / 1e3:.1f} kHz (limit "
            f"{limit / 1e3:.1f} kHz); check the lines, D, E and the axes{hint}"
        )
    return fits, best


#: Tail probability of the χ² up to which the fit from the guess is accepted without the
#: global search (see :func:`_explains`).  Small, so that line uncertainties somewhat
#: underestimated by the line fits still pass: χ² < 33.4 for 4 degrees of freedom.
_CHI2_TAIL = 1e-6


def _explains(problem: _Problem, fit: _Fit, limit: float) -> bool:
    """Whether the fit from the guess can be taken without the global search.

    * The lines of four axes or more, every one given (one per transition), and no strain:
      merged lines, the lines of only three axes, and strained lines (whose symmetric images
      are near-solutions, with a shallow valley of them for a field near an axis) often have
      other solutions that the global search finds and reports in
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
    if (problem.n_axes < 4 or problem.E != 0
            or not (problem.assigned or problem.y.size == 2 * problem.n_axes)):
        return False
    if _worst(problem, fit) > limit:
        return False
    jac = fit.jac * np.sqrt(problem.weights(fit.assignment))[:, None]
    sv = np.linalg.svd(jac, compute_uv=False)
    if not sv[-1] > 1e-5 * sv[0]:
        return False
    allowed = chdtri(problem.y.size - fit.x.size, _CHI2_TAIL)  # 4 or more degrees of freedom
    if fit.cost > (allowed if problem.sigma is not None else _slack(problem, None)):
        return False
    return not _rival_images(problem, fit, 4.0 * (fit.cost + allowed))


def _rival_images(problem: _Problem, fit: _Fit, bound: float) -> bool:
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
    other = np.max(np.abs(lines - own), axis=-1) * _MHZ >= 1.0  # not an exact image (1 Hz)
    cost = np.sum(((lines - target) / s) ** 2, axis=-1)
    seen: list[float] = []
    for k in np.argsort(cost):
        if cost[k] >= bound:
            break
        if not other[k] or any(abs(cost[k] - c) <= 1e-6 * (1.0 + c) for c in seen):
            continue
        seen.append(float(cost[k]))
        rival = problem.refine(x[k])
        if (rival.cost < fit.cost + _slack(problem, problem.sigma)
                and not _same_solution(problem, rival, fit)):
            return True
    return False


def _slack(problem: _Problem, sig) -> float:
    """Cost difference below which two fits are equally good: Δχ² = 1 with uncertainties,
    ~1 kHz rms without (the cost is then in MHz²)."""
    return 1.0 if sig is not None else 1e-6 * problem.y.size


def _equally_good(problem: _Problem, fits: list[_Fit], best: _Fit, sig) -> list[_Fit]:
    """Fits as good as the best (Δχ² < 1 with uncertainties, ~1 kHz rms without), one per
    class of symmetric images, best first."""
    slack = _slack(problem, sig)
    good = sorted((f for f in fits if f.cost <= best.cost + slack), key=lambda f: f.cost)
    kept: list[_Fit] = []
    for f in good:
        if not any(_same_solution(problem, f, k) for k in kept):
            kept.append(f)
    return kept


def _same_solution(problem: _Problem, fit: _Fit, other: _Fit) -> bool:
    """Whether two fits are one solution: the same D (within 1 kHz) and fields equal up to a
    symmetry of the axes (within 1e-6 relative)."""
    field, d = problem.split(fit.x)
    other_field, other_d = problem.split(other.x)
    size = 1e-10 + 1e-6 * np.linalg.norm(field)
    return bool(abs(d - other_d) < 1e3 and np.min(np.linalg.norm(
        axis_symmetries(problem.axes) @ other_field - field, axis=1)) < size)


def _image_starts(problem: _Problem, fit: _Fit) -> list[NDArray[np.float64]]:
    """One start per class of symmetric images of ``fit`` (images with the same lines before
    refinement are equivalent, so one of each class is enough)."""
    field, d = problem.split(fit.x)
    images = axis_symmetries(problem.axes) @ field
    x = _pack(images, np.full(len(images), d), problem)
    cost = np.array([problem.cost(xi, problem.assign(problem.model(xi))) for xi in x])
    starts: list[NDArray[np.float64]] = []
    seen: list[float] = []
    for xi, c in zip(x, cost):
        if all(abs(c - s) > 1e-6 * (1.0 + abs(s)) for s in seen):
            seen.append(c)
            starts.append(xi)
    return starts[1:] if len(starts) > 1 else []  # the first class is the fit itself


def _residual_limit(max_residual: float | None, sig) -> float:
    if max_residual is not None:
        return _scalar(max_residual, "max_residual", positive=True)
    return DEFAULT_MAX_RESIDUAL_HZ if sig is None else 5.0 * float(np.max(sig))


def _worst(problem: _Problem, fit: _Fit) -> float:
    """Largest distance (Hz) between a model line and the measured line it is matched to."""
    return float(np.max(np.abs(fit.lines - problem.y[fit.assignment]))) * _MHZ


def _equivalent_fields(problem: _Problem, field, d: float, sig) -> NDArray[np.float64]:
    # exact symmetries leave the lines equal to ~1e-6 Hz; with uncertainties, images closer
    # than the smallest one cannot be told apart either
    tol = 1.0 if sig is None else max(1.0, float(np.min(sig)))
    images = axis_symmetries(problem.axes) @ field  # (m, 3)
    both = np.concatenate([np.asarray(field, dtype=float)[None], images])
    lines = problem.model(_pack(both, np.full(len(both), d), problem)) * _MHZ  # (m + 1, 2n)
    lines, image_lines = lines[0], lines[1:]
    if problem.assigned:
        diff = np.max(np.abs(image_lines - lines), axis=-1)
    else:
        diff = np.max(np.abs(np.sort(image_lines, axis=-1) - np.sort(lines)), axis=-1)
    keep = images[diff < tol]
    # drop repeats (a field on a symmetry element is its own image)
    gap = np.max(np.abs(keep[:, None, :] - keep[None, :, :]), axis=-1)
    same = gap <= 1e-12 + 1e-9 * np.linalg.norm(field)
    first = np.argmax(same, axis=1)  # index of the first copy of each image
    return keep[first == np.arange(len(keep))]


def _choose(images: NDArray[np.float64], guess, axes: NDArray[np.float64]):
    if guess is not None:
        return images[np.argmin(np.linalg.norm(images - guess, axis=1))]
    candidates = images
    tol = 1e-12 + 1e-9 * np.linalg.norm(images[0])
    for axis in axes:  # largest projection on axis 0, then axis 1, …
        proj = candidates @ axis
        candidates = candidates[proj >= proj.max() - tol]
        if len(candidates) == 1:
            break
    return candidates[0]


def _result(problem: _Problem, fit: _Fit, images, sig, shape, others) -> FieldEstimate:
    field, d = problem.split(fit.x)
    model = fit.lines  # MHz, (2n,)
    a = fit.assignment
    k = problem.y.size
    mult = np.bincount(a, minlength=k)
    mean_model = np.bincount(a, weights=model, minlength=k) / np.maximum(mult, 1)
    residuals = (problem.y - mean_model) * _MHZ

    jac = fit.jac  # (2n, p): MHz per parameter unit
    w = problem.weights(a)
    jw = jac * np.sqrt(w)[:, None]
    sv = np.linalg.svd(jw, compute_uv=False)
    # a field on a stationary point of some lines (e.g. B ≈ 0, or B along [110] with
    # merged lines) leaves a direction undetermined to first order
    full_rank = sv.size > 0 and sv[-1] > 1e-5 * sv[0]
    fit_d = problem.D_fixed is None
    cov = par_cov = None
    d_err = chi2 = None
    if sig is not None and full_rank:
        # Sandwich covariance: exact for weighted least squares where one measured line may
        # stand for several model lines (its error then enters each of them, correlated).
        bread = np.linalg.inv(jac.T @ (w[:, None] * jac))
        select = np.zeros((a.size, k))
        select[np.arange(a.size), a] = 1.0
        meat_half = (w[:, None] * jac).T @ select  # (p, k)
        meat = meat_half @ np.diag(problem.sigma**2) @ meat_half.T
        cov_x = bread @ meat @ bread
        units = np.full(cov_x.shape[0], _MHZ)
        units[:3] = _MHZ / GAMMA_NV_HZ_PER_T
        par_cov = cov_x * np.outer(units, units)
        cov = par_cov[:3, :3]
        if fit_d:
            d_err = float(np.sqrt(par_cov[3, 3]))
        chi2 = float(np.sum((residuals / (problem.sigma * _MHZ)) ** 2))
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
    return FieldEstimate(
        field=field,
        D=float(d),
        E=problem.E,
        residuals=residuals.reshape(shape),
        model_lines=model.reshape(problem.n_axes, 2) * _MHZ,
        assignment=a.reshape(problem.n_axes, 2).astype(np.int64),
        covariance=cov,
        D_error=d_err,
        parameter_covariance=par_cov,
        chi2=chi2,
        equivalent_fields=images,
        assigned=problem.assigned,
        success=bool(full_rank),
        message=message,
        D_fitted=fit_d,
        alternatives=others,
    )
