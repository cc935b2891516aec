"""Exceptions of the fitting engine."""

from __future__ import annotations

__all__ = ["FitInputError", "NoDipFoundError"]


class FitInputError(ValueError):
    """The data or options given to a fit cannot be used; the message says how to fix them."""


class NoDipFoundError(FitInputError):
    """``n_lines=None`` was asked for but the spectrum shows no dip above the noise."""
