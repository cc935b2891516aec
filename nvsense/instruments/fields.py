"""Typed fields of bench files: quantities with units, vectors, one-or-many lists.

Bench files, campaign files and driver options write quantities with their units (``"2.87
GHz"``, ``"-10 dBm"``, ``"50 mW"``); these pydantic field types read them into SI floats (dBm
for RF power) with :func:`~nvsense.units.parse_quantity`, and word their errors as "what is
wrong; write e.g. <example>".
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator

from ..units import QuantityError, parse_quantity

__all__ = ["as_tuple", "quantity", "vector"]


def quantity(unit: str, example: str, *, positive: bool = False,
             non_negative: bool = False) -> Any:
    """A float field read with :func:`~nvsense.units.parse_quantity` in ``unit``."""

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected a quantity in {unit}, got {value!r}; write e.g. "
                             f"{example}")
        try:
            result = parse_quantity(value, unit)
        except QuantityError as exc:
            reason = str(exc).split("; write e.g.")[0]
            raise ValueError(f"{reason}; write e.g. {example}") from None
        if positive and not result > 0:
            raise ValueError(f"must be positive, got {value!r}; write e.g. {example}")
        if non_negative and result < 0:
            raise ValueError(f"must not be negative, got {value!r}; write e.g. {example}")
        return result

    return Annotated[float, BeforeValidator(parse)]


def vector(unit: str | None, example: str) -> Any:
    """Three components: a list (``["1 mT", 0, "2 mT"]``) or ``"1 mT, 0 mT, 2 mT"``."""

    def parse(value: Any) -> tuple[float, float, float]:
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, np.ndarray):
            items = items.tolist()
        if not isinstance(items, list | tuple) or len(items) != 3:
            raise ValueError(f"expected three components (x, y, z), got {value!r}; "
                             f"write e.g. {example}")
        try:
            if unit is None:
                return tuple(float(v) for v in items)  # type: ignore[return-value]
            return tuple(parse_quantity(v, unit) for v in items)  # type: ignore[return-value]
        except (QuantityError, TypeError, ValueError) as exc:
            reason = str(exc).split("; write e.g.")[0]
            raise ValueError(f"{reason}; write e.g. {example}") from None

    return Annotated[tuple[float, float, float], BeforeValidator(parse)]


def as_tuple(value: Any) -> Any:
    """One item or a list of them, as a tuple (so errors keep a simple key path)."""
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(value)
    return (value,)
