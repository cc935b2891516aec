"""Calibration of a lock-in run: find the lines, pick the modulation depth, measure the slope.

1. **Coarse sweep** (FM off): the photodiode level, signal over reference (the laser's
   intensity noise divides out), at each frequency of ``settings.sweep``; dips are found and
   the k-th pair from the outside is axis k (hyperfine triplets count as one resonance).
2. **Line shape**: a lock-in sweep of the control value across the line at a small depth
   (δ ≈ 0.2·FWHM), fitted with the Lorentzian-derivative model
   (:func:`nvsense.fitting.fit_spectrum`, ``signal_kind="derivative"``): centre and width.
3. **Modulation depth** (unless given): for depths 0.2–0.7 × FWHM, the slope (two points at
   ±0.1·FWHM) over the noise (spread of the quadrature output at the centre, where fields
   leave no signal); the best ratio wins.
4. **Slope**: a lock-in sweep at the chosen depth, fitted again for the centre; the slope k
   at the centre is the straight-line fit of the points within ±0.15·FWHM of it (the fitted
   model's slope is biased once δ is not small against the width: the line shape of sine FM
   is not exactly the derivative).  The phase of each sensor's response (the principal
   direction of X + iY over the sweep) rotates it into X.

Each optional scheme is measured against the plain one: the hyperfine drive's gain is its
slope over one tone's; dual resonance's is its field response (2·k_S per γ) over one line's.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..lifecycle import RunAborted
from .probe import Actuator, Probe

__all__ = ["LineCalibration", "LockinCalibration", "coarse_resonances", "find_resonances",
           "measure_line"]

log = logging.getLogger(__name__)

#: Resonances closer than this are one (a ¹⁴N triplet spans 4.3 MHz), Hz.
GROUP_SPAN = 6e6
#: Points of a line-shape sweep over ±1.5 FWHM: 0.075·FWHM apart, 5 within ±0.15·FWHM.
SWEEP_POINTS = 41
#: Depths tried (× FWHM) when the deviation is not given.
DEPTH_CANDIDATES = (0.2, 0.3, 0.4, 0.5, 0.7)
#: Blocks over which the error signal's spread is measured for each depth.
NOISE_BLOCKS = 40


@dataclass
class LineCalibration:
    """One lock point: what the sweeps found.

    Attributes
    ----------
    centre
        Control value at the line centre (Hz: carrier, or splitting for dual resonance).
    width
        Fitted FWHM of the lock-in line (Hz).
    slope
        dX/dp at the centre for each sensor (V/Hz, peak amplitude, after rotation).
    phase
        Rotation of each sensor's response (rad).
    fit_success
        Whether the Lorentzian-derivative fit succeeded.
    sweep, response
        The sweep (control values, Hz) and each sensor's complex response (V).
    """

    centre: float
    width: float
    slope: NDArray[np.float64]
    phase: NDArray[np.float64]
    fit_success: bool
    sweep: NDArray[np.float64]
    response: NDArray[np.complex128]


@dataclass
class LockinCalibration:
    """Everything a lock-in run learns before it records.

    Attributes
    ----------
    resonances
        Resonance frequencies found by the coarse sweep (Hz, ascending).
    lines
        The axis's lower and upper resonance (Hz, coarse).
    zfs
        D estimated from the pair (Hz).
    locked_line
        ``"lower"``, ``"upper"`` or ``"both"`` (dual resonance).
    deviation, depth_scan
        The FM deviation used (Hz) and, when optimised, the scan (depth Hz, slope V/Hz,
        noise V, ratio).
    lock
        The lock point (:class:`LineCalibration`) of the control value.
    single
        The one-tone lock point on the locked line, when a scheme is compared with it.
    hyperfine_gain, dual_resonance_gain
        Measured gains of the optional schemes (``None`` when off).
    field_per_control
        dB∥/dp, T/Hz (±1/γ for one line, 1/(2γ) for the splitting).
    """

    resonances: list[float]
    lines: tuple[float, float]
    zfs: float
    locked_line: str
    deviation: float
    lock: LineCalibration
    field_per_control: float
    depth_scan: list[list[float]] = field(default_factory=list)
    single: LineCalibration | None = None
    hyperfine_gain: float | None = None
    dual_resonance_gain: float | None = None
    warnings: list[str] = field(default_factory=list)


def find_resonances(frequencies: NDArray[np.float64], depth: NDArray[np.float64]
                    ) -> list[float]:
    """Centres of the dips of a normalised depth profile (1 − signal/baseline), hyperfine
    multiplets merged (their middle line)."""
    return _resonances(frequencies, depth)[0]


def _resonances(frequencies: NDArray[np.float64], depth: NDArray[np.float64]
                ) -> tuple[list[float], list[float | None]]:
    """Resonance centres and, for multiplets, the spacing of their lines (Hz)."""
    from scipy.signal import find_peaks

    d = np.asarray(depth, dtype=float)
    if d.size < 5:
        return [], []
    smooth = np.convolve(d, np.ones(3) / 3, mode="same")
    noise = 1.4826 * np.median(np.abs(np.diff(d))) / math.sqrt(2) + 1e-12
    top = float(np.max(smooth))
    peaks, _ = find_peaks(smooth, prominence=max(6 * noise, 0.15 * top))
    if peaks.size == 0:
        return [], []
    groups: list[list[int]] = [[int(peaks[0])]]
    for p in peaks[1:]:
        if frequencies[p] - frequencies[groups[-1][-1]] <= GROUP_SPAN / 2:
            groups[-1].append(int(p))
        else:
            groups.append([int(p)])
    out: list[float] = []
    spacing: list[float | None] = []
    for g in groups:
        if len(g) >= 3:  # a triplet: its middle line
            out.append(float(frequencies[g[len(g) // 2]]))
            spacing.append(float(np.median(np.diff(frequencies[g]))))
        else:  # the deepest, refined by a parabola through its neighbours
            k = max(g, key=lambda i: smooth[i])
            out.append(float(_parabola_peak(frequencies, smooth, k)))
            spacing.append(None)
    return out, spacing


def _parabola_peak(f: NDArray[np.float64], y: NDArray[np.float64], k: int) -> float:
    if k <= 0 or k >= y.size - 1:
        return float(f[k])
    a, b, c = y[k - 1], y[k], y[k + 1]
    den = a - 2 * b + c
    shift = 0.5 * (a - c) / den if den < 0 else 0.0
    return float(f[k] + np.clip(shift, -1, 1) * (f[k + 1] - f[k]))


def coarse_resonances(probe: Probe, frequencies: NDArray[np.float64], run: Any
                      ) -> tuple[list[float], float | None]:
    """The coarse sweep (FM off; the acquisition running): resonances and a rough FWHM."""
    mw = probe.bench.mw
    ratio = np.empty(frequencies.size)
    index = {c: i for i, c in enumerate(probe.channels)}
    s0 = probe.sensors[0]
    for i, f in enumerate(frequencies):
        if i % 50 == 0:
            run.check_stop()
        mw.frequency = float(f)
        block = probe.ai.read()
        sig = block.data[index[f"{s0}.signal"]]
        ref = block.data[index[f"{s0}.reference"]]
        ratio[i] = float(np.mean(sig) / np.mean(ref)) if np.mean(ref) > 0 else np.nan
    if not np.all(np.isfinite(ratio)):
        raise RunAborted("coarse sweep: the reference photodiode reads no light (is the "
                         "laser on and the reference beam aligned?)")
    base = float(np.percentile(ratio, 90))
    depth = 1.0 - ratio / base
    res, spacing = _resonances(frequencies, depth)
    return res, _rough_width(frequencies, depth, res, spacing)


def _rough_width(f: NDArray[np.float64], depth: NDArray[np.float64], res: list[float],
                 spacing: list[float | None]) -> float | None:
    """Median FWHM of the resonances from their half-depth crossings (a multiplet's middle
    line: at most 0.9 × its lines' spacing, where the crossings take in its neighbours)."""
    if not res:
        return None
    widths = []
    for r, gap in zip(res, spacing, strict=True):
        k = int(np.argmin(np.abs(f - r)))
        half = depth[k] / 2
        lo, hi = k, k
        while lo > 0 and depth[lo] > half:
            lo -= 1
        while hi < depth.size - 1 and depth[hi] > half:
            hi += 1
        width = float(f[hi] - f[lo])
        widths.append(min(width, 0.9 * gap) if gap else width)
    return float(np.median(widths)) if widths else None


def _principal_phase(z: NDArray[np.complex128]) -> float:
    """Direction (rad) along which complex points spread the most."""
    c = z - z.mean()
    return 0.5 * float(np.angle(np.sum(c * c)))


def sweep(probe: Probe, actuator: Actuator, values: NDArray[np.float64], run: Any
          ) -> NDArray[np.complex128]:
    """The cleaned response of every sensor at each control value, shape (sensors, points)."""
    out = np.empty((len(probe.sensors), values.size), dtype=complex)
    for i, v in enumerate(values):
        if i % 10 == 0:
            run.check_stop()
        actuator.set(float(v))
        out[:, i] = probe.settle_and_average(1)
    return out


def _fit_centre(values: NDArray[np.float64], x: NDArray[np.float64], guess: float,
                width: float) -> tuple[float, float, bool]:
    """Lorentzian-derivative fit of one lock-in sweep: centre, FWHM, success."""
    from ...fitting import fit_spectrum

    try:
        fit = fit_spectrum(values, x, "lorentzian", 1, signal_kind="derivative",
                           guess={"centers": [guess], "widths": [width]})
    except Exception as exc:  # a failed fit falls back on the zero crossing
        log.warning("lock-in sweep fit failed: %s", exc)
        fit = None
    if fit is not None and bool(fit.success) and values[0] < fit.centers[0] < values[-1]:
        return float(fit.centers[0]), float(abs(fit.widths[0])), True
    return _zero_crossing(values, x, guess), width, False


def _zero_crossing(values: NDArray[np.float64], x: NDArray[np.float64], guess: float) -> float:
    sign = np.signbit(x)
    idx = np.flatnonzero(sign[1:] != sign[:-1])
    if idx.size == 0:
        return guess
    k = idx[np.argmin(np.abs(values[idx] - guess))]
    return float(values[k] - x[k] * (values[k + 1] - values[k]) / (x[k + 1] - x[k]))


def measure_line(probe: Probe, actuator: Actuator, centre: float, width: float, run: Any,
                 *, span: float = 1.5) -> LineCalibration:
    """Sweep the control value over ``centre ± span·width``; centre, width, slope, phase."""
    values = centre + np.linspace(-span, span, SWEEP_POINTS) * width
    response = sweep(probe, actuator, values, run)
    phases = np.array([_principal_phase(z) for z in response])
    rotated = np.real(response * np.exp(-1j * phases)[:, None])
    c, w, ok = _fit_centre(values, rotated[0], centre, width)
    near = np.abs(values - c) <= 0.15 * width
    if near.sum() < 3:
        near = np.argsort(np.abs(values - c))[:3]
    slopes = np.array([np.polyfit(values[near], r[near], 1)[0] for r in rotated])
    return LineCalibration(centre=c, width=w, slope=slopes, phase=phases, fit_success=ok,
                           sweep=values, response=response)


def optimise_depth(probe: Probe, actuator: Actuator, centre: float, width: float, run: Any
                   ) -> tuple[float, list[list[float]]]:
    """The depth with the best slope/noise of the first sensor, and the scan."""
    scan = []
    h = 0.1 * width
    for factor in DEPTH_CANDIDATES:
        run.check_stop()
        depth = factor * width
        actuator.check(np.array([centre - h, centre + h]), depth)
        probe.set_deviation(depth)
        actuator.set(centre - h)
        lo = probe.settle_and_average(2)[0]
        actuator.set(centre + h)
        hi = probe.settle_and_average(2)[0]
        slope = abs(hi - lo) / (2 * h)
        actuator.set(centre)
        probe.read()
        xs = np.concatenate([probe.read().cleaned[0] for _ in range(NOISE_BLOCKS)])
        direction = (hi - lo) / abs(hi - lo) if abs(hi - lo) > 0 else 1.0
        # the quadrature: the same white noise as X, none of the field's signal (mains, a
        # test source), so fields do not pass for noise
        noise = float(np.std(np.imag(xs * np.conj(direction))))
        scan.append([depth, slope, noise, slope / noise if noise > 0 else 0.0])
    best = max(scan, key=lambda row: row[3])
    return best[0], scan
