"""Quantities with units, parsed in one place.

Inside nvsense every value is an SI float (Hz, T, s, W, K) and RF power is in dBm.  Bench
files, campaign files and the command line also accept strings such as ``"2.87 GHz"``,
``"-10 dBm"``, ``"1 ms"``, ``"50 mW"``, ``"1.2 mT"``, ``"300 K"`` or ``"1e7 /s"``; this module
turns them into those floats, or raises :class:`QuantityError` naming the setting and giving an
example of a valid value.

Examples
--------
>>> parse_quantity("2.87 GHz", "Hz")
2870000000.0
>>> parse_quantity("-10 dBm", "dBm")
-10.0
>>> parse_quantity("12 G", "T")  # gauss, the unit many NV papers use
0.0012
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pint

__all__ = ["UNIT_EXAMPLES", "QuantityError", "format_quantity", "parse_quantity"]

#: An example value for each unit nvsense accepts, used in error messages.
UNIT_EXAMPLES: dict[str, str] = {
    "Hz": '"2.87 GHz"',
    "T": '"1.2 mT"',
    "s": '"1 ms"',
    "W": '"50 mW"',
    "K": '"300 K"',
    "dBm": '"-10 dBm"',
    "1/s": '"1e7 /s"',
    "A": '"0.5 A"',
    "V": '"5 V"',
    "1": '"0.02"',
}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SPLIT = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>.*?)\s*$")

# Gauss is CGS in pint (a different dimension from tesla); NV physicists mean 1e-4 T.
_GAUSS = {"G": 1e-4, "gauss": 1e-4, "mG": 1e-7, "kG": 1e-1, "uG": 1e-10, "µG": 1e-10}


class QuantityError(ValueError):
    """A value could not be read as a quantity in the expected unit."""


@lru_cache(maxsize=1)
def _registry() -> pint.UnitRegistry:
    # pint is imported on first use: it costs ~0.1 s, and most values carry a unit nvsense
    # reads without it (dBm, gauss) or none at all
    import pint

    return pint.UnitRegistry()


def _describe(name: str | None) -> str:
    return f"{name}: " if name else ""


def parse_quantity(
    value: Any,
    unit: str,
    *,
    name: str | None = None,
) -> float:
    """Return ``value`` as a float in ``unit``.

    Parameters
    ----------
    value
        A number (taken to be in ``unit`` already) or a string with a unit, e.g. ``"1 mT"``.
        A bare number in a string (``"0.001"``) is also taken to be in ``unit``.
    unit
        The unit wanted: one of ``Hz``, ``T``, ``s``, ``W``, ``K``, ``dBm``, ``1/s``, ``A``,
        ``V`` or ``1`` (dimensionless).  ``dBm`` also accepts a power such as ``"1 mW"``.
    name
        The name of the setting, used in the error message (e.g. ``"sample.linewidth"``).

    Raises
    ------
    QuantityError
        If the value is not a number with a unit of the right kind.
    """
    example = UNIT_EXAMPLES.get(unit, f'"1 {unit}"')
    if isinstance(value, bool):
        raise QuantityError(f"{_describe(name)}expected a quantity in {unit}, e.g. {example}, "
                            f"not {value!r}")
    if isinstance(value, int | float):
        result = float(value)
        if not math.isfinite(result):
            raise QuantityError(f"{_describe(name)}{value!r} is not a finite number; "
                                f"write e.g. {example}")
        return result
    if not isinstance(value, str):
        raise QuantityError(f"{_describe(name)}expected a quantity in {unit}, e.g. {example}, "
                            f"not {value!r}")
    match = _SPLIT.match(value)
    if match is None:
        raise QuantityError(f"{_describe(name)}cannot read {value!r} as a quantity in {unit}; "
                            f"write e.g. {example}")
    number = float(match["num"])
    unit_text = match["unit"].replace("Ω", "ohm")
    if unit_text.startswith("/"):  # "1e7 /s" means 1e7 per second
        unit_text = "1" + unit_text
    if not unit_text:
        if not math.isfinite(number):  # "1e999"
            raise QuantityError(f"{_describe(name)}{value!r} is not finite; write e.g. {example}")
        return number
    try:
        result = _convert(number, unit_text, unit)
    except QuantityError as exc:
        raise QuantityError(f"{_describe(name)}{value!r}: {exc}; write e.g. {example}") from None
    if not math.isfinite(result):
        raise QuantityError(f"{_describe(name)}{value!r} is not finite; write e.g. {example}")
    return result


def _convert(number: float, unit_text: str, unit: str) -> float:
    if unit == "T" and unit_text in _GAUSS:
        return number * _GAUSS[unit_text]
    if unit == "dBm":
        if unit_text.lower() == "dbm":
            return number
        watts = _convert(number, unit_text, "W")
        if watts <= 0:
            raise QuantityError("a power in watts must be positive to convert to dBm")
        return 10.0 * math.log10(watts / 1e-3)
    if unit_text.lower() == "dbm":
        if unit == "W":
            return 1e-3 * 10.0 ** (number / 10.0)
        raise QuantityError(f"dBm is a power, not {unit}")
    factor = _plain_factor(unit_text, unit)
    if factor is not None:  # the common units: the same result as pint, without loading it
        return number * factor
    ureg = _registry()
    import pint

    try:
        source = ureg.parse_units(unit_text)
        target = ureg.parse_units("dimensionless" if unit == "1" else unit)
        return float(ureg.Quantity(number, source).to(target).magnitude)
    except pint.DimensionalityError:
        raise QuantityError(f"{unit_text!r} is not a unit of {_KIND.get(unit, unit)}") from None
    except Exception:  # pint's parser fails in many ways ("/0" divides by zero)
        raise QuantityError(f"unknown unit {unit_text!r}") from None


# Units read without pint (whose import and registry cost ~0.3 s at every start): SI prefixes
# of the base units, and a few others.  Multiplying by these factors gives pint's results to
# the last bit (tests/core/test_units.py compares them).
_PREFIX_FACTORS = {"p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "m": 1e-3, "": 1.0,
                   "k": 1e3, "M": 1e6, "G": 1e9}
_PREFIXED = {"Hz", "s", "W", "T", "V", "A", "K", "T/A"}
_OTHER_FACTORS = {
    "s": {"min": 60.0, "h": 3600.0, "d": 86400.0},
    "1/s": {"1/s": 1.0, "Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9},
    "1": {"%": 0.01},
}


def _plain_factor(unit_text: str, unit: str) -> float | None:
    """The factor from ``unit_text`` to ``unit`` for the units read without pint, else None."""
    other = _OTHER_FACTORS.get(unit, {})
    if unit_text in other:
        return other[unit_text]
    if unit in _PREFIXED and unit_text.endswith(unit):
        return _PREFIX_FACTORS.get(unit_text[: len(unit_text) - len(unit)])
    return None


_KIND = {
    "Hz": "frequency (Hz)",
    "T": "magnetic field (T)",
    "s": "time (s)",
    "W": "power (W)",
    "K": "temperature (K)",
    "1/s": "rate (1/s)",
    "A": "current (A)",
    "V": "voltage (V)",
    "1": "a plain number",
}

_PREFIXES = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"),
             (1e-9, "n"), (1e-12, "p")]


def format_quantity(value: float, unit: str, digits: int = 6) -> str:
    """Format an SI value with an engineering prefix, e.g. ``format_quantity(2.87e9, "Hz")``
    gives ``"2.87 GHz"``.  ``dBm`` and ``K`` are printed without prefixes."""
    if unit in {"dBm", "K", "1"} or value == 0 or not math.isfinite(value):
        return f"{value:.{digits}g} {unit}".strip()
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    scale, prefix = _PREFIXES[-1]
    return f"{value / scale:.{digits}g} {prefix}{unit}"
