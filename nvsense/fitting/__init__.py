"""Fitting engine: line-shape models, initial guesses, careful and batched fits.

- :func:`fit_spectrum` fits one spectrum with lmfit (uncertainties, report).
- :func:`fit_batch` fits many spectra at once with a compiled Levenberg–Marquardt.

Both take the same models ("lorentzian", "gaussian", "14n", "15n", "hamiltonian"), baselines
(constant, linear, quadratic) and signals (dips, peaks, the dispersive lines of FM lock-in
detection); see :mod:`nvsense.fitting.models`.  :func:`count_lines` counts lines and
:func:`lines_present` is the line detector (its false-alarm rate is bounded, see
:mod:`nvsense.fitting.detection`).  This package imports only ``nvsense.physics`` of nvsense.
"""

from .batch import DEFAULT_CHUNK_SIZE, fit_batch
from .detection import LineCount, count_lines, detection_threshold, dip_statistic, lines_present
from .errors import FitInputError, NoDipFoundError, PoissonWeightsWarning
from .field_guess import axial_transverse, canonical_field, field_from_lines, symmetric_equivalents
from .models import (
    MODELS,
    SIGNALS,
    ModelSpec,
    dip_spectrum,
    gaussian,
    hamiltonian_spectrum,
    lorentzian,
    lorentzian_derivative,
    make_model,
)
from .results import BatchFitResult, LineFit
from .signal_detect import detect_signal
from .single import SpectrumFit, fit_spectrum
from .status import FitStatus, describe_status

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MODELS",
    "SIGNALS",
    "BatchFitResult",
    "FitInputError",
    "FitStatus",
    "LineCount",
    "LineFit",
    "ModelSpec",
    "NoDipFoundError",
    "PoissonWeightsWarning",
    "SpectrumFit",
    "axial_transverse",
    "canonical_field",
    "count_lines",
    "describe_status",
    "detect_signal",
    "detection_threshold",
    "dip_spectrum",
    "dip_statistic",
    "field_from_lines",
    "fit_batch",
    "fit_spectrum",
    "gaussian",
    "hamiltonian_spectrum",
    "lines_present",
    "lorentzian",
    "lorentzian_derivative",
    "make_model",
    "symmetric_equivalents",
]
