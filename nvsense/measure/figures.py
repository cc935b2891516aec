"""Static figures of measurement results (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["save_spectrum_figure"]


def save_spectrum_figure(path: str | Path, frequencies: np.ndarray, average: np.ndarray,
                         fit: Any, *, title: str = "", sweeps: int | None = None) -> Path:
    """Save the averaged ODMR spectrum with its fit (and residuals) as a PNG.

    Parameters
    ----------
    path
        The PNG to write.
    frequencies, average
        The sweep (Hz) and its running average.
    fit
        A :class:`nvsense.measure.SweepAnalysis` of ``average`` (or None: data only).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax, res = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    f_mhz = np.asarray(frequencies) / 1e6
    label = f"average of {sweeps} sweeps" if sweeps else "data"
    ax.plot(f_mhz, average, ".", ms=3, color="0.35", label=label)
    if fit is not None:
        fine = np.linspace(frequencies[0], frequencies[-1], 20 * len(frequencies))
        ax.plot(fine / 1e6, fit.curve(fine), "-", lw=1.0, color="C3",
                label="fit" + ("" if fit.success else f" ({fit.message})"))
        res.plot(f_mhz, average - fit.best_fit, ".", ms=2, color="C0")
        res.axhline(0, color="0.5", lw=0.8)
        for c in fit.centers:
            ax.axvline(c / 1e6, color="C3", lw=0.5, alpha=0.4)
        text = _field_text(fit)
        if text:
            title = f"{title}\n{text}" if title else text
    ax.set_ylabel("PL (counts per point)")
    res.set_ylabel("residual")
    res.set_xlabel("microwave frequency (MHz)")
    ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=110)
    return path


def _field_text(fit: Any) -> str:
    if fit.kind == "vector" and np.all(np.isfinite(fit.field)):
        b = ", ".join(f"{v * 1e3:.4f}" for v in fit.field)
        return f"B = ({b}) mT   D = {fit.D / 1e6:.3f} MHz"
    if fit.kind == "parallel" and np.isfinite(fit.field_parallel):
        return f"B∥ = {fit.field_parallel * 1e3:.4f} mT   D = {fit.D / 1e6:.3f} MHz"
    return ""
