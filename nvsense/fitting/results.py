"""Fit results: arrays for a batch, and a small object per spectrum for the live loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .models import ModelSpec, dip_spectrum
from .status import FitStatus, describe_status

__all__ = ["BatchFitResult", "LineFit", "SingleFitMixin"]


def _seeds(result: Any, *, hamiltonian: bool, width: Any = None) -> dict[str, Any]:
    """The seeds a fit result gives the next fit (``guess=``): the field, D, E, one ``width``
    and the axis contrasts for the Hamiltonian model, else the lines; with the baseline."""
    if hamiltonian:
        g = {"field": result.field, "D": result.D, "E": result.E, "width": width,
             "contrasts": result.axis_contrasts, "offset": result.baseline,
             "slope": result.baseline_slope}
    else:
        g = {"centers": result.centers, "widths": result.widths, "contrasts": result.contrasts,
             "offset": result.baseline, "slope": result.baseline_slope}
    if result.model.n_base == 3 and result.baseline_curvature is not None:
        g["curvature"] = result.baseline_curvature
    return g


class SingleFitMixin:
    """What the result of one spectrum says the same way in :class:`LineFit` and
    :class:`~nvsense.fitting.SpectrumFit`: success, message, seeds for the next fit."""

    status: FitStatus
    field: NDArray[np.float64] | None
    widths: NDArray[np.float64]

    @property
    def success(self) -> bool:
        return self.status == FitStatus.OK

    @property
    def message(self) -> str:
        return self.status.message

    def as_guess(self) -> dict[str, Any]:
        """Seed values for the next fit (``fit_batch(..., guess=this)``)."""
        if self.field is not None:
            return _seeds(self, hamiltonian=True, width=float(np.median(self.widths)))
        return _seeds(self, hamiltonian=False)


@dataclass(frozen=True)
class LineFit(SingleFitMixin):
    """The fit of one spectrum from :func:`fit_batch` (``result[i]``), all SI.

    Use it as the ``guess=`` of the next fit to track drifting lines.
    """

    model: ModelSpec
    centers: NDArray[np.float64]
    center_errors: NDArray[np.float64]
    widths: NDArray[np.float64]
    width_errors: NDArray[np.float64]
    contrasts: NDArray[np.float64]
    contrast_errors: NDArray[np.float64]
    baseline: float
    baseline_slope: float
    chisqr: float
    redchi: float
    n_iter: int
    status: FitStatus
    field: NDArray[np.float64] | None = None
    field_errors: NDArray[np.float64] | None = None
    D: float | None = None
    D_error: float | None = None
    E: float | None = None
    axis_contrasts: NDArray[np.float64] | None = None
    baseline_curvature: float = 0.0



class _HamiltonianArray:
    """A per-spectrum array of the Hamiltonian model, read from ``BatchFitResult.extra``
    under the attribute's name (AttributeError for another model)."""

    def __init__(self, doc: str | None = None) -> None:
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def __get__(self, result: BatchFitResult | None, owner: type) -> Any:
        if result is None:
            return self
        return result._extra(self.key)


@dataclass(frozen=True)
class BatchFitResult:
    """Results of :func:`nvsense.fitting.fit_batch` for N spectra, as arrays (SI units).

    Per-line arrays have shape (N, n_lines), lines sorted by center.  For the "14n"/"15n"
    models a line is a resonance (the multiplet's center).  For "hamiltonian" the lines are
    the 2·n_axes transitions implied by the fitted field (sorted), their widths the shared
    width and their contrasts the contrast of the axis each belongs to.  Failed spectra have
    ``success`` False and a :class:`FitStatus` in ``status``; their values are NaN when the
    input was bad, else the last iterate (do not use them).
    """

    model: ModelSpec
    f_ref: float
    param_names: list[str]
    params: NDArray[np.float64]
    param_errors: NDArray[np.float64]
    centers: NDArray[np.float64]
    center_errors: NDArray[np.float64]
    widths: NDArray[np.float64]
    width_errors: NDArray[np.float64]
    contrasts: NDArray[np.float64]
    contrast_errors: NDArray[np.float64]
    baseline: NDArray[np.float64]
    baseline_slope: NDArray[np.float64]
    chisqr: NDArray[np.float64]
    redchi: NDArray[np.float64]
    n_iter: NDArray[np.int32]
    status: NDArray[np.int8]
    extra: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    baseline_curvature: NDArray[np.float64] | None = None

    @property
    def success(self) -> NDArray[np.bool_]:
        """(N,) True where the fit is trusted (status OK)."""
        return self.status == FitStatus.OK

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.success)) if len(self) else float("nan")

    def status_counts(self) -> dict[str, int]:
        """Number of spectra per status name."""
        return describe_status(self.status)

    # Hamiltonian model
    field = _HamiltonianArray("(N, 3) fitted field vectors, T (Hamiltonian model).")
    field_errors = _HamiltonianArray()
    D = _HamiltonianArray()
    D_error = _HamiltonianArray()
    E = _HamiltonianArray()
    axis_contrasts = _HamiltonianArray("(N, n_axes) contrast of each axis (Hamiltonian model).")
    transitions = _HamiltonianArray(
        "(N, n_axes, 2) the two lines of each axis, Hz (Hamiltonian model).")

    def _extra(self, key: str) -> NDArray[np.float64]:
        if key not in self.extra:
            raise AttributeError(f"{key} is available for the 'hamiltonian' model only; this "
                                 f"result is from model {self.model.name!r}")
        return self.extra[key]

    def __len__(self) -> int:
        return int(self.status.shape[0])

    def __getitem__(self, i: int) -> LineFit:
        """The fit of spectrum ``i`` as a :class:`LineFit`."""
        if not isinstance(i, int | np.integer):
            raise TypeError("index a BatchFitResult with one integer; use the arrays for more")
        i = int(i)
        ham = self.model.is_hamiltonian
        return LineFit(
            model=self.model,
            centers=self.centers[i].copy(), center_errors=self.center_errors[i].copy(),
            widths=self.widths[i].copy(), width_errors=self.width_errors[i].copy(),
            contrasts=self.contrasts[i].copy(), contrast_errors=self.contrast_errors[i].copy(),
            baseline=float(self.baseline[i]), baseline_slope=float(self.baseline_slope[i]),
            chisqr=float(self.chisqr[i]), redchi=float(self.redchi[i]),
            n_iter=int(self.n_iter[i]), status=FitStatus(int(self.status[i])),
            field=self.field[i].copy() if ham else None,
            field_errors=self.field_errors[i].copy() if ham else None,
            D=float(self.D[i]) if ham else None, D_error=float(self.D_error[i]) if ham else None,
            E=float(self.E[i]) if ham else None,
            axis_contrasts=self.axis_contrasts[i].copy() if ham else None,
            baseline_curvature=float(self.baseline_curvature[i])
            if self.baseline_curvature is not None else 0.0,
        )

    def as_guess(self) -> dict[str, Any]:
        """Per-spectrum seeds for another :func:`fit_batch` of the same spectra."""
        if self.model.is_hamiltonian:
            return _seeds(self, hamiltonian=True, width=self.widths[:, 0])
        return _seeds(self, hamiltonian=False)

    def as_dict(self) -> dict[str, NDArray[Any]]:
        """Every per-spectrum array by name (for xarray/Dask/NetCDF)."""
        d: dict[str, NDArray[Any]] = {
            "centers": self.centers, "center_errors": self.center_errors,
            "widths": self.widths, "width_errors": self.width_errors,
            "contrasts": self.contrasts, "contrast_errors": self.contrast_errors,
            "baseline": self.baseline, "baseline_slope": self.baseline_slope,
            "baseline_curvature": (self.baseline_curvature if self.baseline_curvature is not None
                                   else np.zeros_like(self.baseline)),
            "chisqr": self.chisqr, "redchi": self.redchi, "n_iter": self.n_iter,
            "status": self.status, "success": self.success,
        }
        d.update(self.extra)
        return d

    def best_fit(self, frequencies: NDArray[np.float64], i: int) -> NDArray[np.float64]:
        """The fitted model of spectrum ``i`` on ``frequencies`` (Hz)."""
        row = self[i]
        m = self.model
        if m.is_hamiltonian:
            from .models import hamiltonian_spectrum

            return hamiltonian_spectrum(
                frequencies, row.field, float(np.median(row.widths)), row.axis_contrasts,
                D=row.D, E=row.E, offset=row.baseline, slope=row.baseline_slope,
                lineshape=m.lineshape, offsets=m.offsets, axes=m.axes, f_ref=self.f_ref,
                curvature=row.baseline_curvature, signal=m.signal)
        return dip_spectrum(frequencies, row.centers, row.widths, row.contrasts,
                            offset=row.baseline, slope=row.baseline_slope,
                            lineshape=m.lineshape, offsets=m.offsets, f_ref=self.f_ref,
                            curvature=row.baseline_curvature, signal=m.signal)
