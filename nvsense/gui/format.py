"""Text of the live results: field, D, lines, progress (plain functions, no Qt)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..formatting import StickyUnit, format_value_error

__all__ = ["d_text", "field_text", "lines_rows", "progress_text", "sample_text", "si_time"]


def _finite(*values: float) -> bool:
    return all(math.isfinite(float(v)) for v in values)


def field_text(fit: Any, unit: StickyUnit | None = None) -> str:
    """The field with its errors in one unit (:mod:`nvsense.formatting`, as the CLI prints
    it): ``"B∥ = 999.20 ± 0.79 µT"`` or ``"B = (0.40002 ± 0.00015, …) mT    |B| = 2.2000
    mT"``; explains why there is no field otherwise.  A fit of a spectrum without a resonance
    is never shown as a field.

    Parameters
    ----------
    fit
        A :class:`~nvsense.measure.documents.FitSummary` (or ``None``: the fit failed).
    unit
        The live display's :class:`~nvsense.formatting.StickyUnit` (in T), so that a field
        near a prefix boundary keeps one unit from sweep to sweep.
    """
    if fit is None:
        return "B: fit failed"
    if getattr(fit, "resonance_found", None) is False:
        return "B: no resonance measured (the fitted lines are noise)"
    unit = unit if unit is not None else StickyUnit("T")
    if fit.kind == "vector" and np.all(np.isfinite(fit.field)):
        vector = unit.format_vector(list(fit.field), list(fit.field_errors))
        norm = float(np.linalg.norm(fit.field))
        return f"B = {vector}    |B| = {unit.format(norm, digits=5)}"
    if fit.kind == "parallel" and _finite(fit.field_parallel):
        err = fit.field_parallel_error
        return f"B∥ = {unit.format(fit.field_parallel, err if _finite(err) else math.nan)}"
    n = len(fit.centers)
    if fit.kind == "none":
        return f"B: no field from {n} line{'s' if n != 1 else ''} (2 give B∥, 8 the vector)"
    return f"B: not determined ({fit.message or 'fit failed'})"


def d_text(fit: Any) -> str:
    """Zero-field splitting with its error in MHz, ``"D = 2870.0012 ± 0.0071 MHz"``."""
    if fit is None or fit.kind == "none" or not _finite(fit.D) \
            or getattr(fit, "resonance_found", None) is False:
        return "D: –"
    err = fit.D_error if _finite(fit.D_error) else math.nan
    return f"D = {format_value_error(fit.D, err, 'Hz', prefix='M')}"


def lines_rows(fit: Any) -> list[tuple[str, str, str, str]]:
    """Rows of the lines table: center (MHz), its error (kHz), FWHM (MHz), contrast (%)."""
    if fit is None:
        return []
    rows = []
    for c, e, w, k in zip(fit.centers, fit.center_errors, fit.widths, fit.contrasts):
        rows.append((f"{c / 1e6:.4f}", f"{e / 1e3:.2f}" if _finite(e) else "?",
                     f"{w / 1e6:.3f}", f"{k * 100:.2f}"))
    return rows


def si_time(seconds: float) -> str:
    """``"42.0 s"``, ``"3 min 05 s"``, ``"1 h 02 min"``."""
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def progress_text(index: int, planned: int | None, elapsed: float) -> str:
    """``"sweep 12 / 100 · 3.4 s"`` (``index`` counts from 0)."""
    total = f" / {planned}" if planned else ""
    return f"sweep {index + 1}{total} · {si_time(elapsed)}"


def sample_text(bench: Any, pace: str | None = None) -> str:
    """What the bench declares about its sample (:attr:`nvsense.instruments.Bench.sample_info`,
    never the simulator's ground truth), for the bench label: ``" · simulated sample:
    ensemble, NV axes 0-3, 14N, fast pace"`` or ``" · sample (bench file): single NV, NV axis
    0"``; empty when nothing is declared."""
    info = getattr(bench, "sample_info", None)
    if info is None:
        return ""
    parts = []
    if info.nv is not None:
        parts.append("single NV" if info.nv == "single" else "ensemble")
    if info.axes is not None:
        axes = list(info.axes)
        if axes == list(range(axes[0], axes[-1] + 1)) and len(axes) > 2:
            parts.append(f"NV axes {axes[0]}-{axes[-1]}")
        else:
            parts.append(("NV axis " if len(axes) == 1 else "NV axes ")
                         + ", ".join(str(a) for a in axes))
    if info.nucleus not in (None, "none"):
        parts.append(str(info.nucleus))
    if info.source == "simulated sample":
        if pace:
            parts.append(f"{pace} pace")
        return " · simulated sample: " + ", ".join(parts)
    return " · sample (bench file): " + ", ".join(parts) if parts else ""
