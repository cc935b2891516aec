"""NV axes in the diamond crystal frame and the NV frame of each axis."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["NV_AXES", "axis_frame"]

#: The four NV orientations in the crystal frame, in this order:
#: [1,1,1], [1,-1,-1], [-1,1,-1], [-1,-1,1], each divided by √3.  They sum to zero.
NV_AXES: NDArray[np.float64] = np.array(
    [[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float
) / np.sqrt(3.0)
NV_AXES.setflags(write=False)


def axis_frame(axis: ArrayLike) -> NDArray[np.float64]:
    """Orthonormal NV frame of ``axis`` as rows (x, y, z) in crystal coordinates.

    z is the axis.  x is the component of the crystal direction [0, 0, 1] perpendicular to it
    (or of [1, 0, 0] when the axis is along [0, 0, 1]); for the four NV axes this puts x in a
    {110} mirror plane containing the axis.  The choice matters only for the sign convention of
    the strain term E (Sx² − Sy²).
    """
    z = np.asarray(axis, dtype=float)
    z = z / np.linalg.norm(z)
    ref = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = ref - (ref @ z) * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])
