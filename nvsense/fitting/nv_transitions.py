"""Closed-form NV transition frequencies with their derivatives, compiled with numba.

The fitters need the two ODMR lines of each NV axis *and* their derivatives with respect to
the field, D and E at every Levenberg–Marquardt step, thousands of times per second.  Numerical
diagonalisation (``nvsense.physics.transition_frequencies``) is exact but too slow for that and
gives no derivatives, so this module solves the characteristic polynomial instead.

In the NV frame (z along the axis) with ``b = γ B`` the spin-1 Hamiltonian
``H/h = D Sz² + E (Sx² − Sy²) + b·S`` has the characteristic polynomial

    P(λ) = λ³ − 2D λ² + (D² − E² − |b|²) λ + D b⊥² − E (bx² − by²),

with ``b⊥² = bx² + by²``.  Its three real roots are found with the trigonometric formula and
polished by Newton steps; each root's derivative with respect to a parameter θ follows from
implicit differentiation, ``dλ/dθ = −(∂P/∂θ) / P'(λ)``.  The transitions are the two upper
levels minus the lowest (ms ≈ 0, below the level anticrossing), as in ``nvsense.physics``.

Units are whatever the caller uses consistently; the fitting kernels use MHz and mT.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import GAMMA_NV_HZ_PER_T, NV_AXES, ZFS_HZ, axis_frame

__all__ = ["axis_frames", "transitions_closed_form"]

_TWO_PI_3 = 2.0 * math.pi / 3.0


def axis_frames(axes: ArrayLike = NV_AXES) -> NDArray[np.float64]:
    """NV frames (rows x, y, z in crystal coordinates) of ``axes``, shape (n_axes, 3, 3)."""
    axes = np.atleast_2d(np.asarray(axes, dtype=float))
    if axes.ndim != 2 or axes.shape[1] != 3 or not np.all(np.isfinite(axes)):
        raise ValueError(f"axes must be finite 3-vectors of shape (n_axes, 3), got {axes.shape}")
    return np.ascontiguousarray(np.stack([axis_frame(a) for a in axes]))


@njit(cache=True, nogil=True)
def _poly_and_slope(lam: float, D: float, E: float, b2: float, bp2: float, dxy: float):
    """P(λ) and P'(λ) of the NV characteristic polynomial."""
    c1 = D * D - E * E - b2
    c0 = D * bp2 - E * dxy
    p = ((lam - 2.0 * D) * lam + c1) * lam + c0
    dp = (3.0 * lam - 4.0 * D) * lam + c1
    return p, dp


@njit(cache=True, nogil=True)
def axis_transitions(bx: float, by: float, bz: float, D: float, E: float,
                     t: np.ndarray, dt: np.ndarray) -> None:
    """Both transitions of one axis and their derivatives (in place).

    Parameters
    ----------
    bx, by, bz
        Field in the NV frame in frequency units (γB).
    D, E
        Zero-field and transverse splitting, same units.
    t
        Output, shape (2,): the two transitions, ascending.
    dt
        Output, shape (2, 5): derivatives of ``t`` with respect to (bx, by, bz, D, E).
    """
    bp2 = bx * bx + by * by
    b2 = bp2 + bz * bz
    dxy = bx * bx - by * by
    # Depressed cubic μ³ + pμ + q = 0 with λ = μ + 2D/3.
    shift = 2.0 * D / 3.0
    p = -D * D / 3.0 - E * E - b2
    q = (-16.0 * D * D * D / 27.0 + 2.0 * D * (D * D - E * E - b2) / 3.0
         + D * bp2 - E * dxy)
    lam = np.empty(3)
    if p >= 0.0:  # only when D = E = b = 0: a triple root
        lam[0] = shift
        lam[1] = shift
        lam[2] = shift
    else:
        r = 2.0 * math.sqrt(-p / 3.0)
        arg = 3.0 * q / (p * r)
        arg = min(1.0, max(-1.0, arg))
        phi = math.acos(arg) / 3.0
        lam[2] = shift + r * math.cos(phi)                  # highest
        lam[1] = shift + r * math.cos(phi - _TWO_PI_3)      # middle
        lam[0] = shift + r * math.cos(phi - 2.0 * _TWO_PI_3)  # lowest
    # Newton polish: the trigonometric roots lose precision when two levels nearly meet.
    scale = abs(D) + abs(E) + math.sqrt(b2) + 1e-300
    for k in range(3):
        for _ in range(2):
            pv, dp = _poly_and_slope(lam[k], D, E, b2, bp2, dxy)
            if abs(dp) > 1e-9 * scale * scale:
                step = pv / dp
                if abs(step) < 1e-3 * scale:
                    lam[k] -= step
    # dλ/dθ = −(∂P/∂θ)/P'(λ) for θ = bx, by, bz, D, E.
    dlam = np.empty((3, 5))
    for k in range(3):
        x = lam[k]
        _, dp = _poly_and_slope(x, D, E, b2, bp2, dxy)
        if abs(dp) < 1e-12 * scale * scale:  # exact degeneracy: derivative undefined
            dp = math.copysign(1e-12 * scale * scale, dp if dp != 0.0 else 1.0)
        dlam[k, 0] = -(-2.0 * bx * x + 2.0 * D * bx - 2.0 * E * bx) / dp
        dlam[k, 1] = -(-2.0 * by * x + 2.0 * D * by + 2.0 * E * by) / dp
        dlam[k, 2] = -(-2.0 * bz * x) / dp
        dlam[k, 3] = -(-2.0 * x * x + 2.0 * D * x + bp2) / dp
        dlam[k, 4] = -(-2.0 * E * x - dxy) / dp
    t[0] = lam[1] - lam[0]
    t[1] = lam[2] - lam[0]
    for j in range(5):
        dt[0, j] = dlam[1, j] - dlam[0, j]
        dt[1, j] = dlam[2, j] - dlam[0, j]


@njit(cache=True, nogil=True)
def crystal_transitions(B: np.ndarray, D: float, E: float, frames: np.ndarray, gamma: float,
                        t: np.ndarray, dt: np.ndarray) -> None:
    """Transitions of every axis for a crystal-frame field, with derivatives (in place).

    ``t`` has shape (n_axes, 2); ``dt`` has shape (n_axes, 2, 5), derivatives with respect to
    (Bx, By, Bz, D, E) where B is in the units that ``gamma`` converts to frequency.
    """
    n_axes = frames.shape[0]
    tt = np.empty(2)
    dd = np.empty((2, 5))
    for a in range(n_axes):
        bx = gamma * (frames[a, 0, 0] * B[0] + frames[a, 0, 1] * B[1] + frames[a, 0, 2] * B[2])
        by = gamma * (frames[a, 1, 0] * B[0] + frames[a, 1, 1] * B[1] + frames[a, 1, 2] * B[2])
        bz = gamma * (frames[a, 2, 0] * B[0] + frames[a, 2, 1] * B[1] + frames[a, 2, 2] * B[2])
        axis_transitions(bx, by, bz, D, E, tt, dd)
        for j in range(2):
            t[a, j] = tt[j]
            for c in range(3):  # chain rule b_i = γ Σ_c frame[i, c] B_c
                dt[a, j, c] = gamma * (dd[j, 0] * frames[a, 0, c] + dd[j, 1] * frames[a, 1, c]
                                       + dd[j, 2] * frames[a, 2, c])
            dt[a, j, 3] = dd[j, 3]
            dt[a, j, 4] = dd[j, 4]


def transitions_closed_form(
    B: ArrayLike,
    D: float = ZFS_HZ,
    E: float = 0.0,
    axes: ArrayLike = NV_AXES,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Transitions of every axis and their derivatives, from the closed form (SI units).

    Parameters
    ----------
    B
        Field in tesla, crystal frame, shape (3,).
    D, E
        Zero-field and transverse splitting in Hz.
    axes
        NV axes, shape (n_axes, 3).

    Returns
    -------
    t : ndarray, shape (n_axes, 2)
        Transitions in Hz, ascending per axis (same convention as
        ``nvsense.physics.transition_frequencies``).
    dt : ndarray, shape (n_axes, 2, 5)
        Derivatives with respect to (Bx, By, Bz) in Hz/T and (D, E) in Hz/Hz.
    """
    B = np.asarray(B, dtype=float)
    if B.shape != (3,):
        raise ValueError(f"B must be a field vector of shape (3,), got shape {B.shape}")
    frames = axis_frames(axes)
    # Work in MHz and mT so that the cubic's coefficients stay well scaled.
    t = np.empty((frames.shape[0], 2))
    dt = np.empty((frames.shape[0], 2, 5))
    crystal_transitions(B * 1e3, float(D) * 1e-6, float(E) * 1e-6, frames,
                        GAMMA_NV_HZ_PER_T * 1e-9, t, dt)
    dt[..., :3] *= 1e9  # MHz/mT -> Hz/T
    return t * 1e6, dt
