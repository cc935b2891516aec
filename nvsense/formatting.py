"""Quantities as people read them: a value and its error in one unit, a vector in one unit.

Every front end (``nvsense odmr``, ``track``, ``runs``, ``show``, ``campaign``) prints measured
quantities through these functions, so a value and its error never come out in two units
(``0.9992 ± 0.79 µT`` for a value in mT) and the components of one vector never do either
(``x=400.23 µT, y=1.1001 mT``).

Rules:

- one SI prefix for a value and its error, chosen from the larger of ``|value|`` and the error
  so that the number lies in [1, 1000) (``999.20 ± 0.79 µT``, ``1.90003 ± 0.00015 mT``);
- the error is shown with two significant digits and the value with as many decimals;
- a vector takes one prefix from its largest component (and errors), every component printed
  in it;
- ``dBm``, ``K``, ``%`` and dimensionless numbers are never prefixed;
- a display that updates live (the line of a running measurement) keeps the unit it chose
  first (:class:`StickyUnit`), so that a field near 1 mT does not hop between mT and µT.

>>> format_value_error(0.9992e-3, 0.79e-6, "T")
'999.20 ± 0.79 µT'
>>> format_value_error(1.90003e-3, 0.154e-6, "T")
'1.90003 ± 0.00015 mT'
>>> format_vector([0.40023e-3, 1.1001e-3, 1.90003e-3], unit="T")
'(0.4002, 1.1001, 1.9000) mT'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "PREFIXES",
    "StickyUnit",
    "choose_prefix",
    "error_decimals",
    "field_text",
    "format_value_error",
    "format_vector",
]

#: SI prefixes used for display, largest first (fT matters: brain fields are fT-pT).
PREFIXES: tuple[tuple[float, str], ...] = (
    (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"),
    (1e-12, "p"), (1e-15, "f"),
)

#: Units printed without a prefix.
_UNPREFIXED = {"dBm", "K", "%", "1", "", "deg", "°"}

_MAX_DECIMALS = 12

#: The results key of the no-resonance verdict (``nvsense.measure.resonance.RESONANCE_KEY``;
#: not imported from there, so that printing a catalogue does not load the measurement code).
_RESONANCE_KEY = "resonance_found"


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def choose_prefix(magnitude: float, unit: str) -> tuple[float, str]:
    """The (scale, prefix) that puts ``magnitude`` (in SI ``unit``) in [1, 1000).

    ``(1.0, "")`` for units printed without prefix, for zero and for non-finite magnitudes.

    >>> choose_prefix(0.9992e-3, "T")
    (1e-06, 'µ')
    """
    if unit in _UNPREFIXED or not _finite(magnitude) or magnitude == 0:
        return 1.0, ""
    magnitude = abs(float(magnitude))
    for scale, prefix in PREFIXES:
        # a hair below the boundary still counts as the larger unit: 999.9999999 µT is 1 mT
        if magnitude >= scale * (1 - 1e-12):
            return scale, prefix
    return PREFIXES[-1]


def _prefix_scale(prefix: str) -> float:
    for scale, name in PREFIXES:
        if name == prefix:
            return scale
    raise ValueError(f"unknown SI prefix {prefix!r}; use one of "
                     f"{', '.join(repr(p) for _, p in PREFIXES)}")


def error_decimals(error: float, scale: float = 1.0, significant: int = 2) -> int:
    """Decimals that show ``error / scale`` with ``significant`` significant digits (0 when
    the error is large or unknown).

    >>> error_decimals(0.79e-6, 1e-3)
    5
    """
    if not _finite(error) or error <= 0:
        return 0
    exponent = math.floor(math.log10(float(error) / scale))
    return int(min(max(significant - 1 - exponent, 0), _MAX_DECIMALS))


def _fixed(value: float, decimals: int) -> str:
    """Fixed-point text without a negative zero."""
    value = round(float(value), decimals) + 0.0
    return f"{value:.{decimals}f}"


def _value_decimals(magnitude: float, digits: int) -> int:
    """Decimals that show ``digits`` significant digits of a number of this magnitude."""
    if not _finite(magnitude) or magnitude == 0:
        return max(digits - 1, 0)
    exponent = math.floor(math.log10(abs(magnitude)))
    return int(min(max(digits - 1 - exponent, 0), _MAX_DECIMALS))


def _with_unit(text: str, prefix: str, unit: str) -> str:
    if unit in ("", "1"):
        return text
    if unit == "%":
        return f"{text} %"
    return f"{text} {prefix}{unit}"


def format_value_error(value: float, error: float | None, unit: str, *,
                       prefix: str | None = None, digits: int = 6,
                       decimals: int | None = None) -> str:
    """``value ± error`` in one unit, e.g. ``"999.20 ± 0.79 µT"``.

    Parameters
    ----------
    value, error
        In SI ``unit`` (``error`` may be ``None`` or NaN: unknown).
    unit
        ``"T"``, ``"Hz"``, ``"T/√Hz"``, ...; ``dBm``, ``K``, ``%`` and ``"1"`` get no prefix.
    prefix
        Force this SI prefix (``"m"``, ``"µ"``, ``""``); default: chosen from the larger of
        ``|value|`` and ``error``.
    digits
        Significant digits of the value when the error is unknown.
    decimals
        Decimals of the value when the error is unknown (instead of ``digits``): to print
        numbers in a column alike.
    """
    if not _finite(value):
        return _with_unit("?", "" if prefix is None else prefix, unit)
    value = float(value)
    known = error is not None and _finite(error) and float(error) > 0
    if prefix is None:
        scale, prefix = choose_prefix(max(abs(value), float(error) if known else 0.0), unit)
    else:
        scale = 1.0 if unit in _UNPREFIXED else _prefix_scale(prefix)
    if unit in _UNPREFIXED:
        scale, prefix = 1.0, ""
    if not known:
        if decimals is None:
            decimals = _value_decimals(value / scale, digits)
        unknown = "" if error is None else " ± ?"
        return _with_unit(f"{_fixed(value / scale, decimals)}{unknown}", prefix, unit)
    decimals = error_decimals(float(error), scale)
    return _with_unit(f"{_fixed(value / scale, decimals)} ± "
                      f"{_fixed(float(error) / scale, decimals)}", prefix, unit)


def format_vector(values: Sequence[float], errors: Sequence[float] | None = None,
                  unit: str = "T", *, prefix: str | None = None, digits: int = 5) -> str:
    """A vector in one unit: ``"(0.4002, 1.1001, 1.9000) mT"``, or with errors
    ``"(0.40002 ± 0.00015, 1.10015 ± 0.00016, 1.89999 ± 0.00016) mT"``.

    Parameters
    ----------
    values, errors
        Components in SI ``unit``; ``errors`` optional (NaN entries: unknown).
    prefix
        Force this SI prefix; default: from the largest component (or error).
    digits
        Significant digits of the largest component when there are no errors; the others
        get the same decimals.
    """
    vals = [float(v) for v in values]
    errs = None if errors is None else [float(e) for e in errors]
    finite = [abs(v) for v in vals if _finite(v)]
    if errs is not None:
        finite += [e for e in errs if _finite(e) and e > 0]
    if prefix is None:
        scale, prefix = choose_prefix(max(finite, default=0.0), unit)
    else:
        scale = _prefix_scale(prefix)
    if unit in _UNPREFIXED:
        scale, prefix = 1.0, ""
    if errs is None:
        largest = max((abs(v) for v in vals if _finite(v)), default=0.0)
        decimals = _value_decimals(largest / scale, digits)
        parts = [_fixed(v / scale, decimals) if _finite(v) else "?" for v in vals]
    else:
        known = [e for e in errs if _finite(e) and e > 0]
        # a component of unknown error gets the decimals of the finest known one
        fallback = max((error_decimals(e, scale) for e in known), default=None)
        parts = []
        for v, e in zip(vals, errs, strict=True):
            if not _finite(v):
                parts.append("?")
            elif _finite(e) and e > 0:
                d = error_decimals(e, scale)
                parts.append(f"{_fixed(v / scale, d)} ± {_fixed(e / scale, d)}")
            else:
                d = fallback if fallback is not None else _value_decimals(v / scale, digits)
                parts.append(f"{_fixed(v / scale, d)} ± ?")
    return _with_unit("(" + ", ".join(parts) + ")", prefix, unit)


class StickyUnit:
    """A unit chosen once, from the first finite value, then kept: for live displays, so a
    value that wanders across a prefix boundary (0.9992 mT, 1.0003 mT) keeps one unit.

    >>> b = StickyUnit("T")
    >>> b.format(1.0003e-3, 0.8e-6)
    '1.00030 ± 0.00080 mT'
    >>> b.format(0.9992e-3, 0.8e-6)
    '0.99920 ± 0.00080 mT'
    """

    def __init__(self, unit: str, prefix: str | None = None) -> None:
        self.unit = unit
        self.prefix = prefix

    def _choose(self, magnitudes: Sequence[float]) -> None:
        if self.prefix is None:
            finite = [abs(float(m)) for m in magnitudes if _finite(m) and m != 0]
            if finite:
                self.prefix = choose_prefix(max(finite), self.unit)[1]

    def format(self, value: float, error: float | None = None, *, digits: int = 6) -> str:
        """``value ± error`` in the kept unit."""
        self._choose([value])
        return format_value_error(value, error, self.unit, prefix=self.prefix, digits=digits)

    def format_vector(self, values: Sequence[float], errors: Sequence[float] | None = None,
                      *, digits: int = 5) -> str:
        """A vector in the kept unit."""
        self._choose(list(values))
        return format_vector(values, errors, self.unit, prefix=self.prefix, digits=digits)


def field_text(results: Mapping[str, Any], *, empty: str = "—", digits: int = 5) -> str:
    """The field of a run's key results (as the catalogue has them) for a table cell: the
    vector ``"(0.4000, 1.1001, 1.9000) mT"`` in one unit, or ``"B∥ 999.40 µT"``; ``"no
    resonance"`` for a run that measured none (its fitted "field" is noise).

    Parameters
    ----------
    results
        ``field_x``, ``field_y``, ``field_z`` or ``field_parallel``, in T, and
        ``resonance_found`` (:data:`nvsense.measure.resonance.RESONANCE_KEY`).
    empty
        What to show when the run has no field.
    """
    if results.get(_RESONANCE_KEY) is False:
        return "no resonance"
    def number(key: str) -> float:
        value = results.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else math.nan

    vector = [number(f"field_{c}") for c in "xyz"]
    if all(math.isfinite(v) for v in vector):
        return format_vector(vector, unit="T", digits=digits)
    parallel = number("field_parallel")
    if math.isfinite(parallel):
        return f"B∥ {format_value_error(parallel, None, 'T', digits=digits)}"
    return empty
