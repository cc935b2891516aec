"""What a lock-in tracking run reports: noise floor against the shot-noise limit of the scheme,
laser-noise suppression, the lock's bandwidth, and for a gradiometer the common-mode rejection.

Noise floors follow the counts tracker's convention: the one-sided ASD of B(t)
(:func:`nvsense.analysis.noise_floor`, tones excluded) over 10–100 Hz, on the longest
stretch in lock.

Shot-noise limit of the scheme (one-sided ASD of B, T/√Hz): the photocurrents ``I = V/R_T``
(``R_T`` the transimpedance) carry white shot noise ``2qI``; demodulating with
``2·sin(2πf_m t)`` maps it to ``4qI`` at the lock-in's output, and subtracting ``g`` times the
reference adds the reference's shot noise ``g²·4qI_r`` (the laser noise they share cancels).
In volts, with the slope ``k`` (V per Hz of control) measured by the calibration and the field
per control value ``|dB/dp|`` (1/γ for one line, 1/(2γ) for the dual-resonance splitting):

    A_SNL = √(4q·R_T·(V̄_s + g²·V̄_r)) · |dB/dp| / |k|.

This is :func:`nvsense.physics.lockin_shot_noise_floor` (√2·η of El-Ella et al., Opt. Express
25, 14809, 2017, with the photocurrent shot noise of Dréau et al., PRB 84, 195204, 2011)
written in measured quantities, times ``√(1 + g²V̄_r/V̄_s)`` for the reference's shot noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...physics.lockin_sensitivity import ELEMENTARY_CHARGE_C

__all__ = ["NOISE_BAND", "LockinTrackResult", "mains_amplitude", "summarise"]

#: Band of the noise floors, Hz (as the counts tracker at its usual rates).
NOISE_BAND = (10.0, 100.0)
#: Output samples left out at the start of tracking (the gain-match and filter transients).
SETTLE_SAMPLES = 20


def _longest_true(flags: NDArray[np.bool_]) -> slice:
    padded = np.concatenate([[False], np.asarray(flags, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    if edges.size == 0:
        return slice(0, 0)
    starts, stops = edges[::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    return slice(int(starts[k]), int(stops[k]))


def mains_amplitude(x: NDArray[np.float64], rate: float, frequency: float) -> float:
    """Peak amplitude of the tone at ``frequency`` in ``x`` (Hann-windowed projection)."""
    n = x.size
    t = np.arange(n) / rate
    w = np.hanning(n)
    y = (x - x.mean()) * w
    return float(2 * abs(np.sum(y * np.exp(-2j * np.pi * frequency * t))) / np.sum(w))


def _floor(x: NDArray[np.float64], rate: float) -> float | None:
    from ...analysis import noise_floor

    try:
        return float(noise_floor(x, rate, *NOISE_BAND))
    except ValueError:
        return None


def summarise(m: Any, run: Any) -> dict[str, Any]:
    """The summary numbers of a lock-in run (the ``--json`` object without the run's name)."""
    s = m.settings
    cal = m.calibration
    data = m.arrays()
    out: dict[str, Any] = {
        "noise_floor_t_per_rthz": None, "shot_noise_limit_t_per_rthz": None,
        "rin_suppression_db": None,
        "modulation_frequency_hz": (m.probe.modulation_frequency
                                    if m.probe is not None else None),
        "bandwidth_hz": m.bandwidth or None,
        "field_mean_t": None, "field_std_t": None, "samples": m.samples,
        "locked_fraction": None, "lock_losses": m.lock_losses,
        "noise_band_hz": list(NOISE_BAND), "rate_hz": s.rate,
        "detection": "lockin", "sensors": list(m.sensors),
        "dual_resonance": s.dual_resonance, "hyperfine_drive": s.hyperfine_drive,
        "gradiometer": s.gradiometer,
    }
    if cal is not None:
        out.update({
            "fm_deviation_hz": cal.deviation, "lock_centre_hz": cal.lock.centre,
            "linewidth_hz": cal.lock.width, "slope_v_per_hz": [float(v) for v in cal.lock.slope],
            "zfs_hz": cal.zfs, "hyperfine_gain": cal.hyperfine_gain,
            "dual_resonance_gain": cal.dual_resonance_gain,
            "warnings": list(cal.warnings)})
    if m.suppression is not None:
        out["rin_suppression_db"] = m.suppression["in_band_db"]
        out["rin_suppression_at_modulation_db"] = m.suppression["at_modulation_db"]
        out["rin_suppression_band_hz"] = m.suppression["band_hz"]
    if cal is not None and m.tracked_blocks:
        dc = m.dc_sum / m.tracked_blocks  # (signal/reference, sensors)
        g = float(m.gain_sum[0] / m.tracked_blocks) if s.reference_subtraction else 0.0
        tia = m.transimpedance[0] if m.transimpedance else None
        k = abs(float(cal.lock.slope[0]))
        if tia is not None and k > 0 and dc[0, 0] > 0:
            q = ELEMENTARY_CHARGE_C
            per = abs(cal.field_per_control)
            out["shot_noise_limit_t_per_rthz"] = math.sqrt(
                4 * q * tia * (dc[0, 0] + g * g * max(dc[1, 0], 0.0))) * per / k
            out["shot_noise_limit_signal_only_t_per_rthz"] = math.sqrt(
                4 * q * tia * dc[0, 0]) * per / k
            out["photocurrent_a"] = float(dc[0, 0] / tia)
        out["subtraction_gain"] = g if s.reference_subtraction else None
    if "field" not in data:
        return _plain(out)
    b = data["field"]
    locked = data["locked"].astype(bool)
    locked[:SETTLE_SAMPLES] = False
    out["locked_fraction"] = float(np.mean(data["locked"]))
    part = _longest_true(locked)
    if part.stop - part.start < 8:
        return _plain(out)
    b0 = b[part, 0]
    out["field_mean_t"] = float(np.mean(b0))
    out["field_std_t"] = float(np.std(b0))
    floor = _floor(b0, s.rate)
    out["noise_floor_t_per_rthz"] = floor
    limit = out["shot_noise_limit_t_per_rthz"]
    out["noise_ratio"] = floor / limit if floor and limit else None
    if b.shape[1] > 1:
        out["field_mean_t"] = [float(v) for v in np.mean(b[part], axis=0)]
        out["noise_floor_sensors_t_per_rthz"] = [_floor(b[part, i], s.rate)
                                                 for i in range(b.shape[1])]
    if "gradient" in data:
        grad = data["gradient"][part]
        out["gradient_noise_floor_t_per_rthz"] = _floor(grad, s.rate)
        out["gradiometer_gain_match"] = m.gain_match
        a_cm = mains_amplitude(b0, s.rate, s.mains_frequency)
        a_grad = mains_amplitude(grad, s.rate, s.mains_frequency)
        # the mains must stand out of B1's noise for a rejection to be measured
        resolution = 1.5 * s.rate / b0.size
        noise = (floor or 0.0) * math.sqrt(resolution)
        if a_cm > 10 * noise and a_grad > 0:
            out["common_mode_rejection_db"] = 20 * math.log10(a_cm / a_grad)
        else:
            out["common_mode_rejection_db"] = None
        out["mains_amplitude_t"] = a_cm
    return _plain(out)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


@dataclass
class LockinTrackResult:
    """The outcome of a lock-in tracking run.

    Attributes
    ----------
    run_id, file, status, reason, error
        As for every run (:class:`nvsense.measure.lifecycle.RunOutcome`).
    settings, calibration
        What was asked and what the calibration found.
    summary
        The summary numbers (:func:`summarise`).
    data
        The newest samples kept in memory: ``time``, ``field`` (time × sensor), ``locked``,
        ``gradient``, ``trigger`` (the run file has everything).
    """

    run_id: str | None
    file: Path | None
    status: str
    reason: str | None
    error: BaseException | None
    settings: Any
    calibration: Any
    summary: dict[str, Any] = field(default_factory=dict)
    data: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    def summary_json(self) -> dict[str, Any]:
        """The JSON object of ``nvsense track --detection lockin --json``."""
        head = {"run_id": self.run_id, "file": str(self.file) if self.file else None,
                "status": self.status, "reason": self.reason}
        body = dict(self.summary)
        if not self.settings.gradiometer:
            for key in ("common_mode_rejection_db", "gradient_noise_floor_t_per_rthz"):
                body.pop(key, None)
        else:
            body.setdefault("common_mode_rejection_db", None)
            body.setdefault("gradient_noise_floor_t_per_rthz", None)
        for key in ("noise_floor_t_per_rthz", "shot_noise_limit_t_per_rthz",
                    "rin_suppression_db", "modulation_frequency_hz", "bandwidth_hz"):
            body.setdefault(key, None)
        return _plain({**head, **body})
