"""Fitting engine: line-shape models, initial guesses, careful and batched fits.

- :func:`fit_spectrum` fits one spectrum with lmfit (uncertainties, report).
- :func:`fit_batch` fits many spectra at once with a compiled Levenberg–Marquardt.

Both take the same models ("lorentzian", "gaussian", "14n", "15n", "hamiltonian"); see
:mod:`nvsense.fitting.models`.  This package imports only ``nvsense.physics`` of nvsense.
"""

from .batch import DEFAULT_CHUNK_SIZE, fit_batch
from .errors import FitInputError, NoDipFoundError
from .field_guess import axial_transverse, canonical_field, field_from_lines, symmetric_equivalents
from .models import (
    MODELS,
    ModelSpec,
    dip_spectrum,
    gaussian,
    hamiltonian_spectrum,
    lorentzian,
    make_model,
)
from .results import BatchFitResult, LineFit
from .single import SpectrumFit, fit_spectrum
from .status import FitStatus, describe_status

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MODELS",
    "BatchFitResult",
    "FitInputError",
    "FitStatus",
    "LineFit",
    "ModelSpec",
    "NoDipFoundError",
    "SpectrumFit",
    "axial_transverse",
    "canonical_field",
    "describe_status",
    "dip_spectrum",
    "field_from_lines",
    "fit_batch",
    "fit_spectrum",
    "gaussian",
    "hamiltonian_spectrum",
    "lorentzian",
    "make_model",
    "symmetric_equivalents",
]
