"""Snapshots: every instrument's read-back state as plain data, like a QCoDeS station snapshot.

Each nvsense instrument has ``snapshot() -> dict`` (the
:class:`~nvsense.instruments.protocols.Snapshottable` protocol): its identity, the settings
read back from it, its limits and options.  Quantities are ``{"value": v, "unit": "Hz"}``,
flags plain booleans, so that a snapshot goes into JSON (a run file's attributes) as it is.
:meth:`nvsense.instruments.Bench.snapshot` gathers them for a whole bench.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

__all__ = ["generic_snapshot", "limits_snapshot", "quantity_value", "snapshot_json"]

#: Units of the fields of the limits dataclasses (mw power in dBm, laser power in W).
_LIMIT_UNITS = {
    "MicrowaveLimits": {"frequency_min": "Hz", "frequency_max": "Hz", "power_min": "dBm",
                        "power_max": "dBm"},
    "LaserLimits": {"power_min": "W", "power_max": "W"},
    "CoilLimits": {"current_min": "A", "current_max": "A"},
}


def quantity_value(value: Any, unit: str) -> dict[str, Any] | None:
    """``{"value": float(value), "unit": unit}``; ``None`` stays ``None`` (not known).

    A value that is not finite is kept as its text (``"nan"``), which JSON can hold.
    """
    if value is None:
        return None
    number = float(value)
    return {"value": number if math.isfinite(number) else str(number), "unit": unit}


def limits_snapshot(limits: Any) -> dict[str, Any] | None:
    """A limits dataclass (:class:`~nvsense.instruments.protocols.MicrowaveLimits`, ...) with
    units; ``None`` for none."""
    if limits is None:
        return None
    units = _LIMIT_UNITS.get(type(limits).__name__, {})
    return {field.name: quantity_value(getattr(limits, field.name), units.get(field.name, ""))
            for field in dataclasses.fields(limits)}


def generic_snapshot(slot: str, instrument: Any) -> dict[str, Any]:
    """The snapshot of an instrument without ``snapshot()`` (a user's driver), read through
    the protocol of its slot."""
    data: dict[str, Any] = {"name": getattr(instrument, "name", slot),
                            "class": f"{type(instrument).__module__}."
                                     f"{type(instrument).__qualname__}",
                            "identity": str(instrument.identity)}
    if slot == "mw":
        data.update(frequency=quantity_value(instrument.frequency, "Hz"),
                    power=quantity_value(instrument.power, "dBm"),
                    output=bool(instrument.output))
    elif slot == "laser":
        data.update(power=quantity_value(instrument.power, "W"), on=bool(instrument.on))
    elif slot == "coil":
        data.update(current=quantity_value(instrument.current, "A"),
                    output=bool(instrument.output))
    elif slot == "counter":
        data.update(kind=str(instrument.kind))
    return data


def snapshot_json(snapshot: dict[str, Any], **kwargs: Any) -> str:
    """A snapshot as JSON text (for a run file's attribute); raises if it is not plain data."""
    return json.dumps(snapshot, allow_nan=False, **kwargs)
