"""Campaign points: the settings of one run, validated, with an identity for ``--resume``."""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..instruments.errors import LimitError
from ..measure.settings import SettingsError
from ..units import QuantityError, format_quantity, parse_quantity
from .measurements import COIL_CURRENT, Measurement

__all__ = ["CampaignPoint", "PointInvalid", "Problem", "build_point", "check_limits",
           "format_value", "point_key", "run_record"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a point.

    Attributes
    ----------
    parameter
        The parameter at fault (``None`` if unknown).
    message
        What is wrong and how to fix it, without the parameter's name.
    path
        Where inside the parameter, if deeper (``"ranges.0.start"``).
    """

    parameter: str | None
    message: str
    path: str | None = None
    about_parameter: bool = False  # wrong whatever its value (e.g. a coil on a coil-less bench)

    def text(self) -> str:
        """``"mw_power: ..."``: the message with the parameter's name."""
        where = self.path or self.parameter
        return f"{where}: {self.message}" if where else self.message


class PointInvalid(ValueError):
    """A point's settings are invalid; ``problems`` says which parameter and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.text() for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class CampaignPoint:
    """One point of a campaign: one run of the measurement.

    Attributes
    ----------
    index
        Position in the campaign, from 0 (the ``campaign_point`` of its run).
    values
        The stepped parameters and their values (SI floats, RF power in dBm), in file order.
    settings
        The measurement's validated settings (``OdmrSettings`` / ``TrackSettings``).
    coil_current
        Bias-coil current in A, or ``None`` to leave the coil alone.
    key
        A hash of everything that defines the run (measurement, all settings, coil current):
        ``--resume`` only counts a completed run as this point if its key matches.
    """

    index: int
    measurement: Measurement
    values: dict[str, Any]
    settings: Any
    coil_current: float | None
    key: str
    units: dict[str, str | None] = field(default_factory=dict, repr=False)

    def label(self) -> str:
        """The stepped values, e.g. ``"coil_current=500 mA, mw_power=-10 dBm"``."""
        return ", ".join(f"{k}={self.label_of(k)}" for k in self.values)

    def label_of(self, name: str) -> str:
        """One stepped value with its unit, e.g. ``"-10 dBm"``."""
        return format_value(self.values.get(name), self.units.get(name))

    def record(self) -> dict[str, Any]:
        """Settings and coil current as JSON-ready values (what defines the run)."""
        return run_record(self.measurement, self.settings, self.coil_current)


def format_value(value: Any, unit: str | None) -> str:
    """A parameter value for people: ``-10 dBm``, ``500 mA``, ``3``."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int) and unit in (None, "1"):
        return str(value)
    if isinstance(value, int | float) and unit is not None:
        if unit == "1":
            return f"{value:g}"
        return format_quantity(float(value), unit, digits=4)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v, unit) for v in value) + "]"
    if hasattr(value, "start") and hasattr(value, "points"):  # a frequency range
        return (f"{format_quantity(value.start, 'Hz', 5)}:{format_quantity(value.stop, 'Hz', 5)}"
                f":{value.points}").replace(" ", "")
    return str(value)


def point_key(measurement: str, record: Mapping[str, Any]) -> str:
    """The identity of a point's run: 12 hex digits of a SHA-256 of its canonical
    parameters (floats to 12 significant digits, so recomputing a range gives the same key)."""
    text = json.dumps({"measurement": measurement, "parameters": _canonical(record)},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else None
    return str(value)


def build_point(measurement: Measurement, index: int, fixed: Mapping[str, Any],
                values: Mapping[str, Any]) -> CampaignPoint:
    """Validate one point: the fixed settings overridden by the point's stepped values.

    Raises
    ------
    PointInvalid
        Naming each parameter at fault and the fix.
    """
    names = measurement.setting_names()
    merged = {**fixed, **values}
    problems = [Problem(k, unknown_parameter_message(k, measurement))
                for k in merged if k != COIL_CURRENT and k not in names]
    if problems:
        raise PointInvalid(problems)
    coil = None
    if merged.get(COIL_CURRENT) is not None:
        try:
            coil = parse_quantity(merged[COIL_CURRENT], "A")
        except QuantityError as exc:
            problems.append(Problem(COIL_CURRENT, str(exc)))
    settings_values = {k: v for k, v in merged.items() if k != COIL_CURRENT}
    settings = None
    try:
        settings = measurement.settings_model.model_validate(settings_values)
    except ValidationError as exc:
        problems += [_problem(err, list(values) + names) for err in exc.errors()]
    except ValueError as exc:  # a validator that raised outside pydantic's wrapping
        problems.append(Problem(_blame(str(exc), list(values) + names), str(exc)))
    if problems:
        raise PointInvalid(problems)
    shown = {}
    for name in values:
        shown[name] = coil if name == COIL_CURRENT else getattr(settings, name)
    units = {name: measurement.unit_of(name) for name in values}
    record = run_record(measurement, settings, coil)
    return CampaignPoint(index=index, measurement=measurement, values=shown, settings=settings,
                         coil_current=coil, key=point_key(measurement.name, record),
                         units=units)


def run_record(measurement: Measurement, settings: Any,
               coil_current: float | None) -> dict[str, Any]:
    """Settings and coil current as JSON-ready values: everything that defines a run."""
    record = measurement.record(settings)
    if coil_current is not None:
        record[COIL_CURRENT] = coil_current
    return record


def unknown_parameter_message(name: str, measurement: Measurement) -> str:
    """``"not a parameter of a odmr measurement; did you mean 'mw_power'? ..."``"""
    allowed = [*measurement.setting_names(), COIL_CURRENT]
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (f"not a parameter of {_article(measurement.name)} measurement; {hint}"
            f"parameters: {', '.join(allowed)}")


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _problem(err: Mapping[str, Any], candidates: list[str]) -> Problem:
    loc = [str(p) for p in err.get("loc", ())]
    message = str(err["msg"]).removeprefix("Value error, ")
    name = loc[0] if loc else _blame(message, candidates)
    path = ".".join(loc)
    if path and message.startswith(f"{path}: "):
        message = message[len(path) + 2:]
    elif name and message.startswith(f"{name}: "):
        message = message[len(name) + 2:]
    if err.get("type") in ("literal_error", "int_parsing", "int_from_float", "float_parsing",
                           "greater_than_equal", "less_than_equal", "bool_parsing"):
        message = f"{message}, got {err.get('input')!r}"
    return Problem(name, message, path if path and path != name else None)


def _blame(message: str, candidates: list[str]) -> str | None:
    """The parameter a model-level message is about: the first one it names."""
    for name in candidates:
        if re.search(rf"\b{re.escape(name)}\b", message):
            return name
    return None


def check_limits(bench: Any, point: CampaignPoint) -> list[Problem]:
    """Check a point against the bench's and the instruments' limits with the measurement's
    own check (:meth:`Measurement.check`); sends nothing."""
    problems = []
    if point.coil_current is not None:
        if getattr(bench, "coil", None) is None:
            problems.append(Problem(COIL_CURRENT, "this bench has no coil; add instruments.coil "
                                    "to the bench file, or remove coil_current from the "
                                    "campaign", about_parameter=True))
        else:
            try:
                bench.check_settings(coil_current=point.coil_current)
            except LimitError as exc:
                problems.append(_limit_problem(COIL_CURRENT, exc))
    measurement = point.measurement
    try:
        measurement.check(point.settings, bench)
    except LimitError as exc:
        name = measurement.setting_of(exc.quantity)
        if name is None:  # a derived quantity (bin time, list length): the setting it names
            name = _first_named(str(exc), measurement.setting_names())
        problems.append(_limit_problem(name, exc))
    except SettingsError as exc:
        problems.append(Problem(_first_named(str(exc), measurement.setting_names()),
                                str(exc)))
    return problems


def _first_named(message: str, candidates: list[str]) -> str | None:
    """The parameter a check's message names first ("rate 5 kHz with 100 dither periods of
    1 line" is about ``rate``)."""
    found = [(m.start(), name) for name in candidates
             if (m := re.search(rf"\b{re.escape(name)}\b", message))]
    return min(found)[1] if found else None


def _limit_problem(name: str | None, exc: LimitError) -> Problem:
    text = str(exc).removesuffix("; nothing was sent")
    return Problem(name, f"{text}; change the value in the campaign (or the bench's limit, if "
                   "the hardware allows it)")
