"""The tracking-magnetometer settings form and its translation into
:class:`~nvsense.measure.tracking.TrackSettings` (validated like ``nvsense track``)."""

from __future__ import annotations

import re
from typing import Any

from ..measure.tracking import TrackSettings
from .forms import FieldSpec

__all__ = ["TRACK_FIELDS", "limit_error_fields", "settings_error_fields", "track_settings",
           "track_values"]

TRACK_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("duration", "Duration", "", placeholder="blank: until Stop",
              tip="Tracking time after the initial sweep and calibration, e.g. 60 s; blank "
                  "tracks until you press Stop."),
    FieldSpec("axis", "NV axis", "0",
              tip="The NV axis to track (0-3), or three or four axes separated by commas "
                  "(0,1,2,3) for the field vector."),
    FieldSpec("both_lines", "Both lines", "false", kind="check",
              tip="Lock both lines of each axis: B∥ and D, immune to temperature drifts."),
    FieldSpec("line", "Line", "lower", kind="choice", choices=("lower", "upper"),
              tip="The line locked when only one line per axis is tracked."),
    FieldSpec("rate", "Rate", "100 Hz", tip="Samples of B per second."),
    FieldSpec("mw_power", "MW power", "-10 dBm", tip="Microwave power."),
    FieldSpec("laser_power", "Laser power", "", placeholder="blank: keep the set point",
              tip="Laser power, e.g. 100 mW; blank keeps the laser's current set point."),
    FieldSpec("model", "Line model", "lorentzian", kind="choice",
              choices=("lorentzian", "gaussian", "14n"),
              tip="Line shape of the calibration fits (14n: resolved hyperfine triplets)."),
    FieldSpec("reacquire", "Re-acquire", "true", kind="check",
              tip="After a loss of lock, sweep again and re-lock instead of ending the run."),
    FieldSpec("sweep", "Initial sweep", "", placeholder="blank: automatic (D ± 100 MHz)",
              tip="Range of the initial sweep, START:STOP:POINTS, e.g. 2.80GHz:2.94GHz:561."),
    FieldSpec("field_guess", "Field guess", "", placeholder="Bx, By, Bz (optional)",
              tip="Approximate field vector: picks which crystal axis is 'axis k' for an "
                  "ensemble's 8 lines."),
)


def track_values(raw: dict[str, str]) -> dict[str, Any]:
    """The mapping :meth:`TrackSettings.parse` takes, from the form's texts."""
    values: dict[str, Any] = {
        "duration": raw.get("duration") or None,  # blank: until stopped
        "axis": raw.get("axis", "0"),
        "both_lines": raw.get("both_lines", "false") == "true",
        "line": raw.get("line", "lower"),
        "rate": raw.get("rate", ""),
        "mw_power": raw.get("mw_power", ""),
        "model": raw.get("model", "lorentzian"),
        "reacquire": raw.get("reacquire", "true") == "true",
    }
    for key in ("laser_power", "sweep", "field_guess"):
        if raw.get(key, ""):
            values[key] = raw[key]
    return values


def track_settings(raw: dict[str, str]) -> TrackSettings:
    """Validate the form; raises :class:`~nvsense.measure.SettingsError`."""
    return TrackSettings.parse(track_values(raw), context="tracking settings")


_KEYS = {f.key for f in TRACK_FIELDS}


def settings_error_fields(message: str) -> list[str]:
    """Form fields a settings error message is about."""
    body = message.split(": ", 1)[1] if ": " in message else message
    keys = []
    for part in body.split("; "):
        head = part.split(":", 1)[0].strip()
        word = re.split(r"[ .]", head, maxsplit=1)[0]
        if word in _KEYS:
            keys.append(word)
        elif word in ("range", "sweep"):
            keys.append("sweep")
    return keys


def limit_error_fields(message: str) -> list[str]:
    """Form fields a limit error message is about."""
    text = message.lower()
    keys = []
    if "frequency" in text:
        keys.append("sweep")
    if re.search(r"\bmw power\b", text):
        keys.append("mw_power")
    if "laser power" in text:
        keys.append("laser_power")
    return keys
