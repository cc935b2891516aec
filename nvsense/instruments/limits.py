"""Safety limits: the checks every setting passes before anything is sent.

Two sets of limits apply to each setting: the instrument's own (what it accepts) and the
bench's (what this set-up tolerates: an amplifier's band, the power an antenna or a sample
survives, the laser power the optics take).  Each check raises
:class:`~nvsense.instruments.errors.LimitError` naming the value, the limit and where the limit
comes from; nothing is sent when it does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..units import format_quantity
from .errors import LimitError, LimitSource
from .protocols import CoilLimits, LaserLimits, MicrowaveLimits

if TYPE_CHECKING:
    from .config import LimitsConfig

__all__ = [
    "BenchLimits",
    "check_coil_current",
    "check_frequencies",
    "check_laser_power",
    "check_modulation_voltage",
    "check_mw_duty_cycle",
    "check_mw_power",
    "effective_coil_limits",
    "effective_laser_limits",
    "effective_mw_limits",
    "out_of_range",
]


@dataclass(frozen=True)
class BenchLimits:
    """The bench's own limits (``None``: no bench limit, the instrument's alone apply).

    Attributes
    ----------
    frequency
        (lowest, highest) microwave frequency in Hz.
    max_mw_power
        Highest RF power in dBm.
    max_laser_power
        Highest laser power in W.
    max_coil_current
        Highest coil current magnitude in A.
    max_modulation_voltage
        Highest peak voltage on the source's modulation input (a lock-in's sine output, the
        FM drive), V.
    max_mw_duty_cycle
        Highest fraction of a pulse program's pass with the microwave switched on.
    origin
        Where they come from, for messages (``"limits in /lab/bench.yaml"``).
    """

    frequency: tuple[float, float] | None = None
    max_mw_power: float | None = None
    max_laser_power: float | None = None
    max_coil_current: float | None = None
    origin: str = "the bench limits"
    max_modulation_voltage: float | None = None
    max_mw_duty_cycle: float | None = None

    @classmethod
    def from_config(cls, config: LimitsConfig, source: Path | None = None) -> BenchLimits:
        """From the ``limits:`` section of a bench file found at ``source``."""
        origin = f"limits in {source}" if source is not None else "the bench limits"
        return cls(config.frequency, config.max_mw_power, config.max_laser_power,
                   config.max_coil_current, origin,
                   max_modulation_voltage=config.max_modulation_voltage,
                   max_mw_duty_cycle=config.max_mw_duty_cycle)


def out_of_range(message: str, *, quantity: str, value: Any, low: float | None,
                 high: float | None, unit: str, source: LimitSource | None = "instrument",
                 instrument: str | None = None) -> LimitError:
    """A :class:`LimitError` for ``value`` outside ``[low, high]``, its fields filled in.

    The limit and its bound are the end of the range ``value`` is beyond (none for a value
    that is not a finite number).
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    limit: float | None = None
    bound: Literal["upper", "lower"] | None = None
    if math.isfinite(number):
        if high is not None and number > high:
            limit, bound = high, "upper"
        elif low is not None and number < low:
            limit, bound = low, "lower"
    return LimitError(message, quantity=quantity, value=value if bound is None else number,
                      limit=limit, unit=unit, bound=bound,
                      source=source if bound is not None else None, instrument=instrument)


def _fmt(value: float, unit: str) -> str:
    return format_quantity(value, unit, digits=9) if unit != "dBm" else f"{value:g} dBm"


def _check_range(values: Iterable[float] | float, low: float | None, high: float | None,
                 *, what: str, unit: str, source: str, quantity: str | None = None,
                 origin: LimitSource | None = None, who: str | None = None) -> None:
    """Raise if any value is outside [low, high]; ``source`` says whose limit it is.

    ``quantity``, ``origin`` (instrument or bench) and ``who`` (the slot) go into the
    :class:`LimitError`'s fields.
    """
    if isinstance(values, float | int) and math.isfinite(values) and (
            (low is None or values >= low) and (high is None or values <= high)):
        return  # the common case, without numpy's overhead
    array = np.atleast_1d(np.asarray(values, dtype=float))
    bad = ~np.isfinite(array)
    if low is not None:
        bad |= array < low
    if high is not None:
        bad |= array > high
    if not bad.any():
        return
    first = float(array[np.argmax(bad)])
    limit: float | None
    bound: Literal["upper", "lower"] | None
    if not math.isfinite(first):
        problem = f"{first} is not a finite number"
        limit, bound = None, None
    elif high is not None and first > high:
        problem = f"{_fmt(first, unit)} is above {_fmt(high, unit)}, the upper limit of {source}"
        limit, bound = high, "upper"
    else:
        problem = f"{_fmt(first, unit)} is below {_fmt(low, unit)}, the lower limit of {source}"
        limit, bound = low, "lower"
    count = int(bad.sum())
    prefix = f"{count} of {array.size} {what} values are out of range: " if array.size > 1 else ""
    raise LimitError(f"{prefix}{what} {problem}; nothing was sent", quantity=quantity,
                     value=first, limit=limit, unit=unit, bound=bound,
                     source=origin if bound is not None else None, instrument=who)


def check_frequencies(values: Iterable[float] | float, *, instrument: MicrowaveLimits | None,
                      bench: BenchLimits | None, who: str = "mw") -> None:
    """Check microwave frequencies (Hz) against the instrument's and the bench's range."""
    what = f"{who} frequency"
    if instrument is not None:
        _check_range(values, instrument.frequency_min, instrument.frequency_max, what=what,
                     unit="Hz", source=f"the {who} instrument", quantity="frequency",
                     origin="instrument", who=who)
    if bench is not None and bench.frequency is not None:
        _check_range(values, *bench.frequency, what=what, unit="Hz",
                     source=f"the bench ({bench.origin}, frequency)",
                     quantity="frequency", origin="bench", who=who)
    elif instrument is None:
        _check_range(values, None, None, what=what, unit="Hz", source="",
                     quantity="frequency", who=who)


def _check_instrument_and_bench(value: float, instrument: tuple[float, float] | None,
                                bench: BenchLimits | None, *, key: str, quantity: str,
                                unit: str, what: str, who: str,
                                low: float | None = None, symmetric: bool = False) -> None:
    """Check ``value`` against the instrument's [min, max] (if given), then against the
    bench's maximum ``key`` (with ``low`` below it, or ``-max`` if ``symmetric``)."""
    if instrument is not None:
        _check_range(value, *instrument, what=what, unit=unit, source=f"the {who} instrument",
                     quantity=quantity, origin="instrument", who=who)
    high = getattr(bench, key) if bench is not None else None
    origin = bench.origin if bench is not None else ""
    if symmetric:
        low = -high if high is not None else None
    _check_range(value, low, high, what=what, unit=unit,
                 source=f"the bench ({origin}, {key})", quantity=quantity, origin="bench",
                 who=who)


def check_mw_power(value: float, *, instrument: MicrowaveLimits | None,
                   bench: BenchLimits | None, who: str = "mw") -> None:
    """Check an RF power (dBm) against the instrument's range and the bench's maximum."""
    span = None if instrument is None else (instrument.power_min, instrument.power_max)
    _check_instrument_and_bench(
        value, span, bench, key="max_mw_power", quantity="mw_power", unit="dBm",
        what=f"{who} power", who=who)


def check_laser_power(value: float, *, instrument: LaserLimits | None,
                      bench: BenchLimits | None, who: str = "laser") -> None:
    """Check a laser power (W) against the instrument's range and the bench's maximum."""
    span = None if instrument is None else (instrument.power_min, instrument.power_max)
    _check_instrument_and_bench(
        value, span, bench, key="max_laser_power", quantity="laser_power", unit="W",
        what=f"{who} power", who=who, low=0.0)


def check_coil_current(value: float, *, instrument: CoilLimits | None,
                       bench: BenchLimits | None, who: str = "coil") -> None:
    """Check a coil current (A) against the supply's range and the bench's maximum |I|."""
    span = None if instrument is None else (instrument.current_min, instrument.current_max)
    _check_instrument_and_bench(
        value, span, bench, key="max_coil_current", quantity="coil_current", unit="A",
        what=f"{who} current", who=who, symmetric=True)


def check_modulation_voltage(value: float, *, bench: BenchLimits | None,
                             who: str = "lockin") -> None:
    """Check a peak voltage driving the source's modulation input against the bench's
    ``max_modulation_voltage``."""
    _check_instrument_and_bench(
        value, None, bench, key="max_modulation_voltage", quantity="modulation_voltage",
        unit="V", what=f"{who} modulation drive", who=who, low=0.0)


def check_mw_duty_cycle(duty: float, *, bench: BenchLimits | None, who: str = "pulser",
                        program: str = "") -> None:
    """Check the microwave duty cycle of a pulse program (fraction of a pass with the
    microwave on) against the bench's ``max_mw_duty_cycle``."""
    high = bench.max_mw_duty_cycle if bench is not None else None
    if high is None or duty <= high:
        return
    origin = bench.origin if bench is not None else ""
    name = f" {program!r}" if program else ""
    raise LimitError(
        f"{who}: program{name} keeps the microwave on {100 * duty:.3g} % of each pass, above "
        f"{100 * high:.3g} %, the limit of the bench ({origin}, max_mw_duty_cycle); lengthen "
        f"the waits or shorten the pulses; nothing was sent", quantity="mw_duty_cycle",
        value=duty, limit=high, unit="1", bound="upper", source="bench", instrument=who)


def _tighter(low: float, high: float, bench_low: float | None,
             bench_high: float | None) -> tuple[float, float]:
    return (max(low, bench_low) if bench_low is not None else low,
            min(high, bench_high) if bench_high is not None else high)


def effective_mw_limits(instrument: MicrowaveLimits, bench: BenchLimits) -> MicrowaveLimits:
    """What a microwave setting may be: the instrument's range within the bench's."""
    f_lo, f_hi = bench.frequency if bench.frequency is not None else (None, None)
    fmin, fmax = _tighter(instrument.frequency_min, instrument.frequency_max, f_lo, f_hi)
    pmin, pmax = _tighter(instrument.power_min, instrument.power_max, None, bench.max_mw_power)
    return MicrowaveLimits(fmin, fmax, pmin, pmax)


def effective_laser_limits(instrument: LaserLimits, bench: BenchLimits) -> LaserLimits:
    """What a laser power may be: the instrument's range within the bench's maximum."""
    return LaserLimits(*_tighter(instrument.power_min, instrument.power_max, None,
                                 bench.max_laser_power))


def effective_coil_limits(instrument: CoilLimits | None, bench: BenchLimits) -> CoilLimits | None:
    """What a coil current may be, or ``None`` if neither side sets a limit."""
    high = bench.max_coil_current
    if instrument is None:
        return None if high is None else CoilLimits(-high, high)
    return CoilLimits(*_tighter(instrument.current_min, instrument.current_max,
                                -high if high is not None else None, high))
