"""The lock-in tracking form and its translation into
:class:`~nvsense.measure.lockin.LockinTrackSettings` (validated like ``nvsense track
--detection lockin``)."""

from __future__ import annotations

import re
from typing import Any

from ..measure import SettingsError
from ..measure.lockin import LockinTrackSettings
from .forms import FieldSpec, limit_fields

__all__ = ["BENCH_TRACK_SETTINGS", "LOCKIN_FIELDS", "LOCKIN_LIMIT_FIELDS", "lockin_error_fields",
           "lockin_form_defaults", "lockin_limit_fields", "lockin_settings", "lockin_values"]

LOCKIN_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("duration", "Duration", "10 s", placeholder="blank: until Stop",
              tip="Tracking time after the sweep and the lock-in calibration, e.g. 10 s; "
                  "blank tracks until you press Stop."),
    FieldSpec("axis", "NV axis", "0", kind="choice", choices=("0", "1", "2", "3"),
              tip="The NV axis: the k-th pair of lines from the outside of the coarse sweep."),
    FieldSpec("line", "Line", "lower", kind="choice", choices=("lower", "upper"),
              tip="The line locked without dual resonance."),
    FieldSpec("modulation_frequency", "Modulation frequency", "10 kHz",
              tip="FM rate of the microwave source, the lock-in's reference (≥ 4 × the "
                  "output rate)."),
    FieldSpec("deviation", "Deviation", "", placeholder="blank: optimised",
              tip="Peak FM deviation, e.g. 0.35 MHz; blank optimises it for slope/noise "
                  "during the calibration."),
    FieldSpec("dual_resonance", "Dual resonance", "false", kind="check",
              tip="Drive both lines of the axis with opposite FM: shifts of D (temperature) "
                  "cancel, field shifts add."),
    FieldSpec("hyperfine_drive", "Hyperfine drive", "false", kind="check",
              tip="Drive the three 14N hyperfine lines of each locked resonance."),
    FieldSpec("gradiometer", "Gradiometer", "false", kind="check",
              tip="Two sensors (photodiode channels s0 and s1): B1, B2 and the gradient "
                  "with a calibrated gain match."),
    FieldSpec("reference_subtraction", "Reference subtraction", "true", kind="check",
              tip="Subtract the reference photodiode with a fitted gain (laser-noise "
                  "cancellation)."),
    FieldSpec("bandwidth", "Bandwidth", "100 Hz",
              tip="−3 dB bandwidth of the lock (the carrier following the line)."),
    FieldSpec("rate", "Output rate", "2 kHz",
              tip="Output rate of the lock-in and of the field, samples/s."),
    FieldSpec("mw_power", "MW power", "-10 dBm", tip="Microwave power (shared by the tones)."),
)

_KEYS = {f.key for f in LOCKIN_FIELDS}
#: Phrases of the measurement's messages that name a form field in other words.
_PHRASES = {"dual resonance": "dual_resonance", "the hyperfine drive": "hyperfine_drive"}


#: The settings of a bench file's ``defaults.track`` that mean the same for lock-in tracking
#: (the lock-in's ``rate`` is its output rate, not the counting tracker's sample rate).
BENCH_TRACK_SETTINGS = ("duration", "axis", "line", "mw_power")


def lockin_form_defaults(bench: Any) -> dict[str, str]:
    """The lock-in form's starting values on ``bench``: the settings of the bench file's
    ``defaults.track`` that mean the same for lock-in tracking (:data:`BENCH_TRACK_SETTINGS`),
    else its sample's microwave power of ``defaults.odmr``; the form's own defaults elsewhere.
    A value the form cannot hold (an axis of a vector tracking run, a line of a run on both
    lines) is left at the form's default."""
    from ..measure.bench_defaults import bench_defaults

    values = {spec.key: spec.default for spec in LOCKIN_FIELDS}
    track = bench_defaults(bench, "track")
    given = {k: track[k] for k in BENCH_TRACK_SETTINGS if k in track}
    if not track and "mw_power" in bench_defaults(bench, "odmr"):
        given["mw_power"] = bench_defaults(bench, "odmr")["mw_power"]
    if track.get("both_lines"):
        given.pop("line", None)
    choices = {spec.key: spec.choices for spec in LOCKIN_FIELDS if spec.kind == "choice"}
    for key, value in given.items():
        text = "" if value is None else str(value).strip()
        if key in values and text and (key not in choices or text in choices[key]):
            values[key] = text
    return values


def lockin_values(raw: dict[str, str]) -> dict[str, Any]:
    """The mapping :class:`LockinTrackSettings` takes, from the form's texts (blank duration:
    until stopped; blank deviation: optimised)."""
    values: dict[str, Any] = {key: raw.get(key, "") for key in _KEYS}
    for key in ("duration", "deviation"):
        values[key] = values[key] or None
    for spec in LOCKIN_FIELDS:
        if spec.kind == "check":
            values[spec.key] = raw.get(spec.key, spec.default) == "true"
    return values


def lockin_settings(raw: dict[str, str]) -> LockinTrackSettings:
    """Validate the form; raises :class:`~nvsense.measure.SettingsError` naming the field."""
    from pydantic import ValidationError

    from ..measure.settings import format_validation_error

    try:
        return LockinTrackSettings.model_validate(lockin_values(raw))
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc, "lock-in settings")) from None


def lockin_error_fields(message: str) -> list[str]:
    """Form fields a settings message is about: each ``"; "``-separated part names its
    setting first (``"bandwidth: …"``, ``"rate must be …"``) or in words (``"dual
    resonance drives …"``)."""
    body = message.split(": ", 1)[1] if message.startswith("lock-in settings: ") else message
    keys: list[str] = []
    for part in body.split("; "):
        word = re.split(r"[ :.(]", part.strip(), maxsplit=1)[0]
        if word in _KEYS:
            keys.append(word)
            continue
        for phrase, key in _PHRASES.items():
            if part.startswith(phrase):
                keys.append(key)
    return keys


#: The form fields that set each quantity a :class:`~nvsense.instruments.LimitError` names
#: (the microwave frequencies are the coarse sweep's ends widened by the deviation).
LOCKIN_LIMIT_FIELDS: dict[str, tuple[str, ...]] = {
    "frequency": ("deviation",),
    "mw_power": ("mw_power",),
}


def lockin_limit_fields(error: Any) -> list[str]:
    """Form fields a :class:`~nvsense.instruments.LimitError` is about."""
    return limit_fields(error, LOCKIN_LIMIT_FIELDS)
