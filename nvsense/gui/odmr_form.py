"""The ODMR settings form and its translation into :class:`~nvsense.measure.OdmrSettings`.

The fields hold text as the command line takes it ("2.80 GHz", "1 ms", "-10 dBm") and are
validated by the same :meth:`OdmrSettings.parse` and ``check_odmr`` as ``nvsense
odmr``, so the window shows exactly the CLI's messages.
"""

from __future__ import annotations

import re
from typing import Any

from ..measure import FIT_MODELS, OdmrSettings
from ..measure.settings import DEFAULT_RANGE
from .forms import FieldSpec, limit_fields

__all__ = ["LIMIT_FIELDS", "ODMR_FIELDS", "limit_error_fields", "odmr_form_defaults",
           "odmr_settings", "odmr_values", "settings_error_fields"]

ODMR_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("start", "Start", f"{DEFAULT_RANGE[0] / 1e9:.2f} GHz",
              tip="First frequency of the sweep."),
    FieldSpec("stop", "Stop", f"{DEFAULT_RANGE[1] / 1e9:.2f} GHz",
              tip="Last frequency of the sweep (included)."),
    FieldSpec("points", "Points", str(DEFAULT_RANGE[2]), tip="Frequency points of the sweep."),
    FieldSpec("extra_ranges", "More ranges", "", placeholder="START:STOP:POINTS; …",
              tip="Further ranges swept after the first one within each sweep, e.g. "
                  "2.95GHz:3.00GHz:51; separate several with ';'."),
    FieldSpec("dwell", "Dwell", "1 ms", tip="Time per frequency point."),
    FieldSpec("sweeps", "Sweeps", "100", placeholder="blank: until the duration",
              tip="Stop after this many sweeps (or the duration, whichever comes first)."),
    FieldSpec("duration", "Duration", "", placeholder="blank: the sweeps decide",
              tip="Stop after this time, e.g. 5 min.  With neither sweeps nor duration: "
                  "20 sweeps, as on the command line."),
    FieldSpec("mw_power", "MW power", "-10 dBm", tip="Microwave power."),
    FieldSpec("laser_power", "Laser power", "", placeholder="blank: keep the set point",
              tip="Laser power, e.g. 100 mW; blank keeps the laser's current set point."),
    FieldSpec("model", "Fit model", "lorentzian", kind="choice", choices=FIT_MODELS,
              tip="Line shape fitted to every sweep and to the running average."),
    FieldSpec("n_lines", "Lines", "auto", kind="choice",
              choices=("auto", *(str(n) for n in range(1, 9))),
              tip="Number of lines (resonances for 14n/15n); auto: found in the first sweep.  "
                  "2 lines give B∥, 8 lines the field vector."),
    FieldSpec("mode", "Sweep mode", "auto", kind="choice", choices=("auto", "list", "stepped"),
              tip="list: hardware-timed (MW list stepped by the DAQ clock); stepped: software "
                  "sets each frequency; auto: list when the bench supports it."),
    FieldSpec("field_guess", "Field guess", "", placeholder="Bx, By, Bz (optional)",
              tip="Approximate field vector, e.g. '0.4 mT, 1.1 mT, 1.9 mT': picks which of "
                  "the symmetry-equivalent vectors 8 lines give."),
)


def odmr_values(raw: dict[str, str]) -> dict[str, Any]:
    """The mapping :meth:`OdmrSettings.parse` takes, from the form's texts (blank fields are
    left out so the measurement's defaults apply)."""
    values: dict[str, Any] = {
        "dwell": raw.get("dwell", ""),
        "mw_power": raw.get("mw_power", ""),
        "model": raw.get("model", "lorentzian"),
        "mode": raw.get("mode", "auto"),
    }
    ranges: list[Any] = [{"start": raw.get("start", ""), "stop": raw.get("stop", ""),
                          "points": raw.get("points", "")}]
    extra = raw.get("extra_ranges", "")
    ranges += [r.strip() for r in re.split(r"[;\n]", extra) if r.strip()]
    values["ranges"] = ranges
    for key in ("sweeps", "duration", "laser_power", "field_guess"):
        if raw.get(key, ""):
            values[key] = raw[key]
    if raw.get("n_lines", "auto") not in ("", "auto"):
        values["n_lines"] = raw["n_lines"]
    return values


def odmr_settings(raw: dict[str, str]) -> OdmrSettings:
    """Validate the form; raises :class:`~nvsense.measure.SettingsError` with the CLI's
    message."""
    return OdmrSettings.parse(odmr_values(raw), context="ODMR settings")


_KEYS = ("mw_power", "laser_power", "field_guess", "n_lines", "sweeps", "duration", "dwell",
         "model", "mode")


def settings_error_fields(message: str) -> list[str]:
    """Form fields a :class:`SettingsError` message is about (to outline them)."""
    body = message.split(": ", 1)[1] if ": " in message else message
    keys: list[str] = []
    for part in body.split("; "):
        head = part.split(":", 1)[0].strip()
        word = head.split(" ", 1)[0]
        if head.startswith("ranges.0."):
            keys.append(head.rsplit(".", 1)[1])
        elif head == "ranges.0":
            keys += ["start", "stop"]
        elif head.startswith("ranges") or word == "range":
            keys.append("extra_ranges")
        elif word in _KEYS:
            keys.append(word)
    return keys


#: The form fields that set each quantity a :class:`~nvsense.instruments.LimitError` names.
LIMIT_FIELDS: dict[str, tuple[str, ...]] = {
    "frequency": ("start", "stop", "extra_ranges"),
    "list_points": ("points", "extra_ranges"),
    "n_bins": ("points", "extra_ranges"),
    "bin_time": ("dwell",),
    "mw_power": ("mw_power",),
    "laser_power": ("laser_power",),
}


def limit_error_fields(error: Any, raw: dict[str, str] | None = None) -> list[str]:
    """Form fields a :class:`~nvsense.instruments.LimitError` is about, from its
    ``quantity``, ``value`` and ``bound``: given the form's values ``raw``, a frequency outside
    the limits marks the end of the first range it passes (``start`` below the lower limit,
    ``stop`` above the upper one) or the further ranges that hold it."""
    keys = limit_fields(error, LIMIT_FIELDS)
    value = getattr(error, "value", None)
    if getattr(error, "quantity", None) != "frequency" or raw is None \
            or not isinstance(value, int | float):
        return keys
    start, stop = _hz(raw.get("start", "")), _hz(raw.get("stop", ""))
    if start is None or stop is None or not start <= float(value) <= stop:
        return ["extra_ranges"]
    bound = getattr(error, "bound", None)
    return {"lower": ["start"], "upper": ["stop"]}.get(str(bound), ["start", "stop"])


def _hz(text: str) -> float | None:
    from ..units import parse_quantity

    try:
        return float(parse_quantity(text, "Hz", name="frequency"))
    except Exception:  # a blank or broken field holds no frequency
        return None


def _text(value: Any) -> str:
    """A bench file's setting as the form's text ("-20 dBm", "20 ms", "0.4 mT, 1.1 mT, …")."""
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _range_text(r: Any) -> str:
    return f"{r.start / 1e9:.9g}GHz:{r.stop / 1e9:.9g}GHz:{r.points}"


def odmr_form_defaults(bench: Any) -> dict[str, str]:
    """The form's starting values on ``bench``: the bench file's ``defaults.odmr`` where it
    gives them, the form's own defaults elsewhere — the values ``nvsense odmr --bench FILE``
    uses without options (:mod:`nvsense.measure.bench_defaults`).  Settings that belong together
    go together: a bench giving ``sweeps`` leaves ``duration`` blank, a bench giving ``model``
    without ``n_lines`` leaves the lines to be found.

    Raises
    ------
    SettingsError
        The bench file's ``defaults.odmr`` are invalid (naming the bench file).
    """
    from ..measure.bench_defaults import TOGETHER, bench_defaults, check_bench_defaults

    values = {spec.key: spec.default for spec in ODMR_FIELDS}
    given = bench_defaults(bench, "odmr")
    if not given:
        return values
    check_bench_defaults(bench, "odmr")
    for group in TOGETHER["odmr"]:
        if group & set(given):
            for key in group:
                values[key] = "auto" if key == "n_lines" else ""
    for key, value in given.items():
        if key == "ranges":
            settings = OdmrSettings.parse({"ranges": value})
            first, *more = settings.ranges
            values["start"] = f"{first.start / 1e9:.9g} GHz"
            values["stop"] = f"{first.stop / 1e9:.9g} GHz"
            values["points"] = str(first.points)
            values["extra_ranges"] = "; ".join(_range_text(r) for r in more)
        elif key in values and value is not None:
            values[key] = _text(value)
    return values
