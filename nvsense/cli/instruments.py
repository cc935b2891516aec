"""``nvsense instruments``: the drivers nvsense knows, and a check of a bench.

``nvsense instruments list``
    Every driver, what it drives, the options it needs and whether it can be loaded here.
``nvsense instruments check [BENCH]``
    Load the bench file (default: the built-in simulated bench), connect to each instrument
    (the optional lock-in, analog input, FM drive, pulser, gated counter and camera too),
    identify it, read its state back, compare the bench limits with the instrument's, take a
    short test reading from the counter, the analog input and the camera (laser and RF stay
    off; nothing is played or modulated), then leave everything safe and disconnect.  Every
    instrument is tried and reported, also after one fails; a bench that mixes simulated and
    real instruments in a way that measures nothing is warned about.  Exit code 0 when all is
    well, 1 when an instrument cannot be reached or fails, 2 for a bad bench file or limits
    that leave nothing allowed (or an FM drive the bench's limits would never let start).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..instruments import (
    BUILTIN_BENCHES,
    Bench,
    BenchConfigError,
    LimitError,
    load_bench,
)
from ..instruments.registry import DRIVERS, KINDS, DriverUnavailableError
from ..units import format_quantity
from . import EXIT_BAD_INPUT, EXIT_FAULT, EXIT_OK

__all__ = ["register", "run_check", "run_list"]

#: Bins × bin time of the counter's test reading.
TEST_BINS, TEST_BIN_TIME = 10, 10e-3
#: Rate and length of the analog input's test reading (the rate of lock-in detection).
TEST_AI_RATE, TEST_AI_TIME = 200e3, 10e-3


def register(subparsers: Any) -> None:
    """Add ``nvsense instruments list`` and ``nvsense instruments check``."""
    parser = subparsers.add_parser(
        "instruments", help="list instrument drivers; check a bench",
        description="Instrument drivers and bench checks.")
    actions = parser.add_subparsers(dest="instruments_action", metavar="ACTION")
    listing = actions.add_parser("list", help="the drivers nvsense knows and what they drive")
    listing.set_defaults(func=run_list)
    check = actions.add_parser(
        "check", help="connect to a bench, identify and read back every instrument, check "
                      "limits, leave it safe",
        description="Connect to every instrument of a bench, identify it, read its state back, "
                    "check the limits, then leave the bench safe and disconnect.")
    check.add_argument("bench", nargs="?", default=None,
                       help="bench file (YAML) or built-in bench "
                            f"({', '.join(BUILTIN_BENCHES)}); default: the simulated bench")
    check.set_defaults(func=run_check)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_BAD_INPUT


def _console() -> Console:
    # wide enough for identities and addresses when the output is a file or a pipe (a wider
    # COLUMNS widens it)
    if sys.stdout.isatty():
        return Console()
    columns = os.environ.get("COLUMNS", "")
    return Console(width=max(120, int(columns) if columns.isdigit() else 0))


def run_list(args: argparse.Namespace) -> int:
    """Print the driver table."""
    table = Table(title="nvsense instrument drivers")
    for column in ("slot", "driver", "instrument", "bus", "needs", "status"):
        table.add_column(column, overflow="fold")
    for info in DRIVERS:
        try:
            info.load()
            missing = info.library_missing()
            status = f"[yellow]{escape(missing)}[/]" if missing else "[green]ready[/]"
        except DriverUnavailableError as exc:
            cause = exc.__cause__
            status = f"[red]unavailable[/]: {escape(str(cause or exc))}"
        table.add_row(info.kind, info.name, info.description, info.bus,
                      ", ".join(info.requires) or "-", status)
    console = _console()
    console.print(table)
    console.print("Slots: " + "; ".join(f"{k} = {v}" for k, v in KINDS.items()) + ". "
                  "A bench file may also name your own class as driver: 'package.module:Class'.")
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    """Check the bench ``args.bench``; return the exit code."""
    console = _console()
    try:
        with _bench_warnings_held():  # printed below, with the report
            bench = load_bench(args.bench)
    except BenchConfigError as exc:
        print(f"nvsense instruments check: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    console.print(f"Bench: [bold]{bench.label}[/]"
                  + (f" ({bench.source})" if bench.source and bench.config.name else ""))
    for text in bench.warnings:
        console.print(f"[yellow]Warning:[/] {text}")
    try:
        for slot in bench.optional_slots:  # built now, so that connect() reaches them too
            bench.instrument(slot)
    except BenchConfigError as exc:
        print(f"nvsense instruments check: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    bench.connect(keep_going=True)  # every instrument is tried and reported
    faults: list[str] = [str(exc) for exc in bench.connect_errors.values()]
    limit_problems: list[str] = []
    try:
        console.print(_instrument_table(bench, faults))
        if bench.connected:
            limits_table, limit_problems = _limits_table(bench, faults)
            console.print(limits_table)
    finally:
        report = bench.safe()
        bench.close()
    console.print("Left safe: " + ("; ".join(report) or "nothing was connected"))
    for problem in limit_problems:
        print(f"nvsense instruments check: {problem}", file=sys.stderr)
    if faults or bench.safe_errors:
        for fault in faults:
            print(f"nvsense instruments check: {fault}", file=sys.stderr)
        return EXIT_FAULT
    if limit_problems:
        return EXIT_BAD_INPUT
    console.print("[green]All instruments answered.[/]")
    return EXIT_OK


@contextlib.contextmanager
def _bench_warnings_held() -> Iterator[None]:
    """Keep the bench's make-up warnings off the log while it is built (the check prints
    them in its report)."""
    logger = logging.getLogger("nvsense.instruments")

    def drop(record: logging.LogRecord) -> bool:
        return not getattr(record, "nvsense_bench_warning", False)

    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _instrument_table(bench: Bench, faults: list[str]) -> Table:
    table = Table(title="Instruments")
    for column in ("slot", "driver", "identity", "state (read back)"):
        table.add_column(column, overflow="fold")
    for slot, instrument in bench.instruments.items():
        error = bench.connect_errors.get(slot)
        if error is not None:
            table.add_row(slot, bench.driver_of(slot), "[red]not connected[/]",
                          f"[red]{escape(error.cause)}[/]")
            continue
        identity = _attempt(lambda inst=instrument: str(inst.identity), slot, faults)
        state = _attempt(lambda s=slot, inst=instrument: _state(s, inst), slot, faults)
        table.add_row(slot, bench.driver_of(slot), identity, state)
    return table


def _attempt(read: Any, slot: str, faults: list[str]) -> str:
    try:
        return read()
    except Exception as exc:  # report and go on: the other instruments still get checked
        faults.append(f"{slot}: {exc}")
        return f"[red]failed: {escape(str(exc))}[/]"


def _state(slot: str, instrument: Any) -> str:
    if slot == "mw":
        return (f"{format_quantity(instrument.frequency, 'Hz')}, {instrument.power:g} dBm, "
                f"RF {_on(instrument.output)}")
    if slot == "laser":
        return f"{format_quantity(instrument.power, 'W')}, emission {_on(instrument.on)}"
    if slot == "coil":
        return f"{format_quantity(instrument.current, 'A')}, output {_on(instrument.output)}"
    if slot in _OPTIONAL_STATE:
        return _OPTIONAL_STATE[slot](instrument)
    instrument.configure(TEST_BINS, TEST_BIN_TIME)
    values = instrument.acquire()
    test = f"test read {TEST_BINS} × {format_quantity(TEST_BIN_TIME, 's')}"
    if instrument.kind == "volts":
        return f"{values.mean():.4g} V, laser off ({test})"
    rate = values.sum() / (TEST_BINS * TEST_BIN_TIME)
    return f"{rate:.3g} counts/s, laser off ({test})"


def _lockin_state(lockin: Any) -> str:
    reference = lockin.reference_source
    unit = getattr(lockin.limits, "sensitivity_unit", "V")
    return (f"τ {format_quantity(lockin.time_constant, 's')}, "
            f"{6 * int(lockin.filter_order)} dB/oct, "
            f"{format_quantity(lockin.sensitivity, unit)} full scale, {reference} reference "
            f"{format_quantity(lockin.reference_frequency, 'Hz')}, harmonic {lockin.harmonic}, "
            f"sine {format_quantity(lockin.sine_amplitude, 'V')}")


def _analog_input_state(ai: Any) -> str:
    """A short test reading of as many channels as the card takes at the lock-in rate."""
    chain = getattr(ai, "bench", None)  # the simulated photodiode chain has its own rate
    rate = float(chain.sample_rate) if chain is not None else TEST_AI_RATE
    channels = list(ai.available_channels)
    block = max(1, round(rate * TEST_AI_TIME))
    while True:
        try:
            rate = ai.configure(channels, rate, block)
            break
        except LimitError:
            if len(channels) == 1:
                raise
            channels = channels[:-1]  # above the card's aggregate rate: fewer channels
    ai.start()
    try:
        data = ai.read()
    finally:
        ai.stop()
    means = ", ".join(f"{name} {value:.4g} V"
                      for name, value in zip(data.channels, data.data.mean(axis=1), strict=True))
    clipped = [n for n, o in zip(data.channels, data.overrange, strict=True) if o]
    note = f"; CLIPPED: {', '.join(clipped)}" if clipped else ""
    return (f"{means}, laser off (test read {block} samples at "
            f"{format_quantity(rate, 'S/s')}){note}")


def _fm_drive_state(drive: Any) -> str:
    limits = drive.limits
    clock = "on the analog input's clock" if drive.shares_sample_clock else \
        "the source's own generator (the lock-in needs a sync)"
    amplitude = f", ±{format_quantity(limits.amplitude, 'V')} at full deviation" \
        if limits.amplitude else ""
    return f"{'running' if drive.running else 'stopped'}, {clock}{amplitude}"


def _pulser_state(pulser: Any) -> str:
    limits = pulser.limits
    outputs = ", ".join(f"{k} {v}" for k, v in pulser.channel_map.digital.items())
    return (f"{limits.device}: {limits.resolution_ns} ns grid, {limits.max_steps} steps; "
            f"outputs {outputs}; {'playing' if pulser.running else 'stopped'}")


def _gated_counter_state(counter: Any) -> str:
    config = getattr(counter, "configuration", None)
    return "idle" if not config else (f"configured for {config['windows_per_pass']} windows × "
                                      f"{config['passes']} passes")


def _camera_state(camera: Any) -> str:
    """A test frame on the camera's own clock (the trigger lines stay idle)."""
    limits = camera.limits
    camera.start(buffer_frames=2)
    try:
        block = camera.read_frames(min_frames=1, max_frames=1, timeout=max(2.0, 3 *
                                                                          camera.frame_period))
    finally:
        camera.stop()
    test = (f"test frame mean {float(block.frames[0].mean()):.1f} ADU" if len(block)
            else "[red]no test frame[/]")
    return (f"{limits.sensor_width}×{limits.sensor_height} px, exposure "
            f"{format_quantity(camera.exposure, 's')}, trigger "
            f"{getattr(camera.trigger_mode, 'value', camera.trigger_mode)}, {test}, laser off")


_OPTIONAL_STATE = {"lockin": _lockin_state, "analog_input": _analog_input_state,
                   "fm_drive": _fm_drive_state, "pulser": _pulser_state,
                   "gated_counter": _gated_counter_state, "camera": _camera_state}


def _on(value: bool) -> str:
    return "on" if value else "off"


def _span(low: float | None, high: float | None, unit: str) -> str:
    if low is None and high is None:
        return "-"
    if low is None:
        return f"≤ {_q(high, unit)}"  # type: ignore[arg-type]
    return f"{_q(low, unit)} to {_q(high, unit)}"  # type: ignore[arg-type]


def _q(value: float, unit: str) -> str:
    return f"{value:g} dBm" if unit == "dBm" else format_quantity(value, unit)


def _limits_table(bench: Bench, faults: list[str]) -> tuple[Table, list[str]]:
    """Bench limits next to the instruments'; problems that leave nothing allowed."""
    table = Table(title=f"Limits ({bench.limits.origin})")
    for column in ("setting", "bench", "instrument", "allowed", "note"):
        table.add_column(column, overflow="fold")
    problems: list[str] = []
    b = bench.limits
    rows: list[tuple[str, tuple[float | None, float | None], tuple[float, float] | None,
                     tuple[float, float] | None, str, Any]] = []
    connected = set(bench.instruments) - set(bench.connect_errors)
    try:
        if "mw" not in connected:
            raise _NotConnected
        inst, eff = bench.mw.instrument_limits, bench.mw.limits
        rows.append(("mw frequency", b.frequency or (None, None),
                     (inst.frequency_min, inst.frequency_max),
                     (eff.frequency_min, eff.frequency_max), "Hz", lambda: bench.mw.frequency))
        rows.append(("mw power", (None, b.max_mw_power), (inst.power_min, inst.power_max),
                     (eff.power_min, eff.power_max), "dBm", lambda: bench.mw.power))
    except _NotConnected:
        pass
    except Exception as exc:
        faults.append(f"mw: limits unknown: {exc}")
    try:
        if "laser" not in connected:
            raise _NotConnected
        inst, eff = bench.laser.instrument_limits, bench.laser.limits
        rows.append(("laser power", (None, b.max_laser_power), (inst.power_min, inst.power_max),
                     (eff.power_min, eff.power_max), "W", lambda: bench.laser.power))
    except _NotConnected:
        pass
    except Exception as exc:
        faults.append(f"laser: limits unknown: {exc}")
    if bench.coil is not None and "coil" in connected:
        coil_inst, coil_eff = bench.coil.instrument_limits, bench.coil.limits
        bench_coil = b.max_coil_current
        rows.append(("coil current",
                     (-bench_coil if bench_coil is not None else None, bench_coil),
                     (coil_inst.current_min, coil_inst.current_max) if coil_inst else None,
                     (coil_eff.current_min, coil_eff.current_max) if coil_eff else None,
                     "A", lambda: bench.coil.current))  # type: ignore[union-attr]
    rows.extend(_modulation_rows(bench, connected, problems))
    for name, bench_span, inst_span, allowed, unit, read in rows:
        note = "ok"
        if allowed is not None and allowed[0] > allowed[1]:
            note = "[red]nothing allowed[/]"
            problems.append(f"{name}: the bench limits ({_span(*bench_span, unit)}) and the "
                            f"instrument's ({_span(*inst_span, unit)}) leave no value; fix the "
                            f"limits in {bench.source or 'the bench'}")
        elif inst_span is not None and _wider(bench_span, inst_span):
            note = "the instrument's limit is the tighter one"
        if allowed is not None and note == "ok":
            try:
                value = read()
                if not allowed[0] <= value <= allowed[1]:
                    note = (f"set-point {_q(value, unit)} is outside: set a value inside "
                            f"before switching on")
            except Exception as exc:
                faults.append(f"{name}: read back failed: {exc}")
        table.add_row(name, _span(*bench_span, unit),
                      _span(*inst_span, unit) if inst_span else "-",
                      _span(*allowed, unit) if allowed else "-", note)
    return table, problems


def _modulation_rows(bench: Bench, connected: set[str], problems: list[str]) -> list[Any]:
    """The bench's ``max_modulation_voltage`` next to what drives the FM input (a drive whose
    amplitude is above it could never start: a problem of the bench file)."""
    high = bench.limits.max_modulation_voltage
    rows: list[Any] = []
    if "lockin" in connected:
        own = bench.lockin.instrument_limits.sine_amplitude_max
        allowed = min(own, high) if high is not None else own
        rows.append(("lock-in sine output", (None, high), (0.0, own), (0.0, allowed), "V",
                     lambda: bench.lockin.sine_amplitude))
    if "fm_drive" in connected and bench.fm_drive.limits.amplitude and high is not None:
        amplitude = bench.fm_drive.limits.amplitude
        if amplitude > high:
            problems.append(f"fm_drive: its amplitude ({_q(amplitude, 'V')} at full deviation) "
                            f"is above the bench's max_modulation_voltage ({_q(high, 'V')}), so "
                            f"it could never start; lower amplitude or raise the limit in "
                            f"{bench.source or 'the bench'}")
    return rows


class _NotConnected(Exception):
    """The instrument did not connect: its limits row is left out (its error is reported)."""


def _wider(bench_span: tuple[float | None, float | None],
           inst_span: tuple[float, float]) -> bool:
    low, high = bench_span
    return (low is not None and low < inst_span[0]) or (high is not None and high > inst_span[1])
