"""Settings of a widefield ODMR run, validated with clear errors (SI units, RF power in dBm;
strings with units accepted, as for every measurement)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..settings import (
    FrequencyRange,
    SettingsError,
    format_validation_error,
    parse_range,
    quantity_parser,
)

__all__ = ["DEFAULT_WIDEFIELD_RANGE", "LIVE_MAP_PIXELS", "PARAMETER_UNITS", "WidefieldSettings"]

#: The default sweep (start Hz, stop Hz, points): both lines of one NV axis in a 2 mT bias
#: along it (2.814 and 2.926 GHz) with room for the field map's spread; 1.6 MHz steps put
#: about four points on a 6 MHz line.
DEFAULT_WIDEFIELD_RANGE: tuple[float, float, int] = (2.79e9, 2.95e9, 101)

#: With ``live_binning`` not given, the live map bins the frames so that it has at most this
#: many pixels (64 × 64: a fit of a few hundred ms on one core, so ≥ 1 update a second).
LIVE_MAP_PIXELS = 64 * 64

#: Units of the widefield parameters as recorded in run files.
PARAMETER_UNITS = {
    "range": "Hz, Hz, points",
    "exposure": "s",
    "frame_period": "s",
    "mw_power": "dBm",
    "laser_power": "W",
    "reference_frequency": "Hz",
}


class WidefieldSettings(BaseModel):
    """Settings of a widefield ODMR measurement.

    Attributes
    ----------
    range
        The sweep: ``"START:STOP:POINTS"`` or a :class:`~nvsense.measure.FrequencyRange`;
        at least 8 points (a cube's frequency axis).
    sweeps
        Number of sweeps.
    exposure
        Camera exposure per frame, s.
    frame_period
        Time between frame starts, s (the frame rate's inverse: one list step each), at least
        the exposure and at most 10 s; ``None``: as fast as the camera reads out (exposure plus
        readout).  A camera that cannot go as fast as asked runs at its own shortest period
        (the result's ``frame_period`` and warnings say so).
    binning
        Camera binning (square; pixels summed at readout), one of the camera's.
    reference
        ``"every"``: a reference frame (RF far off every line) after each frequency point,
        for normalising laser-intensity drifts; ``"none"``.
    reference_frequency
        Frequency of the reference frames, Hz; default 200 MHz below the sweep (above it if
        that is outside the bench's limits).
    mw_power
        Microwave power, dBm.
    laser_power
        Laser power, W; ``None`` keeps the laser's set point.
    repair
        What happens to a frame that did not arrive (lost, missed trigger, rejected):
        ``"remeasure"`` it at the end of its sweep (up to ``max_remeasure`` a sweep, else the
        points are marked), or ``"mark"`` its point (left out of the cube for that sweep).
    max_remeasure
        Most frames measured again per sweep.
    drift_correction
        Register every sweep against the first and undo the drift in the cube (the
        registered drift is stored either way).
    live_binning
        Camera pixels per live-map pixel along each axis; ``None``: chosen so that the map
        has at most :data:`LIVE_MAP_PIXELS` pixels; 0: no live map.
    n_lines, model
        Lines and model of the live map's fit (default: two per NV axis the bench declares).
    buffer_frames
        Camera ring buffer, frames (default: 4 sweeps' worth, at least 1000).
    """

    model_config = ConfigDict(extra="forbid")

    range: FrequencyRange = Field(default_factory=lambda: FrequencyRange(
        start=DEFAULT_WIDEFIELD_RANGE[0], stop=DEFAULT_WIDEFIELD_RANGE[1],
        points=DEFAULT_WIDEFIELD_RANGE[2]))
    sweeps: int = Field(default=10, ge=1)
    exposure: float = 5e-3
    frame_period: float | None = None
    binning: int = Field(default=1, ge=1)
    reference: Literal["every", "none"] = "none"
    reference_frequency: float | None = None
    mw_power: float = -10.0
    laser_power: float | None = None
    repair: Literal["remeasure", "mark"] = "remeasure"
    max_remeasure: int = Field(default=5, ge=0)
    drift_correction: bool = True
    live_binning: int | None = Field(default=None, ge=0)
    n_lines: int | None = Field(default=None, ge=2, le=8)
    model: Literal["lorentzian", "gaussian", "14n", "15n"] = "lorentzian"
    buffer_frames: int | None = Field(default=None, ge=1)

    _exposure = field_validator("exposure", mode="before")(quantity_parser("s", "exposure"))
    _frame_period = field_validator("frame_period", mode="before")(
        quantity_parser("s", "frame_period"))
    _mw_power = field_validator("mw_power", mode="before")(quantity_parser("dBm", "mw_power"))
    _laser = field_validator("laser_power", mode="before")(quantity_parser("W", "laser_power"))
    _reference_f = field_validator("reference_frequency", mode="before")(
        quantity_parser("Hz", "reference_frequency"))

    @field_validator("range", mode="before")
    @classmethod
    def _range(cls, value: Any) -> Any:
        return parse_range(value) if isinstance(value, str) else value

    @field_validator("range")
    @classmethod
    def _enough_points(cls, value: FrequencyRange) -> FrequencyRange:
        if value.points < 8:
            raise ValueError(f"{value.points} points; a widefield cube needs at least 8, e.g. "
                             "2.79GHz:2.95GHz:101")
        return value

    @field_validator("frame_period")
    @classmethod
    def _period_fits_exposure(cls, value: float | None, info: ValidationInfo) -> float | None:
        from ...units import format_quantity

        if value is None:
            return value
        if not (np.isfinite(value) and 0 < value <= 10):
            raise ValueError(f"{value:g} s must be above 0 and at most 10 s, e.g. \"10 ms\"")
        exposure = info.data.get("exposure")
        if exposure is not None and np.isfinite(exposure) and value < exposure:
            raise ValueError(f"{format_quantity(value, 's', 4)} is shorter than the exposure "
                             f"({format_quantity(exposure, 's', 4)}): each exposure must fit "
                             "within a frame period; give a longer frame period or a shorter "
                             "exposure")
        return value

    @field_validator("n_lines")
    @classmethod
    def _pairs(cls, value: int | None) -> int | None:
        if value is not None and value % 2:
            raise ValueError(f"{value} lines: the live map shows |B∥| of a line pair, so give "
                             "an even number")
        return value

    @model_validator(mode="after")
    def _checks(self) -> WidefieldSettings:
        if not (np.isfinite(self.exposure) and 0 < self.exposure <= 10):
            raise ValueError(f"exposure {self.exposure:g} s must be above 0 and at most 10 s, "
                             'e.g. "5 ms"')
        if not np.isfinite(self.mw_power):
            raise ValueError("mw_power must be a finite power, e.g. -10dBm")
        if self.laser_power is not None and not (np.isfinite(self.laser_power)
                                                 and self.laser_power >= 0):
            raise ValueError('laser_power must be a power ≥ 0, e.g. "0.1 W"')
        f = self.reference_frequency
        if f is not None:
            if not np.isfinite(f) or f <= 0:
                raise ValueError("reference_frequency must be a positive frequency, e.g. "
                                 "2.6GHz")
            if self.range.start <= f <= self.range.stop:
                raise ValueError(f"reference_frequency {f / 1e9:.4g} GHz is inside the sweep: "
                                 "choose one far from every line, outside the range")
        return self

    @classmethod
    def parse(cls, values: dict[str, Any], context: str = "settings") -> WidefieldSettings:
        """Validate ``values``; raise :class:`SettingsError` with one readable message."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(format_validation_error(exc, context)) from None

    def frequencies(self) -> NDArray[np.float64]:
        """The sweep's frequencies, Hz, increasing."""
        return self.range.frequencies()

    def as_record(self) -> dict[str, Any]:
        """Plain, JSON-ready parameters (SI; power in dBm) for the run file."""
        record = self.model_dump()
        record["range"] = [self.range.start, self.range.stop, self.range.points]
        return {k: v for k, v in record.items() if v is not None}
