"""Settings of the measurement procedures, validated with clear errors.

The same models validate the Python API, the command line and campaign files: every quantity
may be given as a number in SI units (RF power in dBm) or as a string with a unit, parsed by
:func:`nvsense.units.parse_quantity`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..units import QuantityError, parse_quantity

__all__ = [
    "DEFAULT_RANGE",
    "DEFAULT_SWEEPS",
    "FIT_MODELS",
    "FrequencyRange",
    "OdmrSettings",
    "SettingsError",
    "format_validation_error",
    "parse_range",
]

#: Fit models the ODMR measurement accepts (``--model``).
FIT_MODELS = ("lorentzian", "gaussian", "14n", "15n", "hamiltonian")

#: The default sweep, (start Hz, stop Hz, points).  2.80-2.94 GHz holds all 8 lines of an
#: ensemble in the built-in bench's 2.2 mT (2815-2926 MHz) with room for a few MHz of drift;
#: 801 points are 0.175 MHz steps, 5.7 points per FWHM of its 1 MHz lines (a Lorentzian's
#: centre and width need about 5; the old 281 points put 2 on each line).
DEFAULT_RANGE: tuple[float, float, int] = (2.80e9, 2.94e9, 801)

#: Sweeps of a run given neither ``sweeps`` nor ``duration``.
DEFAULT_SWEEPS = 20


class SettingsError(ValueError):
    """Measurement settings are invalid; the message names the setting and the fix."""


def quantity_parser(unit: str, name: str) -> Callable[[Any], float | None]:
    """A pydantic "before" validator reading a quantity in ``unit`` (``"1 ms"``, ``"-10dBm"``,
    a number in SI) for the setting ``name``; every measurement kind's settings use it, so a
    bad value reads the same in every command."""

    def parse(value: Any) -> float | None:
        if value is None:
            return None
        try:
            return parse_quantity(value, unit, name=name)
        except QuantityError as exc:
            raise ValueError(str(exc)) from None

    return parse


def parse_field_guess(value: Any) -> tuple[float, float, float] | None:
    """Read a starting field, three components (``"0.4 mT, 1.1 mT, 1.9 mT"`` or a sequence),
    as a tuple in T; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",") if v.strip()]
    if len(value) != 3:
        raise ValueError('field_guess needs three components, e.g. "0.4 mT, 1.1 mT, 1.9 mT"')
    parse = quantity_parser("T", "field_guess")
    return (parse(value[0]), parse(value[1]), parse(value[2]))


def parse_range(text: str) -> FrequencyRange:
    """Read ``"START:STOP:POINTS"`` (e.g. ``"2.80GHz:2.94GHz:141"``) as a frequency range."""
    parts = [p.strip() for p in str(text).split(":")]
    if len(parts) != 3:
        raise SettingsError(f"range {text!r}: write START:STOP:POINTS, e.g. 2.80GHz:2.94GHz:141")
    start, stop, points = parts
    try:
        n = int(points)
    except ValueError:
        raise SettingsError(f"range {text!r}: POINTS must be a whole number, e.g. "
                            "2.80GHz:2.94GHz:141") from None
    try:
        return FrequencyRange(start=start, stop=stop, points=n)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc, f"range {text!r}")) from None


class FrequencyRange(BaseModel):
    """A linear frequency sweep from ``start`` to ``stop`` (Hz, inclusive) in ``points``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: float
    stop: float
    points: int = Field(ge=2, le=100_000)

    _start = field_validator("start", mode="before")(quantity_parser("Hz", "start"))
    _stop = field_validator("stop", mode="before")(quantity_parser("Hz", "stop"))

    @model_validator(mode="after")
    def _ordered(self) -> FrequencyRange:
        if not self.stop > self.start:
            raise ValueError(f"stop ({self.stop:g} Hz) must be above start ({self.start:g} Hz)")
        return self

    def frequencies(self) -> NDArray[np.float64]:
        """The sweep's frequencies in Hz."""
        return np.linspace(self.start, self.stop, self.points)


class OdmrSettings(BaseModel):
    """Settings of a CW-ODMR measurement.

    Attributes
    ----------
    ranges
        One or more frequency ranges, swept one after the other within each sweep; default
        :data:`DEFAULT_RANGE` (2.80-2.94 GHz in 801 points).
    sweeps, duration
        Stop after this many sweeps, or after this time (s), whichever comes first.  With
        neither, 20 sweeps.
    dwell
        Time per frequency point, s.
    mw_power
        Microwave power, dBm.
    laser_power
        Laser power, W; ``None`` keeps the laser's current set point.
    model, n_lines
        Fit model (one of :data:`FIT_MODELS`) and number of lines (resonances for 14n/15n);
        ``None`` lets the fit find the number of dips (``hamiltonian``: two per NV axis).
    mode
        ``"list"`` (hardware-timed: MW list stepped by the DAQ clock), ``"stepped"`` (software
        sets each frequency) or ``"auto"`` (list when the bench supports it).
    field_guess
        Approximate field vector (T, crystal frame) used to assign 8 lines to NV axes; without
        it the vector is one of the symmetry-equivalent solutions.
    """

    model_config = ConfigDict(extra="forbid")

    ranges: list[FrequencyRange] = Field(
        default_factory=lambda: [FrequencyRange(start=DEFAULT_RANGE[0], stop=DEFAULT_RANGE[1],
                                                points=DEFAULT_RANGE[2])],
        min_length=1,
    )
    sweeps: int | None = Field(default=None, ge=1)
    duration: float | None = None
    dwell: float = 1e-3
    mw_power: float = -10.0
    laser_power: float | None = None
    model: Literal["lorentzian", "gaussian", "14n", "15n", "hamiltonian"] = "lorentzian"
    n_lines: int | None = Field(default=None, ge=1, le=8)
    mode: Literal["auto", "list", "stepped"] = "auto"
    field_guess: tuple[float, float, float] | None = None

    _duration = field_validator("duration", mode="before")(quantity_parser("s", "duration"))
    _dwell = field_validator("dwell", mode="before")(quantity_parser("s", "dwell"))
    _mw_power = field_validator("mw_power", mode="before")(quantity_parser("dBm", "mw_power"))
    _laser = field_validator("laser_power", mode="before")(quantity_parser("W", "laser_power"))

    @field_validator("ranges", mode="before")
    @classmethod
    def _ranges(cls, value: Any) -> Any:
        if isinstance(value, str | FrequencyRange | dict):
            value = [value]
        return [parse_range(v) if isinstance(v, str) else v for v in value]

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: Any) -> Any:
        text = str(value).strip().lower()
        if text not in FIT_MODELS:
            raise ValueError(f"unknown fit model {value!r}; use one of {', '.join(FIT_MODELS)}")
        return text

    @field_validator("field_guess", mode="before")
    @classmethod
    def _field_guess(cls, value: Any) -> Any:
        return parse_field_guess(value)

    @model_validator(mode="after")
    def _checks(self) -> OdmrSettings:
        if self.dwell <= 0 or self.dwell > 10:
            raise ValueError(f"dwell {self.dwell:g} s must be above 0 and at most 10 s, "
                             'e.g. "1 ms"')
        if self.duration is not None and self.duration <= 0:
            raise ValueError('duration must be positive, e.g. "30 s"')
        if self.laser_power is not None and self.laser_power < 0:
            raise ValueError('laser_power must not be negative, e.g. "0.1 W"')
        if self.sweeps is None and self.duration is None:
            self.sweeps = DEFAULT_SWEEPS
        return self

    @classmethod
    def parse(cls, values: dict[str, Any], context: str = "settings") -> OdmrSettings:
        """Validate ``values``; raise :class:`SettingsError` with one readable message."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(format_validation_error(exc, context)) from None

    def frequencies(self) -> NDArray[np.float64]:
        """All frequencies of one sweep, Hz, in sweep order."""
        return np.concatenate([r.frequencies() for r in self.ranges])

    def as_record(self) -> dict[str, Any]:
        """Plain, JSON-ready parameters (SI units; power in dBm) for run files and the
        catalogue."""
        record = self.model_dump()
        record["ranges"] = [[r.start, r.stop, r.points] for r in self.ranges]
        return record


def format_validation_error(exc: ValidationError, context: str) -> str:
    """One readable message from a pydantic error: the setting's path and what to do."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling)"
        if path and message.startswith(f"{path}: "):
            message = message[len(path) + 2:]
        lines.append(f"{path}: {message}" if path else message)
    return f"{context}: " + "; ".join(lines)
