"""``nvsense odmr``: measure CW-ODMR, fit every sweep, report lines, field and D.

With no options it measures on the built-in simulated bench (this is ``make demo``).  A progress
line per sweep, then a table of the fitted lines, the field with its errors, D and the run file;
a PNG of the final spectrum with its fit is saved beside the run file.  ``--json`` prints one
JSON object instead.

Exit codes: 0 done (also after a stop at a Ctrl-C: the run is kept, status ``aborted``, reason
"stopped by user" — see below), 1 run aborted by an instrument fault, 2 bad input (nothing was
sent to an instrument), 3 the run completed but measured no resonance (see
:mod:`nvsense.measure.resonance`; its fit is reported as failed), 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ..formatting import StickyUnit, choose_prefix, error_decimals, format_value_error
from ..instruments import BenchConfigError, InstrumentError, LimitError, load_bench
from ..measure import (
    FIT_MODELS,
    STOPPED_BY_USER,
    OdmrResult,
    OdmrSettings,
    RunControl,
    SettingsError,
    SweepDone,
    run_odmr,
    stop_on_sigint,
)
from ..measure.bench_defaults import bench_defaults, check_bench_defaults, merge_defaults
from ..measure.odmr import check_odmr
from ..storage import Catalog, StorageError, resolve_data_dir
from ..units import QuantityError
from . import EXIT_BAD_INPUT, EXIT_FAULT, EXIT_INTERRUPTED, EXIT_NO_RESONANCE, EXIT_OK
from .options import parse_settings

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add ``nvsense odmr``."""
    p = subparsers.add_parser(
        "odmr", help="measure CW-ODMR, fit every sweep, report field and D",
        description="Measure CW-ODMR on a bench (default: the built-in simulated bench), fit "
                    "every sweep and the running average as they arrive, and report the lines, "
                    "the field (B∥ from 2 lines, the vector from 8) and D with their errors.")
    p.add_argument("--bench", metavar="FILE", help="bench file (YAML) or built-in bench name; "
                   "default: the simulated bench")
    p.add_argument("--start", metavar="FREQ", help="sweep start, e.g. 2.80GHz")
    p.add_argument("--stop", metavar="FREQ", help="sweep stop, e.g. 2.94GHz")
    p.add_argument("--points", type=int, metavar="N", help="points of the sweep, e.g. 801")
    p.add_argument("--range", dest="ranges", action="append", metavar="START:STOP:POINTS",
                   help="a frequency range (repeat for several), e.g. 2.80GHz:2.94GHz:801 "
                   "(default: the bench file's sweep, else 2.80GHz:2.94GHz:801, 0.175 MHz "
                   "steps)")
    p.add_argument("--sweeps", type=int, metavar="N", help="number of sweeps (default: the "
                   "bench file's, else 20 unless --duration is given)")
    p.add_argument("--duration", metavar="TIME", help="measure for this long, e.g. 30s")
    p.add_argument("--dwell", metavar="TIME", help="time per point (default: the bench "
                   "file's, else 1ms)")
    p.add_argument("--power", metavar="DBM", help="microwave power (default: the bench "
                   "file's, else -10dBm)")
    p.add_argument("--laser-power", metavar="POWER", help="laser power, e.g. 0.1W "
                   "(default: keep the laser's set point)")
    p.add_argument("--model", choices=FIT_MODELS, type=str.lower,
                   help="fit model (default: the bench file's, else lorentzian)")
    p.add_argument("--lines", type=int, metavar="N", help="number of lines (resonances for "
                   "14n/15n); default: found from the first sweep")
    p.add_argument("--field-guess", metavar="BX,BY,BZ", help="approximate field vector, e.g. "
                   "'0.4 mT, 1.1 mT, 1.9 mT': picks which of the symmetry-equivalent vectors "
                   "8 lines give")
    p.add_argument("--mode", choices=("auto", "list", "stepped"),
                   help="hardware-timed list sweeps or software-stepped sweeps (default: auto)")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (default $NVSENSE_DATA_DIR "
                   "or ./nvsense-data)")
    p.add_argument("--no-plot", action="store_true", help="do not save the PNG of the spectrum")
    p.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace, bench: Any = None) -> OdmrSettings:
    """Build and validate the ODMR settings from the command line; what it does not give
    comes from the bench file's ``defaults.odmr``, then from :class:`OdmrSettings`."""
    values: dict[str, Any] = {}
    single = [args.start, args.stop, args.points]
    if args.ranges and any(v is not None for v in single):
        raise SettingsError("give either --start/--stop/--points or --range, not both")
    if args.ranges:
        values["ranges"] = args.ranges
    elif any(v is not None for v in single):
        if not all(v is not None for v in single):
            raise SettingsError("--start, --stop and --points go together, e.g. --start 2.80GHz "
                                "--stop 2.94GHz --points 801")
        values["ranges"] = [{"start": args.start, "stop": args.stop, "points": args.points}]
    for key, value in (("sweeps", args.sweeps), ("duration", args.duration),
                       ("laser_power", args.laser_power), ("n_lines", args.lines),
                       ("field_guess", args.field_guess), ("dwell", args.dwell),
                       ("mw_power", args.power), ("model", args.model), ("mode", args.mode)):
        if value is not None:
            values[key] = value
    # what the command line does not give: the bench file's defaults.odmr (checked on their
    # own first, so that a mistake there is reported as the bench file's), then OdmrSettings'
    check_bench_defaults(bench, "odmr")
    values = merge_defaults("odmr", bench_defaults(bench, "odmr"), values)
    options = dict(OPTIONS)
    if not args.ranges:  # the range came from --start/--stop/--points
        options.update({"ranges.0.start": "--start", "ranges.0.stop": "--stop",
                        "ranges.0.points": "--points", "ranges.0": "--start/--stop/--points"})
    return parse_settings(OdmrSettings, values, options)


#: The option of each ODMR setting, for error messages.
OPTIONS = {
    "ranges": "--range", "sweeps": "--sweeps", "duration": "--duration", "dwell": "--dwell",
    "mw_power": "--power", "laser_power": "--laser-power", "model": "--model",
    "n_lines": "--lines", "field_guess": "--field-guess", "mode": "--mode",
}


def run(args: argparse.Namespace) -> int:
    """Run ``nvsense odmr``; returns the exit code."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False, soft_wrap=True)
    try:
        bench = load_bench(args.bench)
        settings = settings_from_args(args, bench)
        check_odmr(bench, settings)  # every limit the run will meet, before anything is sent
        catalog = Catalog(resolve_data_dir(args.data_dir))
    except (SettingsError, BenchConfigError, LimitError, QuantityError, StorageError,
            ValueError) as exc:
        err.print(f"nvsense odmr: {exc}", markup=False)
        return EXIT_BAD_INPUT
    control = RunControl()
    subscribers = [] if args.json else [_progress(out, settings)]
    figure = None if args.no_plot else _figure_process()  # imports matplotlib meanwhile
    result = None
    try:
        with stop_on_sigint(control), bench:
            result = run_odmr(bench, settings, catalog=catalog, subscribers=subscribers,
                              control=control)
    except (SettingsError, LimitError) as exc:  # checked before anything was sent
        err.print(f"nvsense odmr: {exc}", markup=False)
        return EXIT_BAD_INPUT
    except InstrumentError as exc:  # connecting failed: nothing was measured
        err.print(f"nvsense odmr: {exc}", markup=False)
        return EXIT_FAULT
    except KeyboardInterrupt:
        err.print("nvsense odmr: interrupted; the bench was left safe", markup=False)
        return EXIT_INTERRUPTED
    finally:
        if figure is not None and result is None:  # no run: no figure
            figure.cancel()
    assert result is not None  # (every way out without a result returned above)
    png = None
    if result.file is not None and result.average is not None and figure is not None:
        png = _save_plot(result, figure)
    elif figure is not None:
        figure.cancel()
    if args.json:
        summary = result.summary()
        summary["plot"] = str(png) if png else None
        print(json.dumps(summary))
    else:
        _print_table(out, result, png)
    for warning in result.warnings:
        err.print(f"nvsense odmr: warning: {warning}", markup=False)
    if result.error is not None:
        err.print(f"nvsense odmr: run aborted: {result.reason}", markup=False)
        return EXIT_FAULT
    if result.status == "aborted" and (result.reason or "").startswith(STOPPED_BY_USER):
        return EXIT_INTERRUPTED
    if result.resonance_found is False:
        return EXIT_NO_RESONANCE
    return EXIT_OK


def _figure_process() -> Any:
    """The process that will draw the PNG (:class:`nvsense.measure.figures.FigureProcess`),
    or None if it cannot start (then the PNG is drawn here, after the run)."""
    from ..measure.figures import FigureProcess, take_early

    early = take_early()  # started by the console script before this module's imports
    if early is not None:
        return early
    try:
        return FigureProcess()
    except OSError:
        return None


def _save_plot(result: OdmrResult, figure: Any = None) -> Any:
    """Draw the PNG beside the run file (in ``figure``'s process if given); its path, or
    None (with a message) if it could not be drawn."""
    from ..measure.figures import draw_spectrum_figure, spectrum_figure_data

    assert result.file is not None and result.average is not None
    path = result.file.with_suffix(".png")
    try:
        data = spectrum_figure_data(result.frequencies, result.average, result.final,
                                    title=f"{result.run_id} ({result.status})",
                                    sweeps=result.sweeps)
        if figure is None:
            return draw_spectrum_figure(path, data)
        figure.draw(path, data)
        return figure.wait()
    except Exception as exc:  # a figure must never cost the run
        if figure is not None:
            figure.cancel()
        print(f"nvsense odmr: could not save the plot: {exc}", file=sys.stderr)
        return None


def _progress(console: Console, settings: OdmrSettings):
    unit = StickyUnit("T")  # one unit for the whole run: no mT/µT hopping near 1 mT

    def show(event: Any) -> None:
        if not isinstance(event, SweepDone):
            return
        total = f"/{event.sweeps_planned}" if event.sweeps_planned else ""
        fit = event.average_fit
        text = ("finding the lines (sweep written, fits follow)"
                if getattr(event, "lines_pending", False) else _field_line(fit, unit))
        console.print(f"sweep {event.index + 1}{total}  t = {event.elapsed:7.2f} s  {text}",
                      markup=False)

    return show


def _field_line(fit: Any, unit: StickyUnit | None = None) -> str:
    """The live line's result: the field and D, value and error each in one unit."""
    unit = unit or StickyUnit("T")
    if fit is None:
        return "fit failed"
    state = "" if fit.success else f"  [fit: {fit.message}]"
    d = format_value_error(fit.D, fit.D_error, "Hz", prefix="M")
    if fit.kind == "vector" and np.all(np.isfinite(fit.field)):
        return f"B = {unit.format_vector(fit.field)}  D = {d}{state}"
    if fit.kind == "parallel" and np.isfinite(fit.field_parallel):
        return (f"B∥ = {unit.format(fit.field_parallel, fit.field_parallel_error)}"
                f"  D = {d}{state}")
    lines = ", ".join(f"{c / 1e6:.3f}" for c in fit.centers)
    return f"lines {lines} MHz{state}"


def _value_and_error(value: float, error: float, unit: str,
                     prefix: str | None = None) -> tuple[str, str]:
    """Table cells ``"1.90003 mT"`` and ``"0.00015 mT"``: the error in the value's unit."""
    text = format_value_error(value, error, unit, prefix=prefix)
    number, sep, rest = text.partition(" ± ")
    if not sep:
        return text, "?"
    err_number, _, unit_text = rest.partition(" ")
    return f"{number} {unit_text}", f"{err_number} {unit_text}"


def _print_table(console: Console, result: OdmrResult, png: Any) -> None:
    fit = result.final
    head = f"ODMR run {result.run_id}: {result.status}"
    if result.reason:
        head += f" ({result.reason})"
    if result.resonance_found is False:
        head += ", NO RESONANCE MEASURED"
    console.print(head, markup=False)
    if fit is not None:
        lines = Table(title=f"lines (fit of the average of {result.sweeps} sweeps, "
                      f"model {result.settings.model})", title_justify="left")
        for name in ("line", "center (MHz)", "error (kHz)", "FWHM (MHz)", "contrast (%)"):
            lines.add_column(name, justify="right")
        for i, (c, e, w, k) in enumerate(zip(fit.centers, fit.center_errors, fit.widths,
                                             fit.contrasts, strict=True)):
            lines.add_row(str(i + 1), f"{c / 1e6:.4f}", f"{e / 1e3:.2f}", f"{w / 1e6:.3f}",
                          f"{k * 100:.2f}")
        console.print(lines)
        if fit.kind != "none" and result.resonance_found is not False:  # no field from noise
            field = Table(title="field and zero-field splitting", title_justify="left")
            for name, justify in (("quantity", "left"), ("value", "right"), ("error", "right")):
                field.add_column(name, justify=justify)  # type: ignore[arg-type]
            # value and error in one unit (the value's), the error to two digits
            if fit.kind == "vector":
                norm = float(np.linalg.norm(fit.field))
                prefix = choose_prefix(norm, "T")[1]  # one unit for the whole vector
                for label, b, e in zip("xyz", fit.field, fit.field_errors, strict=True):
                    field.add_row(f"B{label}", *_value_and_error(b, e, "T", prefix))
                scale = choose_prefix(norm, "T")[0]
                finest = np.nanmin(np.where(fit.field_errors > 0, fit.field_errors, np.nan)) \
                    if np.any(fit.field_errors > 0) else np.nan
                places = error_decimals(finest, scale) if np.isfinite(finest) else None
                field.add_row("|B|", format_value_error(norm, None, "T", prefix=prefix,
                                                        decimals=places), "")
            else:
                field.add_row("B∥", *_value_and_error(fit.field_parallel,
                                                      fit.field_parallel_error, "T"))
            field.add_row("D", *_value_and_error(fit.D, fit.D_error, "Hz", "M"))
            console.print(field)
        if not fit.success and result.resonance_found is not False:  # else: a warning
            console.print(f"fit: {fit.message or 'failed'}", markup=False)
        if fit.kind == "vector":
            console.print("The vector is one of the fields that give the same 8 lines (sign "
                          "and axis permutations); --field-guess picks the one nearest your "
                          "bias field.", markup=False)
    console.print(f"file: {result.file}", markup=False)
    if png:
        console.print(f"plot: {png}", markup=False)
