"""Settings of the lock-in tracking magnetometer, validated with clear errors.

Quantities may be numbers in SI units (RF power in dBm) or strings with units ("10 kHz",
"0.35 MHz", "2 s"), like every nvsense setting.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..settings import FrequencyRange, parse_range, quantity_parser

__all__ = ["AUTO_SWEEP", "PARAMETER_UNITS", "LockinTrackSettings", "filter_time_constant"]

#: Units of the lock-in tracking parameters as recorded in run files.
PARAMETER_UNITS = {
    "duration": "s",
    "modulation_frequency": "Hz",
    "deviation": "Hz",
    "bandwidth": "Hz",
    "rate": "Hz",
    "time_constant": "s",
    "block_time": "s",
    "mw_power": "dBm",
    "laser_power": "W",
    "sweep": "Hz, Hz, points",
    "sweep_dwell": "s",
    "mains_frequency": "Hz",
    "match_time": "s",
    "transimpedance": "V/A",
}

#: The coarse sweep that finds the lines: D ± 100 MHz in 0.5 MHz steps.
AUTO_SWEEP = (2.77e9, 2.97e9, 401)

#: −3 dB frequency of the lock-in's output filter, as a fraction of the output rate: flat to
#: 0.5 % at 100 Hz for the default 2 kS/s, and the noise folded back by the decimation stays
#: below 2.5 % of the power.
FILTER_CUTOFF_PER_RATE = 0.35


def filter_time_constant(rate: float, order: int) -> float:
    """Time constant τ (s) of ``order`` RC stages whose −3 dB frequency is
    :data:`FILTER_CUTOFF_PER_RATE` × ``rate``: ``f₋₃ = √(2^{1/N} − 1)/(2πτ)``."""
    return math.sqrt(2 ** (1 / order) - 1) / (2 * math.pi * FILTER_CUTOFF_PER_RATE * rate)


class LockinTrackSettings(BaseModel):
    """Settings of a lock-in tracking run (photodiode detection, FM, closed loop).

    Attributes
    ----------
    duration
        Tracking time in s (bench time, after the calibration); ``None`` runs until stopped.
    axis, line
        The NV axis (0–3: the k-th pair of lines from the outside of the coarse sweep) and the
        line locked without dual resonance (``"lower"`` or ``"upper"``).
    modulation_frequency
        FM rate f_m, Hz (the lock-in's reference).
    deviation
        Peak FM deviation δ, Hz; ``None`` optimises it for slope/noise during the calibration.
    dual_resonance
        Drive both lines of the axis at once with opposite FM: field shifts add in the one
        lock-in output, shifts of D (temperature) cancel.
    hyperfine_drive
        Drive the three ¹⁴N hyperfine lines of each locked resonance (tones at ±A∥).
    gradiometer
        Two sensors (the first two photodiode channels of the analog input): B1, B2 and the
        gradient B1 − g·B2 with the gain match g calibrated on the common-mode field.
    reference_subtraction
        Subtract the reference photodiode with a fitted gain (laser-noise cancellation).
    bandwidth
        −3 dB bandwidth of the lock (the carrier following the line), Hz.
    rate
        Output rate of the demodulated signals and the field, samples/s.
    filter_order, time_constant
        The lock-in's output filter (RC stages, τ in s; default τ puts −3 dB at 0.35 × rate).
    block_time
        Length of one acquisition block, s: the loop corrects the carrier once per block.
    mw_power, laser_power
        Microwave power (dBm, shared by the tones) and laser power (W; ``None`` keeps it).
    sweep, sweep_dwell
        Coarse sweep that finds the lines (photodiode level, FM off) and its time per point.
    mains_frequency
        Where the gradiometer's common-mode rejection is reported, Hz.
    match_time
        Time the gradiometer spends, locked, measuring its gain match, s.
    transimpedance
        Gain of the photodiode amplifiers, V/A, for the shot-noise limit (default: the
        simulated chain's; required on a real bench for the limit, else it is not reported).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    duration: float | None = Field(default=2.0)
    axis: int = Field(default=0, ge=0, le=3)
    line: Literal["lower", "upper"] = "lower"
    modulation_frequency: float = 10e3
    deviation: float | None = None
    dual_resonance: bool = False
    hyperfine_drive: bool = False
    gradiometer: bool = False
    reference_subtraction: bool = True
    bandwidth: float = 100.0
    rate: float = 2000.0
    filter_order: int = Field(default=4, ge=1, le=8)
    time_constant: float | None = None
    block_time: float = 1e-3
    mw_power: float = -10.0
    laser_power: float | None = None
    sweep: FrequencyRange = FrequencyRange(start=AUTO_SWEEP[0], stop=AUTO_SWEEP[1],
                                           points=AUTO_SWEEP[2])
    sweep_dwell: float = 0.5e-3
    mains_frequency: float = 50.0
    match_time: float = 0.5
    transimpedance: float | None = None

    _duration = field_validator("duration", mode="before")(quantity_parser("s", "duration"))
    _fm = field_validator("modulation_frequency", mode="before")(
        quantity_parser("Hz", "modulation_frequency"))
    _dev = field_validator("deviation", mode="before")(quantity_parser("Hz", "deviation"))
    _bw = field_validator("bandwidth", mode="before")(quantity_parser("Hz", "bandwidth"))
    _rate = field_validator("rate", mode="before")(quantity_parser("Hz", "rate"))
    _tau = field_validator("time_constant", mode="before")(quantity_parser("s", "time_constant"))
    _block = field_validator("block_time", mode="before")(quantity_parser("s", "block_time"))
    _mw = field_validator("mw_power", mode="before")(quantity_parser("dBm", "mw_power"))
    _laser = field_validator("laser_power", mode="before")(quantity_parser("W", "laser_power"))
    _dwell = field_validator("sweep_dwell", mode="before")(quantity_parser("s", "sweep_dwell"))
    _mains = field_validator("mains_frequency", mode="before")(
        quantity_parser("Hz", "mains_frequency"))
    _match = field_validator("match_time", mode="before")(quantity_parser("s", "match_time"))
    _tia = field_validator("transimpedance", mode="before")(
        quantity_parser("V/A", "transimpedance"))

    @field_validator("sweep", mode="before")
    @classmethod
    def _sweep(cls, value: Any) -> Any:
        return parse_range(value) if isinstance(value, str) else value

    @field_validator("duration", "modulation_frequency", "deviation", "bandwidth", "rate",
                     "time_constant", "block_time", "sweep_dwell", "mains_frequency",
                     "transimpedance", "laser_power")
    @classmethod
    def _positive(cls, value: float | None, info: Any) -> float | None:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{info.field_name} must be a finite number > 0, not {value!r}")
        return value

    @field_validator("mw_power")
    @classmethod
    def _finite_power(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"mw_power must be a finite power in dBm, not {value!r}")
        return value

    @field_validator("match_time")
    @classmethod
    def _match_range(cls, value: float) -> float:
        if not (math.isfinite(value) and 0.05 <= value <= 60):
            raise ValueError(f"match_time must be 0.05 to 60 s, not {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LockinTrackSettings:
        if self.duration is not None and self.duration > 1e6:
            raise ValueError(f"duration must be at most 1e6 s (11 days), not {self.duration:g} "
                             "s; leave it out to run until stopped")
        if not 1.0 <= self.rate <= 1e5:
            raise ValueError(f"rate must be 1 Hz to 100 kHz, not {self.rate:g} Hz")
        if not 1e-5 <= self.block_time <= 1.0:
            raise ValueError(f"block_time must be 10 µs to 1 s, not {self.block_time:g} s")
        if self.block_time * self.rate < 1 - 1e-9:
            raise ValueError(f"block_time ({self.block_time:g} s) must hold at least one "
                             f"output sample at rate {self.rate:g} Hz (≥ {1 / self.rate:g} s)")
        update = 1.0 / self.block_time
        if not 0.1 <= self.bandwidth <= update / 4:
            raise ValueError(f"bandwidth must be 0.1 Hz to a quarter of the loop's update rate "
                             f"(1/block_time = {update:g} Hz): at most {update / 4:g} Hz, not "
                             f"{self.bandwidth:g} Hz")
        if self.modulation_frequency < 4 * self.rate:
            raise ValueError(f"modulation_frequency ({self.modulation_frequency:g} Hz) must be "
                             f"at least 4 × the output rate ({4 * self.rate:g} Hz) so the "
                             f"lock-in's filter removes the 2f ripple")
        if self.deviation is not None and self.deviation > 100e6:
            raise ValueError(f"deviation must be at most 100 MHz, not {self.deviation:g} Hz")
        if self.mains_frequency > self.rate / 2:
            raise ValueError(f"mains_frequency ({self.mains_frequency:g} Hz) must be below "
                             f"half the output rate ({self.rate / 2:g} Hz)")
        if not 1e-5 <= self.sweep_dwell <= 1.0:
            raise ValueError(f"sweep_dwell must be 10 µs to 1 s, not {self.sweep_dwell:g} s")
        return self

    @property
    def tau(self) -> float:
        """The lock-in's time constant, s (given, or derived from the rate)."""
        return (self.time_constant if self.time_constant is not None
                else filter_time_constant(self.rate, self.filter_order))

    def as_record(self) -> dict[str, Any]:
        """The parameters a run file records (JSON-ready, SI)."""
        out = self.model_dump(mode="json")
        out["sweep"] = [self.sweep.start, self.sweep.stop, self.sweep.points]
        out["time_constant"] = self.tau
        return out
