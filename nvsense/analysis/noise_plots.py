"""Figure of a noise report: ASD with floor, tones and shot-noise limit; Allan deviation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .noise import NoiseReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_noise"]


def plot_noise(report: NoiseReport, path: str | Path | None = None,
               title: str | None = None) -> Figure:
    """Two panels: the ASD (log-log) with the noise-floor band, the floor, the detected tones
    and the shot-noise limit; the Allan deviation with the white-noise line ρ/√(2τ) of the
    floor.

    Parameters
    ----------
    report
        From :func:`nvsense.analysis.analyse_noise`.
    path
        Save the figure there when given.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    unit = report.unit
    scale, prefix = (1e9, "n") if unit == "T" else (1.0, "")
    fig = Figure(figsize=(11, 4), layout="constrained")
    asd_ax, allan_ax = fig.subplots(1, 2)

    sd = report.spectrum
    keep = sd.frequency > 0
    asd_ax.loglog(sd.frequency[keep], sd.asd[keep] * scale, lw=0.7, color="k", label="ASD")
    lo, hi = report.band
    asd_ax.axvspan(lo, hi, color="C0", alpha=0.08, label=f"band {lo:g}–{hi:.3g} Hz")
    asd_ax.hlines(report.floor * scale, lo, hi, color="C0", lw=2,
                  label=f"floor {report.floor * scale:.3g} {prefix}{unit}/√Hz")
    if report.shot_noise_limit is not None:
        asd_ax.axhline(report.shot_noise_limit * scale, color="C3", ls="--", lw=1,
                       label=f"shot-noise limit (floor / limit = "
                             f"{report.shot_noise_ratio:.2g})")
    for tone in report.tones:
        asd_ax.annotate(f"{tone.frequency:.4g} Hz\n{tone.amplitude * scale:.3g} {prefix}{unit}",
                        (tone.frequency, np.interp(tone.frequency, sd.frequency, sd.asd) * scale),
                        textcoords="offset points", xytext=(5, -14), fontsize=7, color="C1")
    asd_ax.set(xlabel="frequency (Hz)", ylabel=f"ASD ({prefix}{unit}/√Hz)",
               title="amplitude spectral density (one-sided)")
    asd_ax.margins(y=0.15)
    asd_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    asd_ax.yaxis.set_minor_formatter(FuncFormatter(_two_and_five))
    asd_ax.legend(fontsize=7, loc="best")

    if report.allan is not None:
        a = report.allan
        allan_ax.errorbar(a.tau, a.deviation * scale, yerr=a.error * scale, fmt="o", ms=3,
                          color="k", lw=0.8, label="overlapping Allan deviation")
        allan_ax.loglog(a.tau, report.floor / np.sqrt(2 * a.tau) * scale, color="C0", lw=1,
                        label="floor / √(2τ) (white noise)")
        allan_ax.set(xscale="log", yscale="log", xlabel="τ (s)",
                     ylabel=f"Allan deviation ({prefix}{unit})", title="Allan deviation")
        allan_ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def _two_and_five(value: float, _position: int) -> str:
    """Label the 2 and 5 minor ticks of a log axis: readable without crowding."""
    if value <= 0:
        return ""
    mantissa = round(value / 10 ** np.floor(np.log10(value)), 6)
    return f"{value:g}" if mantissa in (2.0, 5.0) else ""
