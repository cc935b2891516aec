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
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import GAMMA_NV_HZ_PER_T, NV_AXES, ZFS_HZ

from .jit import entry, helper, ready
from .kernel_layout import as_f8, axis_frames

__all__ = ["axis_frames", "crystal_transitions", "transitions_closed_form", "transitions_into"]

_TWO_PI_3 = 2.0 * math.pi / 3.0


@helper()
def _poly_and_slope(lam: float, D: float, E: float, b2: float, bp2: float, dxy: float):
    """P(λ) and P'(λ) of the NV characteristic polynomial."""
    c1 = D * D - E * E - b2
    c0 = D * bp2 - E * dxy
    p = ((lam - 2.0 * D) * lam + c1) * lam + c0
    dp = (3.0 * lam - 4.0 * D) * lam + c1
    return p, dp


@helper()
def _polish(lam: float, D: float, E: float, b2: float, bp2: float, dxy: float, scale: float):
    """Two Newton steps on a root: the trigonometric roots lose precision when two levels
    nearly meet."""
    for _ in range(2):
        pv, dp = _poly_and_slope(lam, D, E, b2, bp2, dxy)
        if abs(dp) > 1e-9 * scale * scale:
            step = pv / dp
            if abs(step) < 1e-3 * scale:
                lam -= step
    return lam


@helper()
def _root_derivatives(x: float, bx: float, by: float, bz: float, D: float, E: float, b2: float,
                      bp2: float, dxy: float, scale: float):
    """dλ/dθ = −(∂P/∂θ)/P'(λ) at the root ``x`` for θ = bx, by, bz, D, E."""
    _, dp = _poly_and_slope(x, D, E, b2, bp2, dxy)
    if abs(dp) < 1e-12 * scale * scale:  # exact degeneracy: derivative undefined
        dp = math.copysign(1e-12 * scale * scale, dp if dp != 0.0 else 1.0)
    return (-(-2.0 * bx * x + 2.0 * D * bx - 2.0 * E * bx) / dp,
            -(-2.0 * by * x + 2.0 * D * by + 2.0 * E * by) / dp,
            -(-2.0 * bz * x) / dp,
            -(-2.0 * x * x + 2.0 * D * x + bp2) / dp,
            -(-2.0 * E * x - dxy) / dp)


@helper()
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
    if p >= 0.0:  # only when D = E = b = 0: a triple root
        l0 = shift
        l1 = shift
        l2 = shift
    else:
        r = 2.0 * math.sqrt(-p / 3.0)
        arg = 3.0 * q / (p * r)
        arg = min(1.0, max(-1.0, arg))
        phi = math.acos(arg) / 3.0
        l2 = shift + r * math.cos(phi)                  # highest
        l1 = shift + r * math.cos(phi - _TWO_PI_3)      # middle
        l0 = shift + r * math.cos(phi - 2.0 * _TWO_PI_3)  # lowest
    scale = abs(D) + abs(E) + math.sqrt(b2) + 1e-300
    l0 = _polish(l0, D, E, b2, bp2, dxy, scale)
    l1 = _polish(l1, D, E, b2, bp2, dxy, scale)
    l2 = _polish(l2, D, E, b2, bp2, dxy, scale)
    d0 = _root_derivatives(l0, bx, by, bz, D, E, b2, bp2, dxy, scale)
    d1 = _root_derivatives(l1, bx, by, bz, D, E, b2, bp2, dxy, scale)
    d2 = _root_derivatives(l2, bx, by, bz, D, E, b2, bp2, dxy, scale)
    t[0] = l1 - l0
    t[1] = l2 - l0
    for j in range(5):
        dt[0, j] = d1[j] - d0[j]
        dt[1, j] = d2[j] - d0[j]


@entry("void(float64, float64, float64, float64, float64, float64[:, :, ::1], float64, "
       "float64[:, ::1], float64[:, :, ::1])")
def crystal_transitions(Bx: float, By: float, Bz: float, D: float, E: float,
                        frames: np.ndarray, gamma: float, t: np.ndarray, dt: np.ndarray) -> None:
    """Transitions of every axis for a crystal-frame field, with derivatives (in place).

    ``t`` has shape (n_axes, 2); ``dt`` has shape (n_axes, 2, 5), derivatives with respect to
    (Bx, By, Bz, D, E) where B is in the units that ``gamma`` converts to frequency.  From
    Python, call :func:`transitions_into`.
    """
    for a in range(frames.shape[0]):
        bx = gamma * (frames[a, 0, 0] * Bx + frames[a, 0, 1] * By + frames[a, 0, 2] * Bz)
        by = gamma * (frames[a, 1, 0] * Bx + frames[a, 1, 1] * By + frames[a, 1, 2] * Bz)
        bz = gamma * (frames[a, 2, 0] * Bx + frames[a, 2, 1] * By + frames[a, 2, 2] * Bz)
        ta = t[a]
        da = dt[a]
        axis_transitions(bx, by, bz, D, E, ta, da)
        for j in range(2):
            d_x = da[j, 0]
            d_y = da[j, 1]
            d_z = da[j, 2]
            for c in range(3):  # chain rule b_i = γ Σ_c frame[i, c] B_c
                da[j, c] = gamma * (d_x * frames[a, 0, c] + d_y * frames[a, 1, c]
                                    + d_z * frames[a, 2, c])


def transitions_into(B: ArrayLike, D: float, E: float, frames: NDArray[np.float64],
                     gamma: float, t: NDArray[np.float64], dt: NDArray[np.float64]) -> None:
    """:func:`crystal_transitions` called from Python: ``B`` a 3-vector, ``t`` and ``dt``
    C-contiguous float64 arrays of shapes (n_axes, 2) and (n_axes, 2, 5), filled in place."""
    B = np.asarray(B, dtype=float)
    ready(crystal_transitions)(float(B[0]), float(B[1]), float(B[2]), float(D), float(E),
                               as_f8(frames), float(gamma), t, dt)


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
    transitions_into(B * 1e3, float(D) * 1e-6, float(E) * 1e-6, frames,
                     GAMMA_NV_HZ_PER_T * 1e-9, t, dt)
    dt[..., :3] *= 1e9  # MHz/mT -> Hz/T
    return t * 1e6, dt
