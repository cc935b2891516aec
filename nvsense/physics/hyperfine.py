"""Nitrogen hyperfine structure of the NV ground state, secular approximation.

In the secular approximation each ms = 0 → ±1 line splits by ms·mI·A∥: three lines spaced by
|A∥| for 14N (I = 1), two lines spaced by |A∥| for 15N (I = 1/2), equally weighted at room
temperature (no nuclear polarisation).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "A_PARALLEL_14N_HZ",
    "A_PARALLEL_15N_HZ",
    "A_PERP_14N_HZ",
    "A_PERP_15N_HZ",
    "NUCLEI",
    "QUADRUPOLE_14N_HZ",
    "hyperfine_lines",
    "hyperfine_offsets",
]

#: 14N axial hyperfine constant, Hz: −2.14 to −2.16 MHz; ODMR triplet spacing ≈ 2.16 MHz
#: (Doherty et al., Phys. Rep. 528, 1, 2013).
A_PARALLEL_14N_HZ = -2.16e6
#: 14N transverse hyperfine constant, Hz (Doherty et al. 2013).
A_PERP_14N_HZ = -2.70e6
#: 14N quadrupole splitting P, Hz (Doherty et al. 2013).  It does not shift ODMR lines in the
#: secular approximation.
QUADRUPOLE_14N_HZ = -5.0e6
#: 15N axial hyperfine constant, Hz: doublet spacing ≈ 3.03 MHz (Felton et al., PRB 79,
#: 075203, 2009).
A_PARALLEL_15N_HZ = 3.03e6
#: 15N transverse hyperfine constant, Hz (Felton et al. 2009).
A_PERP_15N_HZ = 3.65e6

#: Accepted names of the nitrogen isotope option.
NUCLEI = ("none", "14N", "15N")


def hyperfine_offsets(nucleus: str | None) -> NDArray[np.float64]:
    """Offsets in Hz of the hyperfine lines around each electron-spin transition.

    Parameters
    ----------
    nucleus
        ``"none"`` (or ``None``), ``"14N"`` or ``"15N"`` (case-insensitive).

    Returns
    -------
    ndarray
        ``[0]`` for none; ``[-|A|, 0, +|A|]`` for 14N; ``[-|A|/2, +|A|/2]`` for 15N.  The lines
        are equally weighted.
    """
    key = "none" if nucleus is None else str(nucleus).strip().lower()
    if key == "none":
        return np.array([0.0])
    if key == "14n":
        a = abs(A_PARALLEL_14N_HZ)
        return np.array([-a, 0.0, a])
    if key == "15n":
        a = abs(A_PARALLEL_15N_HZ)
        return np.array([-a / 2, a / 2])
    raise ValueError(f"unknown nucleus {nucleus!r}; use one of {', '.join(NUCLEI)}")


def hyperfine_lines(transitions: ArrayLike, nucleus: str | None) -> NDArray[np.float64]:
    """Every hyperfine component of each transition, in the secular approximation.

    Parameters
    ----------
    transitions
        Electron-spin transition frequencies in Hz, any shape (e.g. the (..., n_axes, 2) output
        of :func:`transition_frequencies`).
    nucleus
        ``"none"``/None, ``"14N"`` or ``"15N"``.

    Returns
    -------
    ndarray
        Shape (*transitions.shape, n_components): the equally weighted component lines, Hz.
    """
    return np.asarray(transitions, dtype=float)[..., None] + hyperfine_offsets(nucleus)
