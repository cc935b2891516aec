"""Text of the live results: field, D, lines, progress (plain functions, no Qt)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["d_text", "field_text", "lines_rows", "progress_text", "si_time"]


def _finite(*values: float) -> bool:
    return all(math.isfinite(float(v)) for v in values)


def field_text(fit: Any) -> str:
    """The field with its errors: ``"B∥ = 1.23456 ± 0.00021 mT"`` or ``"B = (…) mT ± (…) µT
    |B| = … mT"``; explains why there is no field otherwise."""
    if fit is None:
        return "B: fit failed"
    if fit.kind == "vector" and np.all(np.isfinite(fit.field)):
        b = ", ".join(f"{v * 1e3:.4f}" for v in fit.field)
        e = ", ".join(f"{v * 1e6:.2f}" if _finite(v) else "?" for v in fit.field_errors)
        norm = float(np.linalg.norm(fit.field)) * 1e3
        return f"B = ({b}) mT ± ({e}) µT    |B| = {norm:.4f} mT"
    if fit.kind == "parallel" and _finite(fit.field_parallel):
        err = fit.field_parallel_error
        e = f"{err * 1e6:.2f} µT" if _finite(err) else "?"
        return f"B∥ = {fit.field_parallel * 1e3:.5f} mT ± {e}"
    n = len(fit.centers)
    if fit.kind == "none":
        return f"B: no field from {n} line{'s' if n != 1 else ''} (2 give B∥, 8 the vector)"
    return f"B: not determined ({fit.message or 'fit failed'})"


def d_text(fit: Any) -> str:
    """Zero-field splitting with its error, ``"D = 2870.0012 ± 0.0071 MHz"``."""
    if fit is None or fit.kind == "none" or not _finite(fit.D):
        return "D: –"
    err = f"{fit.D_error / 1e6:.4f}" if _finite(fit.D_error) else "?"
    return f"D = {fit.D / 1e6:.4f} ± {err} MHz"


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
