"""A field vector from measured line positions: the seed of the Hamiltonian fit.

The physics lives in :mod:`nvsense.physics` (the forward model, the per-axis inversion, the
symmetries of the axes and the global search over line pairings in
:func:`nvsense.physics.field_from_transitions`); this module adapts it to what a fit needs: a
seed that never refuses noisy or merged lines, in the canonical form of the four NV axes.

With four equally bright axes the spectrum is the same for B and its 48 signed permutations
(see REFERENCES.md), so the result is returned in a canonical form (|Bx| ≥ |By| ≥ |Bz|, all
≥ 0) or as the equivalent nearest to a given field guess.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import (
    NV_AXES,
    ZFS_HZ,
    axis_field_components,
    axis_frame,
    canonical_field,
    field_from_transitions,
    signed_permutations,
    transition_frequencies,
)

from .errors import FitInputError

__all__ = ["axial_transverse", "canonical_field", "field_from_lines", "symmetric_equivalents"]

#: Residual limit handed to the inversion: a seed is wanted whatever the lines' misfit.
_ANY_RESIDUAL_HZ = 1e12


def axial_transverse(f_low: ArrayLike, f_high: ArrayLike, D: float = ZFS_HZ
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Axial and transverse field (T, both ≥ 0) of one axis from its two lines (Hz), E = 0
    (:func:`nvsense.physics.axis_field_components`, as arrays)."""
    b_par, b_perp = axis_field_components(f_low, f_high, D)
    return np.asarray(b_par, dtype=float), np.asarray(b_perp, dtype=float)


def symmetric_equivalents(B: ArrayLike) -> NDArray[np.float64]:
    """The 48 signed permutations of the field vector ``B`` (shape (48, 3))
    (:func:`nvsense.physics.signed_permutations`)."""
    return signed_permutations(B)


def _line_mismatch(pred: NDArray[np.float64], lines: NDArray[np.float64]) -> float:
    """Symmetric nearest-line distance² between predicted and measured lines (Hz²)."""
    d = np.abs(pred.ravel()[:, None] - lines[None, :])
    return float(np.sum(d.min(axis=0) ** 2) + np.sum(d.min(axis=1) ** 2))


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
    ax = np.atleast_2d(np.asarray(axes, dtype=float))
    ax = ax / np.linalg.norm(ax, axis=1, keepdims=True)
    n_axes = ax.shape[0]
    if f.size < 2:
        raise FitInputError(f"need at least 2 line positions to estimate a field, got {f.size}")
    if f.size > 2 * n_axes:
        raise FitInputError(f"got {f.size} line positions but {n_axes} axes have at most "
                            f"{2 * n_axes} lines")
    guess = None if field_guess is None else np.asarray(field_guess, dtype=float)
    if n_axes == 1:  # one NV: the field is fixed only up to a rotation about the axis
        b_par, b_perp = axis_field_components(f[0], f[-1], D)
        B = float(b_par) * ax[0] + float(b_perp) * axis_frame(ax[0])[0]
        if guess is not None and np.dot(B, guess) < 0:
            B = -B
    else:
        try:
            est = field_from_transitions(f, D=float(D), E=0.0, axes=ax, guess=guess,
                                         max_residual=_ANY_RESIDUAL_HZ)
            B = est.field
        except ValueError:  # lines no field of these axes produces: no seed from them
            B = np.zeros(3)
        if n_axes == 4 and np.allclose(ax, np.asarray(NV_AXES), atol=1e-9):
            B = canonical_field(B, guess)
        elif guess is not None and np.dot(B, guess) < 0:
            B = -B
    pred = transition_frequencies(B, D, 0.0, ax)
    rms = float(np.sqrt(_line_mismatch(pred, f) / (2 * f.size)))
    return np.asarray(B, dtype=float), rms
