"""``nvsense track``: the tracking magnetometer — lock onto NV lines and record B(t).

With no options it tracks axis 0 of the built-in simulated bench for 10 s at 100 Hz.  While it
runs, one live line shows the current field; at the end, a table with the mean field, the
noise floor (ASD of B(t) between 10 Hz and a third of the rate) and the shot-noise limit it is
compared with, and the run file.  ``--json`` prints one JSON object instead.

Exit codes: 0 done, 1 run aborted (instrument fault, lock lost without ``--reacquire``, failed
initial sweep), 2 bad input (nothing was sent to an instrument), 130 stopped by Ctrl-C (the run
is kept, status ``aborted``, reason "stopped by user").
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..instruments import BenchConfigError, InstrumentError, LimitError, load_bench
from ..measure import (
    STOPPED_BY_USER,
    RunControl,
    SettingsError,
    TrackingBlock,
    TrackResult,
    TrackSettings,
    run_track,
    stop_on_sigint,
)
from ..measure.bench_defaults import bench_defaults, check_bench_defaults, merge_defaults
from ..measure.tracking import check_track
from ..storage import Catalog, StorageError, resolve_data_dir
from ..units import QuantityError
from . import EXIT_BAD_INPUT, EXIT_FAULT, EXIT_INTERRUPTED, EXIT_OK
from .options import defaults_from_bench, parse_settings
from .track_lockin import add_options as add_lockin_options
from .track_lockin import dispatch as dispatch_lockin

__all__ = ["register", "run"]

#: Refreshes of the live line per second of wall time.
LIVE_REFRESH_HZ = 8


def register(subparsers: Any) -> None:
    """Add ``nvsense track``."""
    p = subparsers.add_parser(
        "track", help="tracking magnetometer: lock onto NV lines, record B(t), noise floor",
        description="Lock onto one or both lines of an NV axis (or three or four axes for the "
                    "vector) by square-wave frequency dithering and a PI loop, and record the "
                    "field at a steady rate (default: the built-in simulated bench).  Reports "
                    "the noise floor and the CW-ODMR shot-noise limit.")
    p.add_argument("--bench", metavar="FILE", help="bench file (YAML) or built-in bench name; "
                   "default: the simulated bench")
    p.add_argument("--duration", default="10s", metavar="TIME",
                   help="tracking time (after the initial sweep), e.g. 10s")
    p.add_argument("--axis", default="0", metavar="AXIS",
                   help="NV axis 0-3 (axis 0: the outermost pair of lines without "
                        "--field-guess), or three or four axes, e.g. 0,1,2,3, for the vector")
    p.add_argument("--both-lines", action="store_true",
                   help="lock both lines of each axis (measures D; D drifts cancel)")
    p.add_argument("--line", default="lower", choices=("lower", "upper"),
                   help="the line locked without --both-lines")
    p.add_argument("--rate", default="100Hz", metavar="RATE", help="output rate")
    p.add_argument("--power", default="-10dBm", metavar="DBM", help="microwave power")
    p.add_argument("--laser-power", metavar="POWER", help="laser power, e.g. 0.1W "
                   "(default: keep the laser's set point)")
    p.add_argument("--ki", type=float, default=0.8, help="integral gain of the lock (per "
                   "sample; 1 re-centres on each measurement)")
    p.add_argument("--kp", type=float, default=0.0, help="proportional gain of the lock")
    p.add_argument("--dither-periods", type=int, default=10, metavar="N",
                   help="square-wave dither cycles per output sample")
    p.add_argument("--capture-range", metavar="FREQ", help="line offset that counts as a lost "
                   "lock, e.g. 1MHz (default: one linewidth)")
    p.add_argument("--reacquire", action="store_true",
                   help="after a lost lock, sweep and lock again instead of stopping")
    p.add_argument("--sweep", metavar="START:STOP:POINTS", help="initial sweep, e.g. "
                   "2.80GHz:2.94GHz:561 (default 2.77-2.97 GHz in 0.25 MHz steps)")
    p.add_argument("--sweep-dwell", default="1ms", metavar="TIME",
                   help="time per point of the initial sweep")
    p.add_argument("--sweeps", type=int, default=1, metavar="N",
                   help="initial sweeps averaged")
    p.add_argument("--calibration-time", default="2s", metavar="TIME",
                   help="time for the fine sweeps that measure the locked lines")
    p.add_argument("--model", default="lorentzian", choices=("lorentzian", "gaussian", "14n"),
                   type=str.lower, help="line model of the fits")
    p.add_argument("--field-guess", metavar="BX,BY,BZ", help="approximate field vector: picks "
                   "which crystal axis is axis k for an ensemble's 8 lines")
    p.add_argument("--mode", default="auto", choices=("auto", "list", "stepped"),
                   help="hardware-timed (list) or software-stepped dithering")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (default $NVSENSE_DATA_DIR "
                   "or ./nvsense-data)")
    p.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    add_lockin_options(p)
    defaults_from_bench(p, OPTIONS)  # what the command line does not give: defaults.track
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace, bench: Any = None) -> TrackSettings:
    """Build and validate the tracking settings from the command line; what it does not give
    comes from the bench file's ``defaults.track``, then from :class:`TrackSettings`."""
    values: dict[str, Any] = {
        "duration": args.duration, "axis": args.axis, "both_lines": args.both_lines,
        "line": args.line, "rate": args.rate, "mw_power": args.power, "ki": args.ki,
        "kp": args.kp, "dither_periods": args.dither_periods, "reacquire": args.reacquire,
        "sweep_dwell": args.sweep_dwell, "sweeps": args.sweeps,
        "calibration_time": args.calibration_time, "model": args.model, "mode": args.mode,
    }
    for key, value in (("laser_power", args.laser_power), ("capture_range", args.capture_range),
                       ("sweep", args.sweep), ("field_guess", args.field_guess)):
        if value is not None:
            values[key] = value
    values = {key: value for key, value in values.items() if value is not None}
    check_bench_defaults(bench, "track")  # a mistake there is reported as the bench file's
    values = merge_defaults("track", bench_defaults(bench, "track"), values)
    return parse_settings(TrackSettings, values, OPTIONS)


#: The option of each tracking setting, for error messages.
OPTIONS = {
    "duration": "--duration", "axis": "--axis", "both_lines": "--both-lines", "line": "--line",
    "rate": "--rate", "mw_power": "--power", "laser_power": "--laser-power", "ki": "--ki",
    "kp": "--kp", "dither_periods": "--dither-periods", "capture_range": "--capture-range",
    "reacquire": "--reacquire", "sweep": "--sweep", "sweep_dwell": "--sweep-dwell",
    "sweeps": "--sweeps", "calibration_time": "--calibration-time", "model": "--model",
    "field_guess": "--field-guess", "mode": "--mode",
}


def run(args: argparse.Namespace) -> int:
    """Run ``nvsense track``; returns the exit code."""
    code = dispatch_lockin(args, RunControl)  # --detection lockin (nvsense.cli.track_lockin)
    if code is not None:
        return code
    err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per message
    out = Console(highlight=False, soft_wrap=True)
    try:
        bench = load_bench(args.bench)
        settings = settings_from_args(args, bench)
        check_track(bench, settings)  # every limit the run will meet, before anything is sent
        catalog = Catalog(resolve_data_dir(args.data_dir))
    except (SettingsError, BenchConfigError, LimitError, QuantityError, StorageError,
            ValueError) as exc:
        err.print(f"nvsense track: {exc}", markup=False)
        return EXIT_BAD_INPUT
    control = RunControl()
    live = None if args.json else _LiveLine(out, settings)
    try:
        with stop_on_sigint(control), bench:
            if live is not None:
                live.start()
            try:
                result = run_track(bench, settings, catalog=catalog,
                                   subscribers=[live] if live else [], control=control)
            finally:
                if live is not None:
                    live.stop()
    except (SettingsError, LimitError) as exc:  # checked before anything was sent
        err.print(f"nvsense track: {exc}", markup=False)
        return EXIT_BAD_INPUT
    except InstrumentError as exc:  # connecting failed: nothing was measured
        err.print(f"nvsense track: {exc}", markup=False)
        return EXIT_FAULT
    except KeyboardInterrupt:
        err.print("nvsense track: interrupted; the bench was left safe", markup=False)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(result.summary()))
    else:
        _print_table(out, result)
    if result.status == "aborted":
        if (result.reason or "").startswith(STOPPED_BY_USER):
            return EXIT_INTERRUPTED
        err.print(f"nvsense track: run aborted: {result.reason}", markup=False)
        return EXIT_FAULT
    return EXIT_OK


class _LiveLine:
    """One line that shows the current field, refreshed a few times a second."""

    def __init__(self, console: Console, settings: TrackSettings) -> None:
        self.console, self.settings = console, settings
        self.text = Text("initial sweep and calibration ...")
        self.live = Live(self.text, console=console, refresh_per_second=LIVE_REFRESH_HZ,
                         transient=not console.is_terminal)
        self._shown = 0.0
        self._last: TrackingBlock | None = None

    def start(self) -> None:
        self.live.start()

    def stop(self) -> None:
        if self._last is not None:
            self._show(self._last)  # the final state, not the last throttled one
        self.live.stop()

    def __call__(self, event: Any) -> None:
        if not isinstance(event, TrackingBlock):
            return
        self._last = event
        now = time.monotonic()
        if now - self._shown < 1.0 / LIVE_REFRESH_HZ and event.info.get("state") == "locked":
            return  # the measurement thread must not spend its time formatting
        self._shown = now
        self._show(event)

    def _show(self, event: TrackingBlock) -> None:
        info = event.info
        total = info.get("duration")
        progress = f"t = {info['elapsed']:7.2f}" + (f" / {total:g} s" if total else " s")
        state = "locked" if bool(np.all(event.locked[-1:])) else "OUT OF LOCK"
        self.text.plain = f"{progress}  {_field_text(event)}  [{state}]"


def _field_text(event: TrackingBlock) -> str:
    b = np.asarray(event.field)[-1]
    if np.ndim(b) == 1:
        comps = ", ".join(f"{v * 1e3:9.5f}" for v in b)
        text = f"B = ({comps}) mT"
    else:
        text = f"B∥ = {float(b) * 1e3:10.6f} mT"
    if event.D is not None:
        text += f"  D = {float(event.D[-1]) / 1e6:10.5f} MHz"
    return text


def _fmt_t(value: Any, scale: float = 1e9, unit: str = "nT/√Hz", digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return f"{float(value) * scale:.{digits}g} {unit}"


def _print_table(console: Console, result: TrackResult) -> None:
    s = result.summary()
    head = f"tracking run {result.run_id}: {result.status}"
    if result.reason:
        head += f" ({result.reason})"
    console.print(head, markup=False)
    cal = result.calibration
    if cal is not None:
        lines = Table(title="locked lines (calibration at the tracking MW power)",
                      title_justify="left")
        for name in ("line", "center MHz", "FWHM MHz", "contrast %", "δ kHz", "counts/s"):
            lines.add_column(name, justify="left" if name == "line" else "right",
                             no_wrap=True)
        for c in cal.lines:
            lines.add_row(c.label, f"{c.center / 1e6:.4f}", f"{c.width / 1e6:.3f}",
                          f"{c.contrast * 100:.2f}", f"{c.delta / 1e3:.1f}",
                          f"{c.count_rate:.3g}")
        console.print(lines)
        for text in cal.warnings:
            console.print(f"warning: {text}", markup=False)
    table = Table(title=f"B(t): {result.samples} samples at {result.settings.rate:g} Hz",
                  title_justify="left")
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    mean = s["field_mean_t"]
    if isinstance(mean, list):
        for label, value in zip("xyz", mean, strict=True):
            table.add_row(f"mean B{label}", f"{value * 1e3:.6f} mT")
    elif mean is not None:
        table.add_row("mean B∥ (B·n)", f"{mean * 1e3:.6f} mT")
    if s["d_mean_hz"] is not None:
        table.add_row("mean D", f"{s['d_mean_hz'] / 1e6:.5f} MHz")
    if s["locked_fraction"] is not None:
        table.add_row("in lock", f"{s['locked_fraction']:.1%} ({s['lock_losses']} loss(es))")
    band = s["noise_band_hz"]
    table.add_row(f"noise floor ({band[0]:g}–{band[1]:.3g} Hz)",
                  _fmt_t(s["noise_floor_t_per_rthz"]))
    table.add_row("shot-noise limit (fit: width, contrast, rate)",
                  _fmt_t(s["shot_noise_limit_t_per_rthz"]))
    table.add_row("shot-noise limit (bench file)",
                  _fmt_t(s["shot_noise_limit_bench_t_per_rthz"]))
    table.add_row("expected (limit + reference bin + dip photons)",
                  _fmt_t(s["expected_noise_t_per_rthz"]))
    if s["noise_ratio"] is not None:
        table.add_row("noise floor / shot-noise limit", f"{s['noise_ratio']:.3f}")
    console.print(table)
    console.print("Limits are one-sided ASDs: √2·η, η the CW-ODMR sensitivity δB·√t of Dréau "
                  "et al.", markup=False)
    console.print(f"file: {result.file}", markup=False)
