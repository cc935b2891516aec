"""The forward model of ODMR lines and its Jacobian: lines of every axis for a field, and their
derivatives with respect to the field, D and E.

This is the one place the derivatives of the lines are written down (the fitters' compiled
kernel in ``nvsense.fitting.nv_transitions`` evaluates the same closed form and is tested
against this module).  Per axis, in its frame, with b = γB (Hz), the levels are the roots of

    P(λ) = λ³ − 2D λ² + (D² − |b|² − E²) λ + D b⊥² − E (bx² − by²)

(:mod:`nvsense.physics.hamiltonian`).  A root's derivative follows from implicit
differentiation, dλ/dθ = −(∂P/∂θ)/P'(λ), with P'(λₖ) = Πⱼ≠ₖ (λₖ − λⱼ) and

    ∂P/∂bx = 2bx (D − E − λ),  ∂P/∂by = 2by (D + E − λ),  ∂P/∂bz = −2bz λ,
    ∂P/∂D = −2λ² + 2Dλ + b⊥²,  ∂P/∂E = −2Eλ − (bx² − by²).

The transitions are f₋ = λ₁ − λ₀ and f₊ = λ₂ − λ₀.  Where two levels coincide (b = E = 0, or
the level anticrossing) a line is not differentiable; there the derivative is taken by central
differences (steps of ~3 kHz in γB, D and E), which is what a fit needs: the slope averaged over
a step far below any linewidth.  :func:`frame_line_derivatives` is the same in NV-frame
coordinates, for callers that keep the frames (the field inversion).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .axes import NV_AXES
from .constants import GAMMA_NV_HZ_PER_T, ZFS_HZ
from .hamiltonian import axis_frames, levels_from_frame_field

__all__ = ["PARAMETERS", "frame_line_derivatives", "transition_jacobian"]

#: Order of the last axis of the Jacobian: the field components (crystal frame, per tesla), D
#: and E (per hertz).
PARAMETERS = ("Bx", "By", "Bz", "D", "E")

#: Relative gap between levels below which the closed-form derivative is not trusted.
_DEGENERATE = 1e-9
#: Step of the central differences at degeneracies, relative to the largest frequency (3 kHz
#: at D = 2.87 GHz).
_STEP_RELATIVE = 1e-6


def transition_jacobian(
    B: ArrayLike,
    D: float | ArrayLike = ZFS_HZ,
    E: float | ArrayLike = 0.0,
    axes: ArrayLike = NV_AXES,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """ODMR lines of every axis and their derivatives.

    Parameters
    ----------
    B
        Field in tesla, crystal frame (or the frame of ``axes``), shape (..., 3).
    D, E
        Zero-field and transverse (strain) splitting in Hz; scalars or arrays that broadcast
        against ``B.shape[:-1]``.
    axes
        NV axes, shape (n_axes, 3) or (3,).

    Returns
    -------
    lines : ndarray, shape (*batch, n_axes, 2)
        As :func:`nvsense.physics.transition_frequencies`: the two transitions of each axis,
        ascending, Hz.
    jacobian : ndarray, shape (*batch, n_axes, 2, 5)
        d(line)/d(Bx, By, Bz) in Hz/T and d(line)/d(D, E) (dimensionless); see
        :data:`PARAMETERS`.

    Examples
    --------
    >>> lines, jac = transition_jacobian([0, 0, 1e-3], axes=[0, 0, 1])
    >>> np.round(jac[0, :, 2] / GAMMA_NV_HZ_PER_T, 6)  # f∓ = D ∓ γB on the axis
    array([-1.,  1.])
    """
    B = np.asarray(B, dtype=float)
    if B.ndim == 0 or B.shape[-1] != 3:
        raise ValueError(f"B must be a field vector in tesla of shape (..., 3), not shape "
                         f"{B.shape}")
    frames = axis_frames(axes)  # (n, 3, 3)
    n = frames.shape[0]
    D = np.asarray(D, dtype=float)
    E = np.asarray(E, dtype=float)
    batch = np.broadcast_shapes(B.shape[:-1], D.shape, E.shape)
    Bb = np.broadcast_to(B, (*batch, 3))
    d = np.broadcast_to(D, batch)[..., None]  # (..., 1): shared by the axes
    e = np.broadcast_to(E, batch)[..., None]
    # NV-frame field b = γB of every axis, one matrix product: (..., n, 3)
    b = (Bb @ (GAMMA_NV_HZ_PER_T * frames.reshape(3 * n, 3)).T).reshape(*batch, n, 3)
    lines, dlines = frame_line_derivatives(b[..., 0], b[..., 1], b[..., 2], d, e)
    jac = np.empty_like(dlines)
    # chain rule to the crystal field: b_k = γ Σ_j frame[k, j] B_j
    jac[..., :3] = GAMMA_NV_HZ_PER_T * (dlines[..., :3] @ frames)
    jac[..., 3:] = dlines[..., 3:]
    return lines, jac


def frame_line_derivatives(
    bx: ArrayLike, by: ArrayLike, bz: ArrayLike, D: ArrayLike, E: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The two lines of an axis from its NV-frame field b = γB and their derivatives with
    respect to (bx, by, bz, D, E), all in one frequency unit (Hz, or MHz throughout).

    The arguments broadcast together (e.g. b of shape (..., n_axes) with D of shape (..., 1)).
    Returns ``lines`` (..., 2) and ``derivatives`` (..., 2, 5).  At degenerate levels the
    derivatives are central differences (steps of 1e-6 of the largest frequency).
    """
    bx, by, bz, d, e = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                             for v in (bx, by, bz, D, E)))
    if bx.ndim == 0:  # one axis given as scalars
        lines, dlines = frame_line_derivatives(*(v[None] for v in (bx, by, bz, d, e)))
        return lines[0], dlines[0]
    lam0, low, high = levels_from_frame_field(bx, by, bz, d, e)
    lam = np.stack([lam0, lam0 + low, lam0 + high], axis=-1)  # (..., 3) the three levels
    bx_, by_, bz_, d_, e_ = (v[..., None] for v in (bx, by, bz, d, e))
    dlam = np.empty((*lam.shape, 5))  # (..., 3, 5): dλₖ/d(bx, by, bz, D, E)
    with np.errstate(divide="ignore", invalid="ignore"):  # degenerate levels: handled below
        inv = -1.0 / ((lam - lam[..., [1, 2, 0]]) * (lam - lam[..., [2, 0, 1]]))  # −1/P'(λ)
        dlam[..., 0] = 2.0 * bx_ * (d_ - e_ - lam) * inv
        dlam[..., 1] = 2.0 * by_ * (d_ + e_ - lam) * inv
        dlam[..., 2] = -2.0 * bz_ * lam * inv
        dlam[..., 3] = (2.0 * lam * (d_ - lam) + (bx_ * bx_ + by_ * by_)) * inv
        dlam[..., 4] = (-2.0 * e_ * lam - (bx_ * bx_ - by_ * by_)) * inv
    dlines = dlam[..., 1:, :] - dlam[..., :1, :]  # (..., 2, 5)
    lines = np.stack([low, high], axis=-1)
    scale = np.abs(lam0) + np.abs(high) + np.abs(d) + np.abs(e) + 1e-300
    bad = np.minimum(low, high - low) < _DEGENERATE * scale
    if np.any(bad) or not np.all(np.isfinite(dlines)):
        bad |= ~np.all(np.isfinite(dlines), axis=(-2, -1))
        args = [v[bad] for v in (bx, by, bz, d, e)]
        step = _STEP_RELATIVE * scale[bad]
        fd = np.empty((step.size, 2, 5))
        for j in range(5):
            plus = [a + step if i == j else a for i, a in enumerate(args)]
            minus = [a - step if i == j else a for i, a in enumerate(args)]
            _, lo_p, hi_p = levels_from_frame_field(*plus)
            _, lo_m, hi_m = levels_from_frame_field(*minus)
            fd[:, 0, j] = (lo_p - lo_m) / (2 * step)
            fd[:, 1, j] = (hi_p - hi_m) / (2 * step)
        dlines[bad] = fd
    return lines, dlines
