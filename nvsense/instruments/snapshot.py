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

__all__ = ["generic_snapshot", "kind_state", "limits_snapshot", "quantity_value",
           "snapshot_json"]

#: Units of the fields of the limits dataclasses (mw power in dBm, laser power in W).
_LIMIT_UNITS = {
    "MicrowaveLimits": {"frequency_min": "Hz", "frequency_max": "Hz", "power_min": "dBm",
                        "power_max": "dBm"},
    "LaserLimits": {"power_min": "W", "power_max": "W"},
    "CoilLimits": {"current_min": "A", "current_max": "A"},
    "LockInLimits": {"frequency_min": "Hz", "frequency_max": "Hz", "time_constant_min": "s",
                     "time_constant_max": "s", "sine_amplitude_max": "V",
                     "capture_rate_max": "Hz", "time_constants": "s"},
    "FMDriveLimits": {"frequency_min": "Hz", "frequency_max": "Hz", "amplitude": "V"},
    "CameraLimits": {"exposure_min": "s", "exposure_max": "s"},
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
    units; ``None`` for none.  Numbers with a unit become quantities; other fields (a list of
    binnings, trigger modes, a device name) stay plain JSON values."""
    if limits is None:
        return None
    units = _LIMIT_UNITS.get(type(limits).__name__, {})
    return {field.name: _limit_value(getattr(limits, field.name), units.get(field.name))
            for field in dataclasses.fields(limits)}


def _limit_value(value: Any, unit: str | None) -> Any:
    if isinstance(value, tuple | list | frozenset | set):
        items = [_limit_value(v, unit) for v in value]
        return items if not isinstance(value, frozenset | set) else sorted(items, key=str)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and unit:
        return quantity_value(value, unit)
    if isinstance(value, int | float):
        number = float(value)
        return value if math.isfinite(number) else str(number)
    return str(value)


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
    else:
        data.update(kind_state(slot, instrument))
    return data


def kind_state(kind: str, instrument: Any) -> dict[str, Any]:
    """What the protocol of ``kind`` reads back from ``instrument`` (lock-in settings, a
    pulser's program, a camera's exposure...), with units: the snapshot of a driver that has
    none of its own, and the part drivers share."""
    reader = _KIND_READERS.get(kind)
    return reader(instrument) if reader is not None else {}


def _lockin_state(li: Any) -> dict[str, Any]:
    unit = getattr(li.limits, "sensitivity_unit", "V")
    return {"time_constant": quantity_value(li.time_constant, "s"),
            "filter_order": int(li.filter_order),
            "sensitivity": quantity_value(li.sensitivity, unit),
            "reference_source": str(li.reference_source),
            "reference_frequency": quantity_value(li.reference_frequency, "Hz"),
            "reference_phase": quantity_value(li.reference_phase, "deg"),
            "harmonic": int(li.harmonic),
            "sine_amplitude": quantity_value(li.sine_amplitude, "V"),
            "limits": limits_snapshot(li.limits)}


def _analog_input_state(ai: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"available_channels": list(ai.available_channels)}
    for key, unit in (("sample_rate", "S/s"),):
        value = getattr(ai, key, None)
        if value is not None:
            data[key] = quantity_value(value, unit)
    channels = getattr(ai, "channels", None)
    if channels is not None:
        data["channels"] = list(channels)
    if hasattr(ai, "running"):
        data["running"] = bool(ai.running)
    return data


def _pulser_state(pulser: Any) -> dict[str, Any]:
    compiled = pulser.compiled
    program = None
    if compiled is not None:
        program = {"name": compiled.program.name, "kind": compiled.kind,
                   "steps": compiled.steps, "windows_per_pass": compiled.windows_per_pass,
                   "pass_duration": quantity_value(compiled.pass_duration_ns * 1e-9, "s"),
                   "repetitions": compiled.repetitions}
    return {"running": bool(pulser.running), "channel_map": pulser.channel_map.to_dict(),
            "program": program, "limits": limits_snapshot(pulser.limits)}


def _gated_counter_state(counter: Any) -> dict[str, Any]:
    config = getattr(counter, "configuration", None)
    return {"configuration": dict(config) if config else None}


def _camera_state(camera: Any) -> dict[str, Any]:
    roi = camera.roi
    return {"exposure": quantity_value(camera.exposure, "s"),
            "frame_period": quantity_value(camera.frame_period, "s"),
            "roi": roi.as_dict() if hasattr(roi, "as_dict") else str(roi),
            "binning": int(camera.binning), "frame_shape": list(camera.frame_shape),
            "trigger_mode": str(getattr(camera.trigger_mode, "value", camera.trigger_mode)),
            "acquiring": bool(camera.acquiring),
            "counter_source": str(getattr(camera, "counter_source", "")),
            "calibration": dict(camera.calibration.as_dict()),
            "limits": limits_snapshot(camera.limits)}


def _fm_drive_state(drive: Any) -> dict[str, Any]:
    return {"running": bool(drive.running),
            "shares_sample_clock": bool(drive.shares_sample_clock),
            "frequency": quantity_value(getattr(drive, "frequency", None), "Hz"),
            "deviation": quantity_value(getattr(drive, "deviation", None), "Hz"),
            "limits": limits_snapshot(drive.limits)}


_KIND_READERS = {"lockin": _lockin_state, "analog_input": _analog_input_state,
                 "pulser": _pulser_state, "gated_counter": _gated_counter_state,
                 "camera": _camera_state, "fm_drive": _fm_drive_state}


def snapshot_json(snapshot: dict[str, Any], **kwargs: Any) -> str:
    """A snapshot as JSON text (for a run file's attribute); raises if it is not plain data."""
    return json.dumps(snapshot, allow_nan=False, **kwargs)
