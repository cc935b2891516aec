"""``nvsense track --detection lockin``: the photodiode lock-in tracking magnetometer.

The options of the counts tracker that mean something else here (its output ``--rate``, its
PI gains, dithering, fit model...) are refused with the lock-in option to use instead; the
lock-in options are refused with ``--detection counts``.  Imports stay lazy: ``nvsense
track`` builds its parser without loading the measurement.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["LOCKIN_OPTIONS", "add_options", "dispatch", "run_lockin"]

#: Lock-in option -> setting, for ``--detection lockin`` (and refused with counts).
LOCKIN_OPTIONS = {
    "modulation_frequency": "--modulation-frequency",
    "deviation": "--deviation",
    "dual_resonance": "--dual-resonance",
    "hyperfine_drive": "--hyperfine-drive",
    "gradiometer": "--gradiometer",
    "bandwidth": "--bandwidth",
    "lockin_rate": "--lockin-rate",
    "no_subtraction": "--no-subtraction",
}

#: Counts-tracking options with no meaning for lock-in detection, and what to use instead.
COUNTS_ONLY = {
    "both_lines": ("--both-lines", "--dual-resonance"),
    "rate": ("--rate", "--lockin-rate"),
    "ki": ("--ki", "--bandwidth"),
    "kp": ("--kp", "--bandwidth"),
    "dither_periods": ("--dither-periods", "--modulation-frequency"),
    "capture_range": ("--capture-range", None),
    "reacquire": ("--reacquire", None),
    "sweeps": ("--sweeps", None),
    "calibration_time": ("--calibration-time", None),
    "model": ("--model", "--hyperfine-drive"),
    "field_guess": ("--field-guess", None),
    "mode": ("--mode", None),
}

#: Setting -> option, for the messages of the settings' validation.
OPTIONS = {
    "duration": "--duration", "axis": "--axis", "line": "--line", "mw_power": "--power",
    "laser_power": "--laser-power", "sweep": "--sweep", "sweep_dwell": "--sweep-dwell",
    "modulation_frequency": "--modulation-frequency", "deviation": "--deviation",
    "dual_resonance": "--dual-resonance", "hyperfine_drive": "--hyperfine-drive",
    "gradiometer": "--gradiometer", "bandwidth": "--bandwidth", "rate": "--lockin-rate",
    "reference_subtraction": "--no-subtraction",
}


def add_options(p: argparse.ArgumentParser) -> None:
    """Add ``--detection`` and the lock-in options to ``nvsense track``."""
    p.add_argument("--detection", default="counts", choices=("counts", "lockin"),
                   help="counts: photon counting with dithering (default); lockin: "
                        "photodiodes, FM and a software lock-in, reference-beam subtraction")
    g = p.add_argument_group("lock-in detection (--detection lockin)")
    g.add_argument("--modulation-frequency", default="10kHz", metavar="FREQ",
                   help="FM rate, the lock-in's reference")
    g.add_argument("--deviation", metavar="FREQ", help="peak FM deviation, e.g. 0.35MHz "
                   "(default: optimised for slope/noise)")
    g.add_argument("--dual-resonance", action="store_true",
                   help="drive both lines of the axis with opposite FM: D drifts cancel")
    g.add_argument("--hyperfine-drive", action="store_true",
                   help="drive the three 14N hyperfine lines (tones at ±2.16 MHz)")
    g.add_argument("--gradiometer", action="store_true",
                   help="two sensors: B1, B2 and the gradient, common-mode rejection")
    g.add_argument("--bandwidth", default="100Hz", metavar="FREQ",
                   help="bandwidth of the lock (the carrier following the line)")
    g.add_argument("--lockin-rate", default="2kHz", metavar="RATE",
                   help="output rate of the lock-in and the field")
    g.add_argument("--no-subtraction", action="store_true",
                   help="do not subtract the reference photodiode")


def _changed(args: argparse.Namespace, defaults: dict[str, Any], dest: str) -> bool:
    # None is "not given": the counts options have no argparse default (their defaults come
    # from the bench file's defaults.track, nvsense.cli.options.defaults_from_bench)
    value = getattr(args, dest, None)
    return value is not None and value != defaults.get(dest)


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


_DEFAULTS = {"both_lines": False, "rate": "100Hz", "ki": 0.8, "kp": 0.0, "dither_periods": 10,
             "capture_range": None, "reacquire": False, "sweeps": 1,
             "calibration_time": "2s", "model": "lorentzian", "field_guess": None,
             "mode": "auto", "modulation_frequency": "10kHz", "deviation": None,
             "dual_resonance": False, "hyperfine_drive": False, "gradiometer": False,
             "bandwidth": "100Hz", "lockin_rate": "2kHz", "no_subtraction": False}


def dispatch(args: argparse.Namespace, control_class: Any) -> int | None:
    """Run the lock-in tracker for ``--detection lockin``; refuse lock-in options given with
    counts detection (exit 2); ``None`` lets the counts tracker run."""
    if getattr(args, "detection", "counts") == "lockin":
        return run_lockin(args, control_class)
    given = [opt for dest, opt in LOCKIN_OPTIONS.items() if _changed(args, _DEFAULTS, dest)]
    if given:
        from rich.console import Console

        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"nvsense track: {', '.join(given)}: only with --detection lockin", markup=False)
        from . import EXIT_BAD_INPUT

        return EXIT_BAD_INPUT
    return None


def settings_from_args(args: argparse.Namespace) -> Any:
    """Validate the lock-in settings from the command line (errors name the options)."""
    from ..measure.lockin import LockinTrackSettings
    from ..measure.settings import SettingsError
    from .options import parse_settings

    for dest, (option, instead) in COUNTS_ONLY.items():
        if _changed(args, _DEFAULTS, dest):
            hint = f"; use {instead}" if instead else ""
            raise SettingsError(f"{option} applies to --detection counts{hint}")
    axis = str(_given(args.axis, "0")).strip()
    if axis not in ("0", "1", "2", "3"):
        raise SettingsError(f"--axis: lock-in tracking locks one axis, 0 to 3, not {axis!r}")
    values: dict[str, Any] = {
        "duration": _given(args.duration, "10s"), "axis": int(axis),
        "line": _given(args.line, "lower"), "mw_power": _given(args.power, "-10dBm"),
        "modulation_frequency": args.modulation_frequency,
        "dual_resonance": args.dual_resonance, "hyperfine_drive": args.hyperfine_drive,
        "gradiometer": args.gradiometer, "bandwidth": args.bandwidth,
        "rate": args.lockin_rate, "reference_subtraction": not args.no_subtraction,
        "sweep_dwell": args.sweep_dwell,
    }
    if args.sweep_dwell is None:  # not given: the lock-in's default (shorter than counts')
        values.pop("sweep_dwell")
    for key, value in (("laser_power", args.laser_power), ("sweep", args.sweep),
                       ("deviation", args.deviation)):
        if value is not None:
            values[key] = value
    try:
        return parse_settings(LockinTrackSettings, values, OPTIONS)
    except SettingsError as exc:  # checks across settings name the setting first: the option
        text = str(exc)
        head = text.split(" ", 1)[0]
        if head in OPTIONS:
            text = f"{OPTIONS[head]}: {text}"
        raise SettingsError(text) from None


def run_lockin(args: argparse.Namespace, control_class: Any) -> int:
    """Run ``nvsense track --detection lockin``; returns the exit code."""
    from rich.console import Console

    from ..instruments import BenchConfigError, InstrumentError, LimitError, load_bench
    from ..measure import STOPPED_BY_USER, SettingsError, stop_on_sigint
    from ..measure.lockin import check_lockin_track, run_lockin_track
    from ..storage import Catalog, StorageError, resolve_data_dir
    from ..units import QuantityError
    from . import EXIT_BAD_INPUT, EXIT_FAULT, EXIT_INTERRUPTED, EXIT_OK

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False, soft_wrap=True)
    try:
        settings = settings_from_args(args)
        bench = load_bench(args.bench)
        check_lockin_track(bench, settings)  # before anything is sent
        catalog = Catalog(resolve_data_dir(args.data_dir))
    except (SettingsError, BenchConfigError, LimitError, QuantityError, StorageError,
            ValueError) as exc:
        err.print(f"nvsense track: {exc}", markup=False)
        return EXIT_BAD_INPUT
    control = control_class()
    if not args.json:
        out.print("lock-in tracking: coarse sweep, calibration, then tracking ...",
                  markup=False)
    try:
        with stop_on_sigint(control), bench:
            result = run_lockin_track(bench, settings, catalog=catalog, control=control)
    except (SettingsError, LimitError) as exc:
        err.print(f"nvsense track: {exc}", markup=False)
        return EXIT_BAD_INPUT
    except InstrumentError as exc:
        err.print(f"nvsense track: {exc}", markup=False)
        return EXIT_FAULT
    except KeyboardInterrupt:
        err.print("nvsense track: interrupted; the bench was left safe", markup=False)
        return EXIT_INTERRUPTED
    summary = result.summary_json()
    if args.json:
        print(json.dumps(summary))
    else:
        _print_table(out, summary)
    if result.status == "aborted":
        if (result.reason or "").startswith(STOPPED_BY_USER):
            return EXIT_INTERRUPTED
        err.print(f"nvsense track: run aborted: {result.reason}", markup=False)
        return EXIT_FAULT
    return EXIT_OK


def _t(value: Any, unit: str = "pT/√Hz", scale: float = 1e12) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(_t(v, unit, scale) for v in value)
    return f"{float(value) * scale:.4g} {unit}"


def _print_table(console: Any, s: dict[str, Any]) -> None:
    from rich.table import Table

    head = f"lock-in tracking run {s['run_id']}: {s['status']}"
    if s.get("reason"):
        head += f" ({s['reason']})"
    console.print(head, markup=False)
    table = Table(title=f"B(t): {s.get('samples', 0)} samples at {s.get('rate_hz'):g} Hz",
                  title_justify="left")
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    rows = [
        ("mean B∥", _t(s.get("field_mean_t"), "mT", 1e3)),
        ("noise floor (10–100 Hz)", _t(s.get("noise_floor_t_per_rthz"))),
        ("shot-noise limit of the scheme", _t(s.get("shot_noise_limit_t_per_rthz"))),
        ("noise floor / limit", f"{s['noise_ratio']:.3f}" if s.get("noise_ratio") else "—"),
        ("laser-noise suppression (10–100 Hz)",
         _t(s.get("rin_suppression_db"), "dB", 1.0)),
        ("modulation", f"{_t(s.get('modulation_frequency_hz'), 'kHz', 1e-3)}, deviation "
                       f"{_t(s.get('fm_deviation_hz'), 'MHz', 1e-6)}"),
        ("lock bandwidth", _t(s.get("bandwidth_hz"), "Hz", 1.0)),
    ]
    if s.get("dual_resonance_gain") is not None:
        rows.append(("dual-resonance gain (vs one line)", f"{s['dual_resonance_gain']:.3f}"))
    if s.get("hyperfine_gain") is not None:
        rows.append(("hyperfine-drive gain (vs one tone)", f"{s['hyperfine_gain']:.3f}"))
    if s.get("gradiometer"):
        rows += [("gradient noise floor", _t(s.get("gradient_noise_floor_t_per_rthz"))),
                 ("common-mode rejection", _t(s.get("common_mode_rejection_db"), "dB", 1.0))]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for text in s.get("warnings") or []:
        console.print(f"warning: {text}", markup=False)
    console.print(f"file: {s['file']}", markup=False)
