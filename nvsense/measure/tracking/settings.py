"""Settings of the tracking magnetometer, validated with clear errors.

Quantities may be numbers in SI units (RF power in dBm) or strings with units ("10 s",
"100 Hz", "-10 dBm", "1 MHz"), like every nvsense setting.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..settings import (
    FrequencyRange,
    SettingsError,
    format_validation_error,
    parse_field_guess,
    parse_range,
    quantity_parser,
)
from .loop import stable_gains

__all__ = ["PARAMETER_UNITS", "TrackSettings"]

#: Units of the tracking parameters as recorded in run files.
PARAMETER_UNITS = {
    "duration": "s",
    "rate": "Hz",
    "mw_power": "dBm",
    "laser_power": "W",
    "capture_range": "Hz",
    "sweep": "Hz, Hz, points",
    "sweep_dwell": "s",
    "calibration_time": "s",
    "field_guess": "T",
}

#: The automatic initial sweep: D ± 100 MHz (|B∥| up to 3.5 mT) in 0.25 MHz steps.
AUTO_SWEEP = (2.77e9, 2.97e9, 801)


class TrackSettings(BaseModel):
    """Settings of a tracking-magnetometer run.

    Attributes
    ----------
    duration
        Tracking time in s (bench time, after the initial sweep); ``None`` runs until stopped.
    axis
        The NV axis to track (0–3; see :mod:`nvsense.measure.tracking.calibration` for which
        pair of lines that is), or three or four axes (``[0, 1, 2]``, ``"0,1,2,3"``),
        time-multiplexed, for the field vector.
    both_lines
        Lock both lines of each axis (B∥ and D; D and temperature drifts cancel) instead of one.
    line
        The line locked when ``both_lines`` is False: ``"lower"`` or ``"upper"`` transition.
    rate
        Output rate in Hz (samples of B per second).
    mw_power
        Microwave power, dBm.  Lines broaden and deepen with it (power broadening).
    laser_power
        Laser power in W; ``None`` keeps the laser's set point.
    dither_periods
        Square-wave dither cycles per output sample: the dither rate is this times ``rate``.
    ki, kp
        Integral and proportional gain of the PI loop, per sample (see
        :mod:`nvsense.measure.tracking.loop`); the loop must be stable.
    capture_range
        Line offset from the dither centre (Hz) beyond which the lock counts as lost; default
        one fitted linewidth (FWHM).
    reacquire
        After a loss of lock, sweep again and re-lock (up to ``reacquire_attempts`` sweeps in a
        row); otherwise the run ends, aborted, with the reason.
    sweep
        Initial sweep range (``"2.80GHz:2.94GHz:561"`` or a :class:`FrequencyRange`); default
        2.77–2.97 GHz in 0.25 MHz steps, within the bench's frequency limits.
    sweep_dwell, sweeps
        Time per point of the initial sweep (s) and how many sweeps are averaged.
    calibration_time
        Time (s) spent on fine sweeps over the locked lines to measure their width, contrast
        and slope precisely; 0 uses the initial sweep's fit alone.
    model
        Line model of the fits: ``"lorentzian"``, ``"gaussian"`` or ``"14n"`` (resolved 14N
        hyperfine triplets; the central line is locked).
    n_lines
        Lines (resonances) in the initial sweep; ``None`` counts them.
    field_guess
        Approximate field vector (T, crystal frame): picks which crystal axis is "axis k" for
        an ensemble's 8 lines (see ``axis``).
    mode
        ``"list"`` (hardware-timed dither), ``"stepped"`` (software-set frequencies) or
        ``"auto"``.
    """

    model_config = ConfigDict(extra="forbid")

    duration: float | None = 10.0
    axis: int | tuple[int, ...] = 0
    both_lines: bool = False
    line: Literal["lower", "upper"] = "lower"
    rate: float = 100.0
    mw_power: float = -10.0
    laser_power: float | None = None
    dither_periods: int = Field(default=10, ge=1, le=1000)
    ki: float = 0.8
    kp: float = 0.0
    capture_range: float | None = None
    reacquire: bool = False
    reacquire_attempts: int = Field(default=3, ge=1, le=100)
    sweep: FrequencyRange | None = None
    sweep_dwell: float = 1e-3
    sweeps: int = Field(default=1, ge=1, le=10_000)
    calibration_time: float = 2.0
    model: Literal["lorentzian", "gaussian", "14n"] = "lorentzian"
    n_lines: int | None = Field(default=None, ge=2, le=8)
    field_guess: tuple[float, float, float] | None = None
    mode: Literal["auto", "list", "stepped"] = "auto"

    _duration = field_validator("duration", mode="before")(quantity_parser("s", "duration"))
    _rate = field_validator("rate", mode="before")(quantity_parser("Hz", "rate"))
    _mw_power = field_validator("mw_power", mode="before")(quantity_parser("dBm", "mw_power"))
    _laser = field_validator("laser_power", mode="before")(quantity_parser("W", "laser_power"))
    _capture = field_validator("capture_range", mode="before")(
        quantity_parser("Hz", "capture_range"))
    _dwell = field_validator("sweep_dwell", mode="before")(quantity_parser("s", "sweep_dwell"))
    _cal = field_validator("calibration_time", mode="before")(
        quantity_parser("s", "calibration_time"))

    @field_validator("axis", mode="before")
    @classmethod
    def _axis(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            try:
                value = [int(p) for p in parts]
            except ValueError:
                raise ValueError(f"axis {value!r}: give an axis number 0-3, or several "
                                 'separated by commas, e.g. "0,1,2"') from None
        if isinstance(value, list | tuple):
            axes = tuple(int(a) for a in value)
            if len(axes) == 1:
                return axes[0]
            if len(set(axes)) != len(axes):
                raise ValueError(f"axis {list(axes)} repeats an axis")
            if len(axes) not in (3, 4):
                raise ValueError(f"{len(axes)} axes: track one axis (its B·n) or three or four "
                                 "axes (the field vector)")
            return axes
        return value

    @field_validator("sweep", mode="before")
    @classmethod
    def _sweep(cls, value: Any) -> Any:
        return parse_range(value) if isinstance(value, str) else value

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: Any) -> Any:
        return str(value).strip().lower()

    @field_validator("field_guess", mode="before")
    @classmethod
    def _field_guess(cls, value: Any) -> Any:
        return parse_field_guess(value)

    @model_validator(mode="after")
    def _checks(self) -> TrackSettings:
        for a in self.axes:
            if not 0 <= a <= 3:
                raise ValueError(f"axis {a} does not exist: NV axes are 0, 1, 2 and 3")
        if self.duration is not None and not self.duration > 0:
            raise ValueError('duration must be positive, e.g. "10 s" (or None: until stopped)')
        if not 0 < self.rate <= 100e3:
            raise ValueError(f"rate {self.rate:g} Hz must be above 0 and at most 100 kHz, "
                             'e.g. "100 Hz"')
        if self.laser_power is not None and self.laser_power < 0:
            raise ValueError('laser_power must not be negative, e.g. "0.1 W"')
        if not stable_gains(self.ki, self.kp):
            raise ValueError(f"ki = {self.ki:g}, kp = {self.kp:g} make the lock loop unstable; "
                             "use 0 < ki < 2 with kp = 0 (e.g. ki = 0.5), or a small kp")
        if not self.ki > 0:
            raise ValueError(f"ki = {self.ki:g}: the loop needs integral gain, e.g. ki = 0.5")
        if self.capture_range is not None and not self.capture_range > 0:
            raise ValueError('capture_range must be positive, e.g. "1 MHz"')
        if not 0 < self.sweep_dwell <= 10:
            raise ValueError(f"sweep_dwell {self.sweep_dwell:g} s must be above 0 and at most "
                             '10 s, e.g. "1 ms"')
        if not 0 <= self.calibration_time <= 3600:
            raise ValueError('calibration_time must be from 0 to 3600 s, e.g. "1 s"')
        return self

    @classmethod
    def parse(cls, values: dict[str, Any], context: str = "settings") -> TrackSettings:
        """Validate ``values``; raise :class:`SettingsError` with one readable message."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(format_validation_error(exc, context)) from None

    # -- derived ----------------------------------------------------------------------------

    @property
    def axes(self) -> tuple[int, ...]:
        """The tracked axes as a tuple (one or three/four)."""
        return (self.axis,) if isinstance(self.axis, int) else tuple(self.axis)

    @property
    def field_kind(self) -> Literal["parallel", "vector"]:
        """``"parallel"`` (B·n of one axis) or ``"vector"`` (three or four axes)."""
        return "parallel" if len(self.axes) == 1 else "vector"

    @property
    def locked_lines(self) -> list[tuple[int, int]]:
        """(axis, branch) of every locked line, in lock order; branch 0 lower, 1 upper."""
        branches = (0, 1) if self.both_lines else ((0,) if self.line == "lower" else (1,))
        return [(a, b) for a in self.axes for b in branches]

    @property
    def n_samples(self) -> int | None:
        """Planned number of samples (``None`` without a duration)."""
        return None if self.duration is None else max(1, round(self.duration * self.rate))

    def sweep_range(self, limits: tuple[float, float] | None = None) -> FrequencyRange:
        """The initial sweep: ``sweep``, or the automatic one clipped to ``limits`` (Hz)."""
        if self.sweep is not None:
            return self.sweep
        start, stop, points = AUTO_SWEEP
        if limits is not None:
            step = (stop - start) / (points - 1)
            start, stop = max(start, limits[0]), min(stop, limits[1])
            points = max(2, round((stop - start) / step) + 1)
        return FrequencyRange(start=start, stop=stop, points=points)

    def as_record(self) -> dict[str, Any]:
        """Plain, JSON-ready parameters (SI units; power in dBm) for run files and the
        catalogue."""
        record = self.model_dump()
        record["axis"] = list(self.axes) if len(self.axes) > 1 else self.axes[0]
        record["sweep"] = (None if self.sweep is None
                           else [self.sweep.start, self.sweep.stop, self.sweep.points])
        record["field_guess"] = list(self.field_guess) if self.field_guess else None
        return record
