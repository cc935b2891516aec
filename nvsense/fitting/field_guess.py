"""A field vector from measured line positions: the seed of the Hamiltonian fit.

Per axis, the two lines (f₋, f₊) of a spin-1 with E = 0 fix |b|² and b⊥² exactly: the levels
are λ0 = (2D − f₋ − f₊)/3, λ0 + f₋, λ0 + f₊, and the characteristic polynomial gives
``D² − |b|² = λ0λ1 + λ0λ2 + λ1λ2`` and ``D b⊥² = −λ0λ1λ2``.  That leaves the sign of each
projection B·nᵢ and the assignment of line pairs to axes, which are tried: pairs are matched
from the sorted lines (all matchings of 2·n_axes lines, or nested pairs with repeats when
lines coincide), each projection sign pattern gives B by least squares, and the candidate
whose predicted lines best match the measured ones wins.

With four equally bright axes the spectrum is the same for B and its 48 signed permutations
(see REFERENCES.md), so the result is returned in a canonical form (|Bx| ≥ |By| ≥ |Bz|, all
≥ 0) or as the equivalent nearest to a given field guess.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares

from nvsense.physics import GAMMA_NV_HZ_PER_T, NV_AXES, ZFS_HZ

from .errors import FitInputError
from .nv_transitions import axis_frames, transitions_into

__all__ = ["axial_transverse", "canonical_field", "field_from_lines", "symmetric_equivalents"]


def axial_transverse(f_low: ArrayLike, f_high: ArrayLike, D: float = ZFS_HZ
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Axial and transverse field (T, both ≥ 0) of one axis from its two lines (Hz), E = 0.

    Exact for the spin-1 Hamiltonian below the level anticrossing; negative squares from
    noisy lines are clipped to zero.
    """
    fm = np.asarray(f_low, dtype=float)
    fp = np.asarray(f_high, dtype=float)
    lam0 = (2.0 * D - fm - fp) / 3.0
    lam1 = lam0 + fm
    lam2 = lam0 + fp
    e2 = lam0 * lam1 + lam0 * lam2 + lam1 * lam2
    e3 = lam0 * lam1 * lam2
    b2 = D * D - e2
    bperp2 = np.maximum(-e3 / D, 0.0)
    bpar2 = np.maximum(b2 - bperp2, 0.0)
    return np.sqrt(bpar2) / GAMMA_NV_HZ_PER_T, np.sqrt(bperp2) / GAMMA_NV_HZ_PER_T


def symmetric_equivalents(B: ArrayLike) -> NDArray[np.float64]:
    """The 48 signed permutations of the field vector ``B`` (shape (48, 3))."""
    B = np.asarray(B, dtype=float)
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            out.append(np.asarray(signs) * B[list(perm)])
    return np.array(out)


def canonical_field(B: ArrayLike, reference: ArrayLike | None = None) -> NDArray[np.float64]:
    """The symmetric equivalent of ``B`` nearest to ``reference``, or the canonical one
    (components non-negative, descending) when no reference is given."""
    B = np.asarray(B, dtype=float)
    if reference is None:
        return np.sort(np.abs(B))[::-1].copy()
    eq = symmetric_equivalents(B)
    return eq[np.argmin(np.sum((eq - np.asarray(reference, dtype=float)) ** 2, axis=1))]


def _predicted_lines(B_T: NDArray[np.float64], D: float, frames: NDArray[np.float64]
                     ) -> NDArray[np.float64]:
    t = np.empty((frames.shape[0], 2))
    dt = np.empty((frames.shape[0], 2, 5))
    transitions_into(np.asarray(B_T, dtype=float) * 1e3, float(D) * 1e-6, 0.0, frames,
                     GAMMA_NV_HZ_PER_T * 1e-9, t, dt)
    return t * 1e6


def _line_mismatch(pred: NDArray[np.float64], lines: NDArray[np.float64]) -> float:
    """Symmetric nearest-line distance² between predicted and measured lines (Hz²)."""
    d = np.abs(pred.ravel()[:, None] - lines[None, :])
    return float(np.sum(d.min(axis=0) ** 2) + np.sum(d.min(axis=1) ** 2))


def _refine(B: NDArray[np.float64], D: float, frames: NDArray[np.float64],
            lines: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least-squares polish of B: each measured line against its nearest predicted line."""

    def residual(b_mT: NDArray[np.float64]) -> NDArray[np.float64]:
        pred = _predicted_lines(b_mT * 1e-3, D, frames).ravel()
        d = lines[:, None] - pred[None, :]
        return d[np.arange(lines.size), np.argmin(np.abs(d), axis=1)] / 1e6

    sol = least_squares(residual, B * 1e3, method="trf", xtol=1e-12, ftol=1e-12)
    refined = sol.x * 1e-3
    if np.sum(residual(refined * 1e3) ** 2) <= np.sum(residual(B * 1e3) ** 2):
        return refined
    return B


def _perfect_matchings(idx: list[int]):
    """All ways to split sorted indices into (low, high) pairs."""
    if not idx:
        yield []
        return
    first = idx[0]
    for j in range(1, len(idx)):
        rest = idx[1:j] + idx[j + 1:]
        for m in _perfect_matchings(rest):
            yield [(first, idx[j]), *m]


def field_from_lines(
    lines: ArrayLike,
    D: float = ZFS_HZ,
    axes: ArrayLike = NV_AXES,
    field_guess: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], float]:
    """Field vector (T, crystal frame) whose lines best match the measured ``lines`` (Hz).

    Parameters
    ----------
    lines
        Measured line positions (any order).  Up to ``2 · n_axes``; fewer when lines of
        several axes coincide.
    D
        Zero-field splitting assumed, Hz.
    axes
        NV axes, shape (n_axes, 3).
    field_guess
        A rough field (T): the symmetric equivalent nearest to it is returned.

    Returns
    -------
    B : ndarray, shape (3,)
        The field, canonical (see :func:`canonical_field`) unless ``field_guess`` is given.
    rms : float
        RMS distance (Hz) between the lines it predicts and the measured lines.
    """
    f = np.sort(np.asarray(lines, dtype=float).ravel())
    f = f[np.isfinite(f)]
    frames = axis_frames(axes)
    ax = frames[:, 2, :]  # the axes themselves (z rows)
    n_axes = ax.shape[0]
    if f.size < 2:
        raise FitInputError(f"need at least 2 line positions to estimate a field, got {f.size}")
    if f.size > 2 * n_axes:
        raise FitInputError(f"got {f.size} line positions but {n_axes} axes have at most "
                            f"{2 * n_axes} lines")
    if n_axes == 1:  # one NV: the field is fixed only up to a rotation about the axis
        bpar, bperp = axial_transverse(f[0], f[-1], D)
        B = float(bpar) * ax[0] + float(bperp) * frames[0, 0, :]
        if field_guess is not None and np.dot(B, field_guess) < 0:
            B = -B
        rms = float(np.sqrt(_line_mismatch(_predicted_lines(B, D, frames), f) / (2 * f.size)))
        return B, rms
    pinv = np.linalg.pinv(ax)  # least-squares B from the projections
    k = f.size
    if k == 2 * n_axes:
        pairings = list(_perfect_matchings(list(range(k))))
        assignments = [tuple(range(n_axes))]
    else:
        nested = [(i, k - 1 - i) for i in range(k // 2)]
        if k % 2:  # a middle line: a pair of its own with each neighbour
            mid = k // 2
            nested += [(mid - 1, mid), (mid, mid + 1)] if k > 1 else []
        pairings = [nested]
        assignments = list(itertools.product(range(len(nested)), repeat=n_axes))
    best = (np.inf, np.zeros(3))
    sign_patterns = np.array(list(itertools.product((1.0, -1.0), repeat=n_axes - 1)))
    sign_patterns = np.hstack([np.ones((len(sign_patterns), 1)), sign_patterns])
    for pairing in pairings:
        lo = np.array([f[i] for i, _ in pairing])
        hi = np.array([f[j] for _, j in pairing])
        bpar, _ = axial_transverse(lo, hi, D)
        for assign in assignments:
            proj = bpar[list(assign)]
            Bs = (sign_patterns * proj[None, :]) @ pinv.T  # (n_signs, 3)
            for B in Bs:
                score = _line_mismatch(_predicted_lines(B, D, frames), f)
                if score < best[0]:
                    best = (score, B)
    B = _refine(best[1], D, frames, f)
    if n_axes == 4 and np.allclose(ax, np.asarray(NV_AXES), atol=1e-9):
        B = canonical_field(B, field_guess)
    elif field_guess is not None and np.dot(B, field_guess) < 0:
        B = -B
    rms = float(np.sqrt(_line_mismatch(_predicted_lines(B, D, frames), f) / (2 * f.size)))
    return B, rms
