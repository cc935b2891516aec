"""What an ODMR run produced (:class:`OdmrResult`), and the JSON of ``nvsense odmr --json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..analysis import SweepAnalysis
from ..resonance import RESONANCE_KEY, ResonanceCheck
from ..settings import OdmrSettings

__all__ = ["OdmrResult"]


@dataclass
class OdmrResult:
    """What an ODMR run produced.

    Attributes
    ----------
    status
        ``"completed"`` or ``"aborted"`` (``reason`` says why).
    final
        The fit of the final running average (lines, field, D), or None if no sweep completed.
    error
        The instrument error that aborted the run, if any (the CLI exits 1 for it).
    """

    run_id: str | None
    file: Path | None
    status: str
    reason: str | None
    sweeps: int
    settings: OdmrSettings
    frequencies: NDArray[np.float64]
    average: NDArray[np.float64] | None
    final: SweepAnalysis | None
    safe_report: list[str] = field(default_factory=list)
    error: Exception | None = None
    resonance: ResonanceCheck | None = None

    @property
    def resonance_found(self) -> bool | None:
        """Whether the run measured a resonance (:func:`~nvsense.measure.resonance.
        check_resonance` on the final average); ``None`` if no sweep completed."""
        return None if self.resonance is None else self.resonance.found

    @property
    def warnings(self) -> list[str]:
        """What the person at the bench must know about the result (no resonance measured,
        lines sampled too coarsely)."""
        return [] if self.resonance is None else self.resonance.notes()

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``nvsense odmr --json``."""
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "file": str(self.file) if self.file else None,
            "status": self.status,
            "reason": self.reason,
            "sweeps": self.sweeps,
            "lines_hz": None,
            "line_errors_hz": None,
            "field_t": None,
            "field_errors_t": None,
            "d_hz": None,
            "d_error_hz": None,
        }
        out[RESONANCE_KEY] = self.resonance_found
        out["warnings"] = self.warnings
        fit = self.final
        if fit is None:
            return out
        out["lines_hz"] = [_num(c) for c in fit.centers]
        out["line_errors_hz"] = [_num(e) for e in fit.center_errors]
        out["fit_success"] = fit.success
        if fit.kind == "vector":
            out["field_t"] = [_num(b) for b in fit.field]
            out["field_errors_t"] = [_num(e) for e in fit.field_errors]
        elif fit.kind == "parallel":
            out["field_t"] = _num(fit.field_parallel)
            out["field_errors_t"] = _num(fit.field_parallel_error)
        out["field_kind"] = fit.kind
        if fit.kind != "none":
            out["d_hz"] = _num(fit.D)
            out["d_error_hz"] = _num(fit.D_error)
        return out


def _num(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
