"""One NV axis's two lines: the field along the axis (closed form) and the axial and transverse
field components (exact for E = 0).

* :func:`axial_field` — field along one axis and D from that axis's two lines (closed form).
* :func:`axis_field_components` — |B∥| and |B⊥| of one axis from its two lines (exact, E = 0).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .constants import GAMMA_NV_HZ_PER_T, ZFS_HZ

__all__ = ["axial_field", "axis_field_components"]


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
