"""Exceptions of the fitting engine."""

from __future__ import annotations

__all__ = ["FitInputError", "NoDipFoundError", "PoissonWeightsWarning"]


class FitInputError(ValueError):
    """The data or options given to a fit cannot be used; the message says how to fix them."""


class NoDipFoundError(FitInputError):
    """``n_lines=None`` was asked for but the spectrum shows no dip above the noise."""


class PoissonWeightsWarning(UserWarning):
    """``sigma="poisson"`` was asked for on data that cannot be photon counts (negative values,
    values normalised to ~1, or not whole numbers without ``n_averages``/``counts_per_unit``)."""
