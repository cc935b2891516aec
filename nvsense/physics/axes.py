"""NV axes in the diamond crystal frame, the NV frame of each axis, and lab frames of common cuts.

Vectors are in the crystal frame (x, y, z along [100], [010], [001]) unless a function says
otherwise.  A lab frame is given as a rotation matrix ``R`` whose rows are the lab x, y, z
directions in crystal coordinates, so ``v_lab = R @ v_crystal`` and ``v_crystal = R.T @ v_lab``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "AXIS_LABELS",
    "CUTS",
    "NV_AXES",
    "axis_frame",
    "crystal_to_lab",
    "lab_frame",
    "lab_to_crystal",
    "nv_axes_in_lab",
]

#: The four NV orientations in the crystal frame, in this order:
#: [1,1,1], [1,-1,-1], [-1,1,-1], [-1,-1,1], each divided by √3.  They sum to zero, and
#: Σ nᵢ nᵢᵀ = (4/3)·1.
NV_AXES: NDArray[np.float64] = np.array(
    [[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float
) / np.sqrt(3.0)
NV_AXES.setflags(write=False)

#: Miller-index labels of :data:`NV_AXES`, in the same order.
AXIS_LABELS: tuple[str, ...] = ("[111]", "[1-1-1]", "[-11-1]", "[-1-11]")

_S2, _S3, _S6 = np.sqrt(2.0), np.sqrt(3.0), np.sqrt(6.0)
_LAB_FRAMES: dict[str, NDArray[np.float64]] = {
    # (100) plate with <110> edges, the usual CVD cut: x ∥ [011], y ∥ [0-11], z ∥ [100].
    # Every NV axis is then 54.7° from the normal and projects onto an edge direction.
    "100": np.array([[0, 1 / _S2, 1 / _S2], [0, -1 / _S2, 1 / _S2], [1, 0, 0]]),
    # (110) plate: x ∥ [001], y ∥ [1-10], z ∥ [110].  Two NV axes lie in the surface plane.
    "110": np.array([[0, 0, 1], [1 / _S2, -1 / _S2, 0], [1 / _S2, 1 / _S2, 0]]),
    # (111) plate: x ∥ [1-10] (a <110> edge), y ∥ [11-2], z ∥ [111] = NV axis 0 normal to
    # the surface.
    "111": np.array([[1 / _S2, -1 / _S2, 0], [1 / _S6, 1 / _S6, -2 / _S6], [1 / _S3] * 3]),
}
for _frame in _LAB_FRAMES.values():
    _frame.setflags(write=False)

#: Names of the crystal cuts :func:`lab_frame` knows.
CUTS: tuple[str, ...] = tuple(_LAB_FRAMES)


def axis_frame(axis: ArrayLike) -> NDArray[np.float64]:
    """Orthonormal NV frame of ``axis`` as rows (x, y, z) in crystal coordinates.

    z is the axis.  x is the component of the crystal direction [0, 0, 1] perpendicular to it
    (or of [1, 0, 0] when the axis is along [0, 0, 1]); for the four NV axes this puts x in a
    {110} mirror plane containing the axis.  The choice matters only for the sign convention of
    the strain term E (Sx² − Sy²).
    """
    z = np.asarray(axis, dtype=float)
    norm = np.linalg.norm(z) if z.shape == (3,) else 0.0
    if not (np.isfinite(norm) and norm > 0):
        raise ValueError(f"an NV axis must be a finite, non-zero 3-vector, not {axis!r}")
    z = z / norm
    ref = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = ref - (ref @ z) * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def lab_frame(cut: str) -> NDArray[np.float64]:
    """Rotation from crystal to lab coordinates for a plate of the given cut.

    Parameters
    ----------
    cut
        ``"100"``, ``"110"`` or ``"111"`` (the top-face normal; ``"(100)"`` is accepted too).
        Lab z is the face normal; lab x is a plate edge (see the module source for each cut).

    Returns
    -------
    ndarray
        (3, 3) rotation ``R`` with rows lab x, y, z in crystal coordinates:
        ``v_lab = R @ v_crystal``.
    """
    key = str(cut).strip().strip("()").strip("{}")
    try:
        return _LAB_FRAMES[key]
    except KeyError:
        raise ValueError(f"unknown crystal cut {cut!r}; use one of {', '.join(CUTS)}") from None


def nv_axes_in_lab(cut: str) -> NDArray[np.float64]:
    """:data:`NV_AXES` expressed in the lab frame of ``cut`` (shape (4, 3), same order)."""
    return NV_AXES @ lab_frame(cut).T


def crystal_to_lab(vectors: ArrayLike, cut: str) -> NDArray[np.float64]:
    """Rotate vectors (..., 3) from the crystal frame to the lab frame of ``cut``."""
    return np.asarray(vectors, dtype=float) @ lab_frame(cut).T


def lab_to_crystal(vectors: ArrayLike, cut: str) -> NDArray[np.float64]:
    """Rotate vectors (..., 3) from the lab frame of ``cut`` to the crystal frame."""
    return np.asarray(vectors, dtype=float) @ lab_frame(cut)
