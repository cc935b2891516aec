"""The tracking-magnetometer settings form and its translation into
:class:`~nvsense.measure.tracking.TrackSettings` (validated like ``nvsense track``)."""

from __future__ import annotations

import re
from typing import Any

from ..measure.tracking import TrackSettings
from .forms import FieldSpec, limit_fields

__all__ = ["LIMIT_FIELDS", "SAMPLE_SETTINGS", "TRACK_FIELDS", "limit_error_fields",
           "settings_error_fields", "track_form_defaults", "track_settings", "track_values"]

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


#: The form fields that set each quantity a :class:`~nvsense.instruments.LimitError` names.
LIMIT_FIELDS: dict[str, tuple[str, ...]] = {
    "frequency": ("sweep",),
    "list_points": ("sweep",),
    "n_bins": ("sweep",),
    "bin_time": ("rate",),
    "mw_power": ("mw_power",),
    "laser_power": ("laser_power",),
}


def limit_error_fields(error: Any) -> list[str]:
    """Form fields a :class:`~nvsense.instruments.LimitError` is about (its ``quantity``)."""
    return limit_fields(error, LIMIT_FIELDS)


#: Settings of a bench file's ``defaults.odmr`` that describe what its sample needs of any
#: CW measurement (a single NV: a low microwave power, its hyperfine model), so the tracking
#: form starts from them too when the bench file has no ``defaults.track``.
SAMPLE_SETTINGS = ("mw_power", "laser_power", "model")


def track_form_defaults(bench: Any) -> dict[str, str]:
    """The tracking form's starting values on ``bench``: the bench file's ``defaults.track``
    where it has one, else the sample's settings of its ``defaults.odmr``
    (:data:`SAMPLE_SETTINGS`), the form's own defaults elsewhere."""
    from ..measure.bench_defaults import bench_defaults

    values = {spec.key: spec.default for spec in TRACK_FIELDS}
    given = bench_defaults(bench, "track")
    if not given:
        odmr = bench_defaults(bench, "odmr")
        given = {k: odmr[k] for k in SAMPLE_SETTINGS if k in odmr}
        if str(given.get("model", "")).lower() not in _CHOICES["model"]:
            given.pop("model", None)  # an ODMR-only model (15n, hamiltonian)
    for key, value in given.items():
        if key in values and value is not None:
            values[key] = (", ".join(str(v) for v in value) if isinstance(value, list | tuple)
                           else str(value).lower() if isinstance(value, bool) else str(value))
    return values


_CHOICES = {spec.key: tuple(spec.choices) for spec in TRACK_FIELDS if spec.kind == "choice"}
