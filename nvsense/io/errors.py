"""Errors of the spectrum readers."""

from __future__ import annotations

__all__ = ["SpectrumFileError"]


class SpectrumFileError(ValueError):
    """A spectrum file cannot be read as a spectrum; the message names the file and the fix
    (an option of :func:`nvsense.io.load_spectrum`, usually)."""
