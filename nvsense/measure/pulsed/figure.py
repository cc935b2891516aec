"""The figure of a pulsed run: its sequence above, its signal with the fit below (PNG)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .result import PulsedResult

__all__ = ["result_lines", "save_pulsed_figure"]

#: How each result is shown: key -> (label, SI unit, prefix).
_SHOWN = {
    "rabi_frequency_hz": ("Rabi frequency", "Hz", "M"),
    "pi_pulse_s": ("π pulse", "s", "n"),
    "t2star_s": ("T2*", "s", "µ"),
    "detuning_hz": ("detuning", "Hz", "M"),
    "t2_s": ("T2", "s", "µ"),
    "t1_s": ("T1", "s", "m"),
    "mw_frequency_hz": ("resonance", "Hz", "M"),
    "ac_field_t": ("AC field", "T", "n"),
}


def result_lines(values: dict[str, Any], keys: Any) -> list[str]:
    """``"T2 = 98.1 ± 2.3 µs"`` for each of ``keys`` in ``values`` (JSON keys)."""
    from ...formatting import format_value_error

    lines = []
    for key in keys:
        v, e = values.get(key), values.get(f"{key}_error")
        if v is None or not math.isfinite(v) or key not in _SHOWN:
            continue
        label, unit, prefix = _SHOWN[key]
        lines.append(f"{label} = {format_value_error(v, e, unit, prefix=prefix)}")
    return lines


def _x_scale(result: PulsedResult) -> tuple[float, str]:
    if result.protocol == "podmr":
        return 1e-6, "microwave frequency (MHz)"
    x = np.asarray(result.x)
    top = float(np.nanmax(x)) if x.size else 1.0
    program = result.program
    label = (program.sweep.label if program is not None and program.sweep is not None
             and program.sweep.label else "τ")
    if top < 2e-6:
        return 1e9, f"{label} (ns)"
    if top < 2e-3:
        return 1e6, f"{label} (µs)"
    return 1e3, f"{label} (ms)"


def save_pulsed_figure(path: str | Path, result: PulsedResult) -> Path:
    """Save the sequence (one shot, :func:`nvsense.pulses.draw_program`) and the final signal
    with its fit as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from ...pulses import draw_program
    from .fits import result_keys

    path = Path(path)
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    seq_ax, ax = fig.subplots(2, 1, height_ratios=[2, 3])
    if result.program is not None:
        draw_program(result.program, ax=seq_ax)
    else:
        seq_ax.set_axis_off()
    scale, xlabel = _x_scale(result)
    if result.signal is not None:
        x = np.asarray(result.x) * scale
        ax.errorbar(x, result.signal, result.signal_error, fmt=".", ms=4, color="0.3",
                    lw=0.8, label=f"average of {result.averages}")
        fit = result.fit
        if fit is not None and fit.curve is not None:
            state = "fit" if fit.success else f"fit (not trusted: {fit.message})"
            raw = np.asarray(result.x)
            fine = np.linspace(raw.min(), raw.max(), 20 * raw.size)
            curve = fit.evaluate(fine)
            if curve is None:
                fine, curve = raw, fit.curve
            ok = np.isfinite(curve)
            ax.plot(fine[ok] * scale, curve[ok], "-", color="C3", lw=1.2, label=state)
            lines = result_lines(fit.values, result_keys(result.settings))
            if lines:
                ax.set_title("   ".join(lines), fontsize=10)
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"signal ({result.program.readouts and _norm_label(result)})"
                  if result.program is not None else "signal")
    fig.savefig(path, dpi=100)
    return path


def _norm_label(result: PulsedResult) -> str:
    from ...pulses.signals import normalisation_method

    return {"population": "ms=0 population", "phase_cycled": "phase-cycled contrast",
            "ratio": "signal / ref0", "mean": "signal / mean"}[
        normalisation_method(result.program.readouts)]
