"""The NV ground-state spin Hamiltonian and its ODMR transition frequencies."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .axes import NV_AXES, axis_frame
from .constants import GAMMA_NV_HZ_PER_T, ZFS_HZ

__all__ = ["SX", "SY", "SZ", "spin_hamiltonian", "transition_frequencies"]

_R2 = 1.0 / np.sqrt(2.0)
#: Spin-1 matrices in the basis (ms = +1, 0, -1).
SX = np.array([[0, _R2, 0], [_R2, 0, _R2], [0, _R2, 0]], dtype=complex)
SY = np.array([[0, -1j * _R2, 0], [1j * _R2, 0, -1j * _R2], [0, 1j * _R2, 0]], dtype=complex)
SZ = np.diag([1.0, 0.0, -1.0]).astype(complex)


def spin_hamiltonian(
    B: ArrayLike,
    D: float = ZFS_HZ,
    E: float = 0.0,
    axis: ArrayLike = NV_AXES[0],
) -> NDArray[np.complex128]:
    """Ground-state Hamiltonian H/h in Hz for one NV axis.

    ``H/h = D Sz² + E (Sx² − Sy²) + γ B·S`` in the NV frame of ``axis`` (z along the axis,
    x and y as chosen by :func:`axis_frame`).

    Parameters
    ----------
    B
        Field in tesla, crystal frame, shape (..., 3).
    D, E
        Zero-field splitting and transverse (strain) splitting in Hz.
    axis
        The NV axis, a 3-vector in the crystal frame (normalised here).

    Returns
    -------
    ndarray
        Complex array of shape (..., 3, 3) in the basis (ms = +1, 0, −1).
    """
    B = np.asarray(B, dtype=float)
    frame = axis_frame(axis)  # rows: x, y, z of the NV frame in crystal coordinates
    b = GAMMA_NV_HZ_PER_T * (B @ frame.T)  # (..., 3): field components in the NV frame, Hz
    H = (D * SZ @ SZ + E * (SX @ SX - SY @ SY)).astype(complex)
    return (H + b[..., 0, None, None] * SX + b[..., 1, None, None] * SY
            + b[..., 2, None, None] * SZ)


def transition_frequencies(
    B: ArrayLike,
    D: float | ArrayLike = ZFS_HZ,
    E: float = 0.0,
    axes: ArrayLike = NV_AXES,
) -> NDArray[np.float64]:
    """ODMR transition frequencies of every axis for the field ``B``.

    Parameters
    ----------
    B
        Field in tesla, crystal frame, shape (..., 3).
    D
        Zero-field splitting in Hz (scalar or broadcastable to ``B.shape[:-1]``).
    E
        Transverse splitting in Hz.
    axes
        NV axes, shape (n_axes, 3) or (3,) for one axis.

    Returns
    -------
    ndarray
        Shape (..., n_axes, 2): for each axis the two transitions from the lowest (ms ≈ 0)
        level to the two others, ascending, in Hz.  Exact (numerical diagonalisation); valid
        below the ground-state level anticrossing (B∥ ≈ 102 mT), where the ms ≈ 0 level is the
        lowest.
    """
    B = np.asarray(B, dtype=float)
    axes = np.atleast_2d(np.asarray(axes, dtype=float))
    D = np.asarray(D, dtype=float)
    frames = np.stack([axis_frame(a) for a in axes])  # (n_axes, 3, 3)
    # field in each NV frame: (..., n_axes, 3)
    b = GAMMA_NV_HZ_PER_T * np.einsum("...j,aij->...ai", B, frames)
    d = D[..., None] if D.ndim else D
    H = np.zeros((*b.shape[:-1], 3, 3), dtype=complex)
    H += (d * 1.0)[..., None, None] * (SZ @ SZ) if np.ndim(d) else d * (SZ @ SZ)
    H += E * (SX @ SX - SY @ SY)
    H += b[..., 0, None, None] * SX + b[..., 1, None, None] * SY + b[..., 2, None, None] * SZ
    levels = np.linalg.eigvalsh(H)  # ascending
    return levels[..., 1:] - levels[..., :1]
