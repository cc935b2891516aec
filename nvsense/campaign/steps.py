"""The values a campaign steps through: lists and ranges, combined as a grid or zipped.

A step is written as a list of values (``["-20 dBm", "-10 dBm"]``), or as a range in the
parameter's unit: ``{start: "-20 dBm", stop: "-5 dBm", steps: 4}`` (4 values, both ends
included) or ``{start: "0 A", stop: "1 A", step: "0.25 A"}`` (from start towards stop, up to
and including stop).  Ranges are linear in the parameter's unit (dBm for microwave power).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..units import QuantityError, parse_quantity

__all__ = ["COMBINE_MODES", "MAX_POINTS", "StepError", "combine", "step_values"]

#: Most points one campaign (and one step) may have: a guard against a mistyped step.
MAX_POINTS = 10_000

#: How the steps of several parameters combine into points.
COMBINE_MODES = ("grid", "zip")

_RANGE_KEYS = ("start", "stop", "steps", "step")


class StepError(ValueError):
    """A step is not valid; ``key`` is the part of the step at fault (``"step"``, an index)."""

    def __init__(self, message: str, key: str | int | None = None) -> None:
        super().__init__(message)
        self.key = key


def step_values(name: str, spec: Any, unit: str | None, *, integer: bool = False) -> list[Any]:
    """The values of one stepped parameter.

    Parameters
    ----------
    name
        The parameter (for messages).
    spec
        A list of values, or a range mapping (see the module docstring).
    unit
        The parameter's unit (``"dBm"``, ``"A"``, ``"1"`` for a plain number), or ``None`` if
        it is not a quantity (a range is then refused).
    integer
        The parameter takes whole numbers: a range must give whole numbers.

    Returns
    -------
    list
        List items as given (the measurement's settings parse them: units are checked there);
        range values as SI floats (whole numbers as ``int``).
    """
    if isinstance(spec, Mapping):
        return _range_values(name, spec, unit, integer)
    if isinstance(spec, list | tuple):
        if not spec:
            raise StepError(f"steps.{name}: the list is empty; give at least one value, "
                            f"e.g. {_example(unit)}")
        if len(spec) > MAX_POINTS:
            raise StepError(f"steps.{name}: {len(spec)} values, more than {MAX_POINTS}")
        return list(spec)
    raise StepError(f"steps.{name}: give a list of values, e.g. {_example(unit)}, or a range "
                    f"{{start: ..., stop: ..., steps: N}}, not {spec!r}; a value that stays "
                    "the same for every point goes under settings:")


def _example(unit: str | None) -> str:
    return {
        "dBm": '["-20 dBm", "-10 dBm"]',
        "W": '["50 mW", "100 mW"]',
        "s": '["1 ms", "2 ms"]',
        "A": '["0 A", "0.5 A", "1 A"]',
        "Hz": '["100 Hz", "200 Hz"]',
        "1": "[5, 10]",
    }.get(unit or "", "[value1, value2]")


def _range_values(name: str, spec: Mapping[str, Any], unit: str | None,
                  integer: bool) -> list[Any]:
    where = f"steps.{name}"
    unknown = [k for k in spec if k not in _RANGE_KEYS]
    if unknown:
        raise StepError(f"{where}: unknown key {unknown[0]!r} in a range; a range has start, "
                        "stop and either steps (number of values) or step (increment)",
                        unknown[0])
    if unit is None:
        raise StepError(f"{where}: {name} is not a quantity, so it cannot be a range; give a "
                        "list of values instead")
    for key in ("start", "stop"):
        if key not in spec:
            raise StepError(f"{where}: a range needs start and stop, e.g. "
                            f"{{start: {_bound(unit, 0)}, stop: {_bound(unit, 1)}, steps: 5}}")
    if ("steps" in spec) == ("step" in spec):
        raise StepError(f"{where}: give either steps (number of values, e.g. steps: 5) or step "
                        "(increment), not both or neither")
    start = _parse(where, "start", spec["start"], unit)
    stop = _parse(where, "stop", spec["stop"], unit)
    if "steps" in spec:
        count = spec["steps"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 2:
            raise StepError(f"{where}.steps: the number of values must be a whole number of at "
                            f"least 2, not {count!r}; for a single value use a list", "steps")
        if count > MAX_POINTS:
            raise StepError(f"{where}.steps: {count} values, more than {MAX_POINTS}", "steps")
        values = [start + (stop - start) * i / (count - 1) for i in range(count)]
    else:
        increment = abs(_parse(where, "step", spec["step"], unit, increment=True))
        if increment == 0:
            raise StepError(f"{where}.step: the increment must not be zero", "step")
        span = abs(stop - start)
        count = math.floor(span / increment * (1 + 1e-9) + 1e-9) + 1
        if count > MAX_POINTS:
            raise StepError(f"{where}.step: {count} values from start to stop, more than "
                            f"{MAX_POINTS}; check the step's unit", "step")
        sign = 1.0 if stop >= start else -1.0
        values = [start + sign * increment * i for i in range(count)]
    if integer:
        return _whole(where, values)
    return [float(f"{v:.12g}") for v in values]  # 0.1 + 2 * 0.1 -> 0.3, not 0.30000000000000004


def _bound(unit: str, which: int) -> str:
    return {"dBm": ('"-20 dBm"', '"-5 dBm"'), "A": ('"0 A"', '"1 A"'),
            "W": ('"50 mW"', '"150 mW"'), "s": ('"1 ms"', '"5 ms"'),
            "1": ("1", "10")}.get(unit, ("1", "2"))[which]


def _parse(where: str, key: str, value: Any, unit: str, *, increment: bool = False) -> float:
    if increment and unit == "dBm" and isinstance(value, str):
        text = value.strip()
        if text.lower().endswith("db"):  # a step in dB, not an absolute power
            value = text[:-2]
    try:
        return parse_quantity(value, unit, name=f"{where}.{key}")
    except QuantityError as exc:
        raise StepError(str(exc), key) from None


def _whole(where: str, values: Sequence[float]) -> list[Any]:
    out = []
    for v in values:
        if abs(v - round(v)) > 1e-9:
            raise StepError(f"{where}: the range gives {v:g}, not a whole number; choose start, "
                            "stop and steps that give whole numbers, or give a list")
        out.append(round(v))
    return out


def combine(lengths: Mapping[str, int], mode: str) -> list[dict[str, int]]:
    """Points as the index of each parameter's value.

    Parameters
    ----------
    lengths
        Number of values of each stepped parameter, in file order.
    mode
        ``"grid"``: every combination, the first parameter varying slowest (the outer loop);
        ``"zip"``: the i-th values of all parameters together (all lists the same length).

    Raises
    ------
    StepError
        Lists of different lengths with ``zip``, an unknown mode, or too many points.
    """
    names = list(lengths)
    if not names:
        return [{}]
    if mode == "zip":
        sizes = {lengths[n] for n in names}
        if len(sizes) > 1:
            detail = ", ".join(f"{n}: {lengths[n]}" for n in names)
            raise StepError(f"combine: zip steps all parameters together, so they need the "
                            f"same number of values ({detail}); make them equal, or use "
                            "combine: grid for every combination")
        return [dict.fromkeys(names, i) for i in range(lengths[names[0]])]
    if mode != "grid":
        raise StepError(f"combine: {mode!r} is not a way to combine steps; use "
                        f"{' or '.join(COMBINE_MODES)}")
    total = math.prod(lengths[n] for n in names)
    if total > MAX_POINTS:
        raise StepError(f"steps: the grid has {total} points, more than {MAX_POINTS}; step "
                        "fewer values or split the campaign")
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(range(lengths[n]) for n in names))]
