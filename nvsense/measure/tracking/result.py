"""What a tracking run produced: its calibration, its samples and its summary numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .calibration import LineCalibration
from .settings import TrackSettings

__all__ = ["RESULT_UNITS", "TrackCalibration", "TrackResult", "results_record"]

#: Units of the results a tracking run file records besides the catalogue's key results.
RESULT_UNITS = {
    "noise_floor": "T/sqrt(Hz)",
    "shot_noise_limit": "T/sqrt(Hz)",
    "shot_noise_limit_bench": "T/sqrt(Hz)",
    "expected_noise_floor": "T/sqrt(Hz)",
    "field_std": "T",
    "samples": "1",
    "locked_fraction": "1",
    "lock_losses": "1",
    "noise_ratio": "1",
}




@dataclass(frozen=True)
class TrackCalibration:
    """What the lock was set up with (recorded in the run file's attributes).

    Attributes
    ----------
    lines
        Calibration of each locked line, in lock order.
    reference_frequency
        Off-resonance frequency of the count-rate reference bin, Hz.
    field0, D0
        Field vector (T; for one axis, B∥·n plus the transverse field held) and D (Hz) of the
        operating point.
    axis_vectors
        Unit vectors of the tracked axes (crystal frame; ẑ for a two-line sample).
    n_lines_found
        Lines in the initial sweep.
    shot_noise_limit
        CW-ODMR shot-noise limit of the tracked field as a one-sided ASD (T/√Hz), from the
        fitted widths and contrasts and the measured count rate: √2·η (η of Dréau et al.)
        propagated to the reported field (for three or four axes: the RMS over x, y, z).
    shot_noise_limit_bench
        The same from the bench file's linewidth, contrast and count rate (simulated benches;
        these hold at the file's reference MW and laser powers only), or None.
    expected_noise
        What this lock should reach from shot noise: the limit with the time the reference
        bin takes and the photons the dip removes at the dither points.
    loss_window, reference_window
        Samples the loss detector averages, and samples of the reference bin it averages.
    sample_noise
        Expected shot-noise standard deviation of each line's offset in one sample, Hz.
    warnings
        What may make this lock unreliable (too few photons per sample, ...), in words.
    survey
        The initial sweep: frequencies and averaged signal (kept so that nothing measured is
        lost).
    """

    lines: tuple[LineCalibration, ...]
    reference_frequency: float
    field0: NDArray[np.float64]
    D0: float
    axis_vectors: NDArray[np.float64]
    n_lines_found: int
    shot_noise_limit: float | None
    shot_noise_limit_bench: float | None
    expected_noise: float | None
    loss_window: int
    reference_window: int
    sample_noise: NDArray[np.float64] = dc_field(default_factory=lambda: np.zeros(0))
    warnings: tuple[str, ...] = ()
    survey: dict[str, Any] = dc_field(default_factory=dict, repr=False)

    def record(self) -> dict[str, Any]:
        """JSON-ready record (the run file's ``calibration`` attribute)."""
        return {
            "lines": [c.record() for c in self.lines],
            "reference_frequency": self.reference_frequency,
            "field0": [float(v) for v in self.field0],
            "D0": self.D0,
            "axis_vectors": self.axis_vectors.tolist(),
            "n_lines_found": self.n_lines_found,
            "shot_noise_limit": self.shot_noise_limit,
            "shot_noise_limit_bench": self.shot_noise_limit_bench,
            "expected_noise": self.expected_noise,
            "loss_window": self.loss_window,
            "reference_window": self.reference_window,
            "sample_noise": [float(v) for v in self.sample_noise],
            "warnings": list(self.warnings),
            "survey": self.survey,
        }

    def attributes(self) -> dict[str, Any]:
        """Global attributes of the run file: per-line arrays and headline numbers."""
        lines = self.lines
        out: dict[str, Any] = {
            "cal_line": ", ".join(c.label for c in lines),
            "cal_center": np.array([c.center for c in lines]),
            "cal_linewidth": np.array([c.width for c in lines]),
            "cal_contrast": np.array([c.contrast for c in lines]),
            "cal_count_rate": np.array([c.count_rate for c in lines]),
            "cal_delta": np.array([c.delta for c in lines]),
            "cal_slope": np.array([c.slope for c in lines]),
            "cal_lock_depth": np.array([c.lock_depth for c in lines]),
            "cal_capture_range": np.array([c.capture_range for c in lines]),
            "reference_frequency": self.reference_frequency,
            "cal_D": self.D0,
            "cal_field": np.asarray(self.field0, dtype=float),
        }
        for key, value in (("shot_noise_limit", self.shot_noise_limit),
                           ("shot_noise_limit_bench", self.shot_noise_limit_bench),
                           ("expected_noise_floor", self.expected_noise)):
            if value is not None:
                out[key] = float(value)
        return out


@dataclass
class TrackResult:
    """What a tracking run produced.

    Attributes
    ----------
    run_id, file
        The run's id and file (None when nothing was measured).
    status
        ``"completed"`` or ``"aborted"`` (``reason`` says why: a stop, a lost lock, a failed
        calibration, an instrument fault).
    settings
        The settings it ran with.
    error
        The instrument error that aborted the run, if any (the CLI exits 1).
    samples
        Samples recorded (all in the file).
    time, field, D, locked
        The samples kept in memory (the last 2²¹, 5.8 h at 100 Hz; the file has all):
        time in s since the lock started, field in T (B·n, or (n, 3) vectors), D in Hz (NaN
        with one line per axis), lock flags.
    calibration
        The :class:`TrackCalibration`, or None if the initial sweep failed.
    noise
        Noise summary (see :func:`nvsense.measure.tracking.noise.summarise_noise`).
    lock_losses
        One dict per loss of lock: ``time``, ``reason``, ``reacquired``.
    time_origin
        Bench clock (s) at time 0 (simulated time on the simulated bench).
    safe_report
        What making the bench safe did, one line per instrument.
    """

    run_id: str | None
    file: Path | None
    status: str
    reason: str | None
    settings: TrackSettings
    error: Exception | None = None
    samples: int = 0
    time: NDArray[np.float64] = dc_field(default_factory=lambda: np.zeros(0))
    field: NDArray[np.float64] = dc_field(default_factory=lambda: np.zeros(0))
    D: NDArray[np.float64] = dc_field(default_factory=lambda: np.zeros(0))
    locked: NDArray[np.bool_] = dc_field(default_factory=lambda: np.zeros(0, bool))
    calibration: TrackCalibration | None = None
    noise: dict[str, Any] = dc_field(default_factory=dict)
    lock_losses: list[dict[str, Any]] = dc_field(default_factory=list)
    time_origin: float = float("nan")
    safe_report: list[str] = dc_field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``nvsense track --json``."""
        cal = self.calibration
        noise = self.noise
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "file": str(self.file) if self.file else None,
            "status": self.status,
            "field_mean_t": noise.get("field_mean"),
            "noise_floor_t_per_rthz": noise.get("noise_floor"),
            "shot_noise_limit_t_per_rthz": cal.shot_noise_limit if cal else None,
            # η of Dréau et al. (δB·√t); the limit above is its one-sided ASD, √2·η
            "shot_noise_sensitivity_t_per_rthz": (
                cal.shot_noise_limit / math.sqrt(2.0)
                if cal is not None and cal.shot_noise_limit is not None else None),
            "reason": self.reason,
            "field_kind": self.settings.field_kind,
            "axis": self.settings.axis if isinstance(self.settings.axis, int)
            else list(self.settings.axis),
            "both_lines": self.settings.both_lines,
            "rate_hz": self.settings.rate,
            "samples": self.samples,
            "locked_fraction": noise.get("locked_fraction"),
            "lock_losses": len(self.lock_losses),
            "d_mean_hz": noise.get("D_mean"),
            "field_std_t": noise.get("field_std"),
            "noise_band_hz": noise.get("band"),
            "noise_ratio": noise.get("ratio"),
            "shot_noise_limit_bench_t_per_rthz": cal.shot_noise_limit_bench if cal else None,
            "expected_noise_t_per_rthz": cal.expected_noise if cal else None,
        }
        if noise.get("noise_floor_components") is not None:
            out["noise_floor_components_t_per_rthz"] = noise["noise_floor_components"]
        if cal is not None:
            out["linewidth_hz"] = [c.width for c in cal.lines]
            out["contrast"] = [c.contrast for c in cal.lines]
            out["count_rate_per_s"] = _finite(float(np.mean([c.count_rate for c in cal.lines])))
            out["delta_hz"] = [c.delta for c in cal.lines]
        return {k: _plain(v) for k, v in out.items()}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return _finite(float(value))
    return value


def results_record(noise: dict[str, Any], cal: TrackCalibration | None, samples: int,
             losses: list[dict[str, Any]], s: TrackSettings) -> dict[str, Any]:
    """Key results for the run file and the catalogue."""
    out: dict[str, Any] = {"samples": samples, "lock_losses": len(losses),
                           "locked_fraction": noise.get("locked_fraction")}
    mean = noise.get("field_mean")
    if mean is not None:
        if s.field_kind == "vector":
            for label, value in zip("xyz", mean, strict=True):
                out[f"field_{label}"] = value
        else:
            out["field_parallel"] = mean
    if noise.get("D_mean") is not None:
        out["D"] = noise["D_mean"]
    for key in ("noise_floor", "field_std", "ratio"):
        if noise.get(key) is not None:
            out["noise_ratio" if key == "ratio" else key] = noise[key]
    if cal is not None:
        out["linewidth"] = float(np.mean([c.width for c in cal.lines]))
        out["contrast"] = float(np.mean([c.contrast for c in cal.lines]))
        for key, value in (("shot_noise_limit", cal.shot_noise_limit),
                           ("shot_noise_limit_bench", cal.shot_noise_limit_bench),
                           ("expected_noise_floor", cal.expected_noise)):
            if value is not None:
                out[key] = value
    return {k: v for k, v in out.items() if v is not None}
