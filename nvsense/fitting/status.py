"""Per-spectrum fit status codes.

Every fitted spectrum gets one code; ``success`` is ``status == FitStatus.OK``.  The codes are
small integers so that a widefield status map is a compact array (``int8``).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["FitStatus", "describe_status"]


class FitStatus(IntEnum):
    """Why a fit is (not) trusted.  Only ``OK`` counts as success."""

    #: Converged; every parameter inside its bounds; every line significant.
    OK = 0
    #: Did not converge within ``max_iter`` iterations.
    MAX_ITER = 1
    #: Non-finite values (NaN, inf) in the spectrum or its sigma, or too few points.
    BAD_INPUT = 2
    #: A center, width, field component or D ended on its bound: the true value is probably
    #: outside the allowed window (line off the sweep, window too narrow).
    AT_BOUND = 3
    #: The covariance matrix is singular: some parameter is not determined by the data.
    SINGULAR = 4
    #: A line's contrast is below ``min_significance`` times its error (no real dip there).
    NOT_SIGNIFICANT = 5
    #: The fit produced non-finite values.
    NUMERICAL = 6
    #: The result is physically implausible: a dip deeper than half the signal, a baseline far
    #: outside the data, or lines much larger than the data (e.g. peaks fitted as dips).
    IMPLAUSIBLE = 7
    #: Another starting point found a clearly lower χ²: this fit is a local minimum.
    LOCAL_MINIMUM = 8
    #: The data hold more lines than the number given: the lines fitted are averages of
    #: several resonances (``fit_spectrum`` with ``n_lines`` given; the lines are counted as
    #: for ``n_lines=None``).
    TOO_FEW_LINES = 9

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    FitStatus.OK: "converged",
    FitStatus.MAX_ITER: "did not converge within max_iter iterations",
    FitStatus.BAD_INPUT: "spectrum or sigma has NaN/inf values, or fewer points than parameters",
    FitStatus.AT_BOUND: "a center, width, field or D ended on its bound",
    FitStatus.SINGULAR: "singular covariance: some parameter is not determined by the data",
    FitStatus.NOT_SIGNIFICANT: "a line's contrast is not significant (no dip there)",
    FitStatus.NUMERICAL: "the fit produced non-finite values",
    FitStatus.IMPLAUSIBLE: ("implausible result (contrast above 0.5, baseline far outside the "
                            "data, lines larger than the data, or a line on the sweep's edge: "
                            "check signal= dips/peaks/derivative and the number of lines)"),
    FitStatus.LOCAL_MINIMUM: "another starting point found a clearly lower χ² (local minimum)",
    FitStatus.TOO_FEW_LINES: ("the data hold more lines than n_lines: the lines fitted average "
                              "several resonances (leave n_lines unset to count them)"),
}


def describe_status(status: ArrayLike) -> dict[str, int]:
    """Count spectra per status name, e.g. ``{"OK": 9990, "AT_BOUND": 10}``."""
    codes = np.asarray(status).ravel()
    counts: NDArray[np.int64] = np.bincount(codes.astype(np.int64), minlength=len(FitStatus))
    return {FitStatus(c).name: int(n) for c, n in enumerate(counts) if n}
