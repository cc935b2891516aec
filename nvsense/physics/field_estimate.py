"""The result of the field inversion: :class:`FieldEstimate`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["STRAIN_E_MAX_HZ", "FieldEstimate"]

#: Largest transverse (strain) splitting E considered when deciding whether a pair of lines is
#: also explained by strain at zero field, Hz (ensembles show a few MHz, up to ~11 MHz in
#: Acosta et al. 2009).
STRAIN_E_MAX_HZ = 15e6


@dataclass(frozen=True)
class FieldEstimate:
    """The field recovered from ODMR lines by :func:`field_from_transitions`.

    Attributes
    ----------
    field
        Field vector (3,) in T, in the frame of the ``axes`` given (crystal frame by default).
    D, E
        Zero-field splitting (fitted, or as given) and the transverse splitting used, Hz.
    residuals
        Measured minus model line positions in Hz, shaped like the input lines.  A measured
        line standing for several coinciding model lines is compared with their mean.
    model_lines
        (n_axes, 2) model transitions of each axis at the solution, Hz.
    assignment
        (n_axes, 2) integers: for each model line, the index of the measured line it was
        matched to (into the flattened input).
    covariance
        (3, 3) covariance of ``field`` in T², when line uncertainties were given, else None.
    D_error
        Standard error of D in Hz when D was fitted and uncertainties were given, else None.
    parameter_covariance
        Covariance of (Bx, By, Bz[, D]) in T and Hz, or None.
    chi2
        Σ (residual/σ)² when uncertainties were given, else None.
    equivalent_fields
        (m, 3): every field (this one included) that gives the same lines — within the line
        uncertainty, or 1 Hz without one — under the symmetries of the axes: ±B for assigned
        lines (more on symmetric directions), up to 48 signed permutations for unassigned
        ones.
    assigned
        True when the lines were given per axis.
    success
        True when the fit converged and the parameters are determined (full-rank Jacobian).
    message
        What happened, in words.
    D_fitted
        True when D was fitted (``D=None``), False when it was held fixed.
    alternatives
        Other solutions ``(field, D)`` that reproduce the lines as well but are not symmetric
        images of this one.  This happens with merged lines (e.g. 4 lines for a field near
        [111], which a field in a {110} plane with another D can also produce); a ``guess``
        picks among all of them.
    chi2_reduced, p_value
        χ² per degree of freedom and its tail probability (the goodness of fit), when line
        uncertainties were given and there are more lines than parameters, else None.
    errors_scaled
        True when the lines scatter more than their uncertainties allow (tail probability
        below 1e-3): ``covariance`` and ``D_error`` are then scaled by the reduced χ², as a
        least-squares fit with ``scale_covar`` does, so that they describe the real scatter.
    strain_E
        When the lines are also explained by strain at zero field (a pair split symmetrically
        about D by no more than 2·:data:`STRAIN_E_MAX_HZ`) and no E was given: the E (Hz) that
        explains them; the field found is then not determined by the lines alone (``success``
        is False) — pass ``E`` (measured at zero field, 0 for an unstrained sample).
    """

    field: NDArray[np.float64]
    D: float
    E: float
    residuals: NDArray[np.float64]
    model_lines: NDArray[np.float64]
    assignment: NDArray[np.int64]
    covariance: NDArray[np.float64] | None
    D_error: float | None
    parameter_covariance: NDArray[np.float64] | None
    chi2: float | None
    equivalent_fields: NDArray[np.float64]
    assigned: bool
    success: bool
    message: str
    D_fitted: bool = True
    alternatives: tuple[tuple[NDArray[np.float64], float], ...] = ()
    chi2_reduced: float | None = None
    p_value: float | None = None
    errors_scaled: bool = False
    strain_E: float | None = None

    @property
    def field_errors(self) -> NDArray[np.float64] | None:
        """Standard errors of the three components in T, or None."""
        return None if self.covariance is None else np.sqrt(np.diag(self.covariance))

    @property
    def magnitude(self) -> float:
        """|B| in T."""
        return float(np.linalg.norm(self.field))

    @property
    def magnitude_error(self) -> float | None:
        """Standard error of |B| in T (linear propagation), or None."""
        if self.covariance is None or self.magnitude == 0:
            return None
        unit = self.field / self.magnitude
        return float(np.sqrt(max(unit @ self.covariance @ unit, 0.0)))
