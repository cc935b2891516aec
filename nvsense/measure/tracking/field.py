"""From locked resonance frequencies to the field (and D), exactly, for every sample.

The tracking magnetometer locks one or both lines of one NV axis, or lines of three or four
axes.  :class:`LockedLineModel` turns the locked frequencies into the field with the exact
ground-state Hamiltonian (:func:`nvsense.physics.transition_frequencies`), not the linear
shortcut B∥ ≈ (f₊ − f₋)/2γ, which transverse field biases (see REFERENCES.md).

Parameters solved for, per sample:

- one axis: B∥ = B·n (T, signed), and D (Hz) when both lines of the axis are locked.  The
  transverse field of the axis is held at its value from the initial sweep (a change of
  transverse field shifts the lines only in second order);
- three or four axes: the field vector (T, crystal frame), and D when any axis has both lines.

With one line locked, D is held at the value of the initial fit: a drift of D (temperature,
−74 kHz/K) then reads as field.  With both lines, D is measured and cancels.

The solve is a Gauss–Newton iteration with the Jacobian of the operating point, vectorised over
the samples of a block; the Jacobian also propagates line-frequency noise to field noise
(:meth:`LockedLineModel.field_noise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...physics import transition_frequencies

__all__ = ["LockedLine", "LockedLineModel"]

#: Finite-difference steps of the Jacobian: 0.1 µT (2.8 kHz of line shift) and 1 kHz of D.
_STEP_FIELD_T = 1e-7
_STEP_D_HZ = 1e3
#: Gauss–Newton iterations per solve; the Jacobian varies so little over a tracking run that
#: two already reach ~mHz, the third is a margin for fields far from the operating point.
_ITERATIONS = 3


@dataclass(frozen=True)
class LockedLine:
    """One locked resonance line: which axis (index into the model's axes) and which branch.

    ``branch`` is 0 for the lower transition (ms = 0 → −1 below the anticrossing, for B∥ > 0)
    and 1 for the upper one.
    """

    axis: int
    branch: int


class LockedLineModel:
    """Locked line frequencies ↔ field parameters for the lines being tracked.

    Parameters
    ----------
    axes
        Unit vectors of the tracked NV axes, (n_axes, 3), in the frame of ``field0``.
    lines
        The locked lines, in the order of the frequency arrays.
    field0
        Field vector (T) at the operating point (from the initial sweep).  For one axis only
        its transverse part is used (held fixed); pass ``B∥·n`` alone if the transverse field
        is unknown (a two-line sample: it is then assumed zero).
    D0
        Zero-field splitting at the operating point, Hz (held when it is not measured).
    vector
        Solve for the field vector (needs at least three axes) instead of B·n of one axis.

    Raises
    ------
    ValueError
        When the locked lines cannot determine the parameters (e.g. a vector from one or two
        axes).
    """

    def __init__(self, axes: ArrayLike, lines: Sequence[LockedLine], field0: ArrayLike,
                 D0: float, *, vector: bool = False) -> None:
        self.axes = np.atleast_2d(np.asarray(axes, dtype=float))
        self.lines = tuple(lines)
        self.vector = bool(vector)
        self.D0 = float(D0)
        field0 = np.asarray(field0, dtype=float)
        n_axes = self.axes.shape[0]
        if not self.vector and n_axes != 1:
            raise ValueError("one axis gives B·n only; track three or four axes for a vector")
        if self.vector and n_axes < 3:
            raise ValueError(f"{n_axes} axes cannot give the field vector; track one axis "
                             "(its B·n) or three or four axes (the vector)")
        self._line_axis = np.array([ln.axis for ln in self.lines], dtype=int)
        self._line_branch = np.array([ln.branch for ln in self.lines], dtype=int)
        # D is measured when both lines of some axis are locked
        pairs = {(ln.axis, ln.branch) for ln in self.lines}
        self.fits_D = any((a, 0) in pairs and (a, 1) in pairs for a in range(n_axes))
        n = self.axes[0]
        self._normal = n
        self._perp = field0 - (field0 @ n) * n  # held transverse field of a single axis
        base = field0 if self.vector else np.array([field0 @ n])
        self.p0 = np.concatenate([base, [self.D0]]) if self.fits_D else base
        self.J = self._jacobian(self.p0)
        if np.linalg.matrix_rank(self.J) < self.p0.size:
            raise ValueError(f"the {len(self.lines)} locked line(s) cannot determine "
                             f"{self._describe()}; lock both lines or more axes")
        self._pinv = np.linalg.pinv(self.J)

    @property
    def operating_field(self) -> NDArray[np.float64]:
        """Field vector (T) of the operating point (one axis: B∥·n plus the held transverse
        field)."""
        return self.p0[:3].copy() if self.vector else self.p0[0] * self._normal + self._perp

    @property
    def operating_D(self) -> float:
        """D (Hz) of the operating point."""
        return float(self.p0[-1]) if self.fits_D else self.D0

    # -- the forward model ------------------------------------------------------------------

    def _describe(self) -> str:
        what = "the field vector" if self.vector else "B·n"
        return what + (" and D" if self.fits_D else "")

    def _field_and_d(self, p: NDArray[np.float64]) -> tuple[NDArray[np.float64], ArrayLike]:
        d = p[:, -1] if self.fits_D else self.D0
        if self.vector:
            return p[:, :3], d
        return p[:, :1] * self._normal + self._perp, d

    def line_frequencies(self, params: ArrayLike) -> NDArray[np.float64]:
        """Frequencies (Hz) of the locked lines for parameters (m, n_params) → (m, n_lines)."""
        p = np.atleast_2d(np.asarray(params, dtype=float))
        B, d = self._field_and_d(p)
        f = transition_frequencies(B, d, 0.0, self.axes)  # (m, n_axes, 2)
        return f[:, self._line_axis, self._line_branch]

    def _jacobian(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        steps = np.full(p.size, _STEP_FIELD_T)
        if self.fits_D:
            steps[-1] = _STEP_D_HZ
        shifted = np.concatenate([p + np.diag(steps), p - np.diag(steps)])
        f = self.line_frequencies(shifted)
        return ((f[: p.size] - f[p.size:]) / (2 * steps[:, None])).T  # (n_lines, n_params)

    # -- solving ----------------------------------------------------------------------------

    def solve(self, frequencies: ArrayLike, start: ArrayLike | None = None
              ) -> NDArray[np.float64]:
        """Parameters (m, n_params) reproducing the locked frequencies (m, n_lines) in Hz.

        Columns: B·n (T) or Bx, By, Bz (T), then D (Hz) if :attr:`fits_D`.  Rows with a NaN
        frequency give NaN.
        """
        f = np.atleast_2d(np.asarray(frequencies, dtype=float))
        p = np.tile(self.p0 if start is None else np.asarray(start, dtype=float),
                    (f.shape[0], 1))
        for _ in range(_ITERATIONS):
            p = p + (f - self.line_frequencies(p)) @ self._pinv.T
        return p

    def field(self, params: NDArray[np.float64]) -> NDArray[np.float64]:
        """The field part of solved parameters: (m,) B·n, or (m, 3) vectors."""
        return params[:, :3] if self.vector else params[:, 0]

    def D(self, params: NDArray[np.float64]) -> NDArray[np.float64]:
        """D per sample (Hz), NaN where it is not measured (one line per axis)."""
        if self.fits_D:
            return params[:, -1]
        return np.full(params.shape[0], np.nan)

    # -- noise ------------------------------------------------------------------------------

    def field_noise(self, line_noise: ArrayLike) -> NDArray[np.float64] | float:
        """Field noise density from independent line-frequency noise densities.

        Parameters
        ----------
        line_noise
            Frequency noise density of each locked line, Hz/√Hz, with the time that line
            actually gets (time-multiplexed lines share the sample).

        Returns
        -------
        float or ndarray
            T/√Hz of B·n (one axis) or of (Bx, By, Bz): linear propagation through the
            exact Jacobian, σ² = diag((Jᵀ W J)⁻¹), W = diag(1/noise²).
        """
        s = np.asarray(line_noise, dtype=float)
        cov = np.linalg.inv(self.J.T @ (self.J / (s * s)[:, None]))
        sd = np.sqrt(np.diag(cov))
        return sd[:3] if self.vector else float(sd[0])
