"""``nvsense pulsed``: Rabi, Ramsey, Hahn echo, XY8-N, T1 and pulsed ODMR; ``pulsed show``.

``nvsense pulsed PROTOCOL --bench FILE [--tau START:STOP:N] [--averages N] [--json]`` runs the
protocol on the bench's pulse generator and gated counter: one progress line per average
(with the running fit), then the results with their errors, the run file, and a PNG (the
sequence and the fitted signal) beside it.  ``--json`` prints one JSON object: ``run_id``,
``file``, ``status``, ``protocol`` and the protocol's results with ``_error``
(``rabi_frequency_hz``, ``pi_pulse_s``; ``t2star_s``, ``detuning_hz``; ``t2_s``; ``t1_s``;
pulsed ODMR: ``mw_frequency_hz``; XY8 with ``--ac-frequency``: ``ac_field_t``), ``null`` where
the fit is not trusted.

``nvsense pulsed show PROGRAM_OR_RUN --out PNG`` draws the sequence of a program JSON file or
of a run file.

Exit codes: 0 done, 1 run aborted by an instrument fault, 2 bad input (nothing was sent), 3
the run completed but its fit is not trusted (the data are in the run file), 130 stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from ..instruments import BenchConfigError, InstrumentError, LimitError, load_bench
from ..measure import STOPPED_BY_USER, RunControl, SettingsError, stop_on_sigint
from ..storage import Catalog, StorageError, resolve_data_dir
from ..units import QuantityError
from . import EXIT_BAD_INPUT, EXIT_FAULT, EXIT_INTERRUPTED, EXIT_NO_RESONANCE, EXIT_OK

__all__ = ["register", "run", "show"]

_HELP = {
    "rabi": "Rabi oscillation: π and π/2 pulses, Rabi frequency",
    "ramsey": "Ramsey (free induction decay): T2*, detuning",
    "echo": "Hahn echo: T2",
    "xy8": "XY8-N dynamical decoupling: T2 under N pulses",
    "t1": "T1 relaxation (relaxometry)",
    "podmr": "pulsed ODMR: the resonance with π pulses",
}

#: The option of each setting, for error messages.
OPTIONS = {
    "tau": "--tau", "frequencies": "--frequencies", "averages": "--averages",
    "repetitions": "--repetitions", "mw_frequency": "--frequency", "mw_power": "--power",
    "laser_power": "--laser-power", "pi_pulse": "--pi-pulse", "pi_half": "--pi-half",
    "detuning": "--detuning", "n_pulses": "--n-pulses", "randomise": "--randomise",
    "seed": "--seed", "ac_frequency": "--ac-frequency", "retrack_every": "--retrack-every",
    "retrack_span": "--retrack-span", "phase_cycle": "--no-phase-cycle",
    "references": "--references",
}


def register(subparsers: Any) -> None:
    """Add ``nvsense pulsed`` with one sub-command per protocol, and ``pulsed show``."""
    p = subparsers.add_parser(
        "pulsed", help="pulsed protocols: Rabi, Ramsey, echo, XY8, T1, pulsed ODMR",
        description="Run a pulsed protocol on a bench with a pulse generator and a gated "
                    "counter (default: the simulated bench), fit it, and keep the counts, the "
                    "fit and the pulse program (as given and as compiled) in the run file.")
    sub = p.add_subparsers(dest="protocol", metavar="PROTOCOL")
    sub.required = True
    for name, help_line in _HELP.items():
        q = sub.add_parser(name, help=help_line, description=help_line + ".")
        q.add_argument("--bench", metavar="FILE", help="bench file (YAML) or built-in bench "
                       "name; default: the simulated bench")
        if name == "podmr":
            q.add_argument("--frequencies", metavar="START:STOP:N", required=True,
                           help="microwave sweep, e.g. 2.835GHz:2.849GHz:57")
        else:
            q.add_argument("--tau", metavar="START:STOP:N", help="τ sweep, e.g. 0:400ns:41 "
                           "(default: the protocol's)")
        q.add_argument("--averages", type=int, metavar="N", help="sweeps of τ, accumulated "
                       "(default 10)")
        q.add_argument("--repetitions", type=int, metavar="N", help="shots of every point "
                       "per average (default 2000)")
        q.add_argument("--frequency", metavar="FREQ", help="the resonance, e.g. 2.842GHz "
                       "(default: the latest pulsed-ODMR run's on this bench)")
        q.add_argument("--power", metavar="DBM", help="microwave power (default -10dBm)")
        q.add_argument("--laser-power", metavar="POWER", help="laser power, e.g. 1mW "
                       "(default: keep the set point)")
        q.add_argument("--pi-pulse", metavar="TIME", help="π-pulse length, e.g. 62ns "
                       "(default: the latest Rabi run's on this bench, scaled to --power)")
        if name in ("ramsey", "echo", "xy8"):
            q.add_argument("--pi-half", metavar="TIME", help="π/2-pulse length (default: "
                           "half the π pulse)")
            q.add_argument("--no-phase-cycle", action="store_true",
                           help="no phase-cycled readout (normalise by the mean instead)")
        if name == "ramsey":
            q.add_argument("--detuning", metavar="FREQ", help="microwave detuning from the "
                           "resonance: the fringe frequency, e.g. 1MHz (default 0)")
        if name == "xy8":
            q.add_argument("--n-pulses", type=int, metavar="N", help="π pulses, a multiple "
                           "of 8 (default 8)")
            q.add_argument("--ac-frequency", metavar="FREQ", help="AC magnetometry: τ = "
                           "1/(2f), both quadratures read, the field amplitude reported "
                           "(ac_field_t) instead of T2")
        q.add_argument("--randomise", action="store_true", help="play the points in a random "
                       "order (against drifts)")
        q.add_argument("--seed", type=int, metavar="N", help="seed of the random order")
        q.add_argument("--retrack-every", type=int, metavar="N", help="re-track the resonance "
                       "(a short CW-ODMR sweep) before every N-th average")
        q.add_argument("--data-dir", metavar="DIR", help="data folder (default "
                       "$NVSENSE_DATA_DIR or ./nvsense-data)")
        q.add_argument("--no-plot", action="store_true", help="do not save the PNG")
        q.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
        q.set_defaults(func=run, command_name=f"pulsed {name}")
    s = sub.add_parser("show", help="draw the sequence of a program JSON file or a run file",
                       description="Draw one shot of a pulse program (a JSON file of "
                                   "PulseProgram.to_json) or of the program a run played.")
    s.add_argument("source", metavar="PROGRAM_OR_RUN", help="program JSON file or run file "
                   "(.nc)")
    s.add_argument("--out", metavar="PNG", required=True, help="the PNG to write")
    s.add_argument("--point", type=int, metavar="N", help="sweep point to draw (default: the "
                   "last)")
    s.add_argument("--linear", action="store_true", help="true time axis (default: "
                   "compressed, so that short pulses stay visible)")
    s.set_defaults(func=show, command_name="pulsed show")


def settings_from_args(args: argparse.Namespace) -> Any:
    """The validated :class:`~nvsense.measure.pulsed.PulsedSettings` of the command line."""
    from ..measure.pulsed import PulsedSettings
    from .options import parse_settings

    values: dict[str, Any] = {"protocol": args.protocol}
    for key, dest in (("tau", "tau"), ("frequencies", "frequencies"),
                      ("averages", "averages"), ("repetitions", "repetitions"),
                      ("mw_frequency", "frequency"), ("mw_power", "power"),
                      ("laser_power", "laser_power"), ("pi_pulse", "pi_pulse"),
                      ("pi_half", "pi_half"), ("detuning", "detuning"),
                      ("n_pulses", "n_pulses"), ("ac_frequency", "ac_frequency"),
                      ("seed", "seed"),
                      ("retrack_every", "retrack_every")):
        value = getattr(args, dest, None)
        if value is not None:
            values[key] = value
    if args.randomise:
        values["randomise"] = True
    if getattr(args, "no_phase_cycle", False):
        values["phase_cycle"] = False
    return parse_settings(PulsedSettings, values, OPTIONS)


def run(args: argparse.Namespace) -> int:
    """Run ``nvsense pulsed PROTOCOL``; returns the exit code."""
    from ..measure.pulsed import check_pulsed, resolve_settings, run_pulsed
    from ..pulses import PulseProgramError

    name = args.command_name
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False, soft_wrap=True)
    try:
        bench = load_bench(args.bench)
        catalog = Catalog(resolve_data_dir(args.data_dir))
        settings = resolve_settings(settings_from_args(args), bench, catalog.data_dir)
        check_pulsed(bench, settings)  # every limit, the program's blocks: nothing sent
    except (SettingsError, BenchConfigError, LimitError, QuantityError, StorageError,
            PulseProgramError, ValueError) as exc:
        err.print(f"nvsense {name}: {exc}", markup=False)
        return EXIT_BAD_INPUT
    control = RunControl()
    subscribers = [] if args.json else [_progress(out, settings)]
    try:
        with stop_on_sigint(control), bench:
            result = run_pulsed(bench, settings, catalog=catalog, subscribers=subscribers,
                                control=control)
    except (SettingsError, LimitError) as exc:
        err.print(f"nvsense {name}: {exc}", markup=False)
        return EXIT_BAD_INPUT
    except InstrumentError as exc:  # connecting failed: nothing was measured
        err.print(f"nvsense {name}: {exc}", markup=False)
        return EXIT_FAULT
    except KeyboardInterrupt:
        err.print(f"nvsense {name}: interrupted; the bench was left safe", markup=False)
        return EXIT_INTERRUPTED
    png = None
    if result.file is not None and result.averages and not args.no_plot:
        png = _save_plot(result, name)
    if args.json:
        print(json.dumps(result.summary()))
    else:
        _print_result(out, result, png)
    for warning in result.warnings:
        err.print(f"nvsense {name}: warning: {warning}", markup=False)
    if result.error is not None:
        err.print(f"nvsense {name}: run aborted: {result.reason}", markup=False)
        return EXIT_FAULT
    if result.status == "aborted" and (result.reason or "").startswith(STOPPED_BY_USER):
        return EXIT_INTERRUPTED
    if result.settings.fit and not result.success:
        return EXIT_NO_RESONANCE
    return EXIT_OK


def _save_plot(result: Any, name: str) -> Path | None:
    from ..measure.pulsed.figure import save_pulsed_figure

    try:
        return save_pulsed_figure(result.file.with_suffix(".png"), result)
    except Exception as exc:  # a figure must never cost the run
        print(f"nvsense {name}: could not save the plot: {exc}", file=sys.stderr)
        return None


def _progress(console: Console, settings: Any):
    from ..measure.documents import Record
    from ..measure.pulsed.figure import result_lines
    from ..measure.pulsed.fits import result_keys

    keys = result_keys(settings)
    state = {"n": 0}

    def show(event: Any) -> None:
        if not isinstance(event, Record) or "signal" not in event.values:
            return
        values = event.values
        state["n"] += 1
        text = ("   ".join(result_lines(values, keys)) if values.get("fit_success")
                else "fit: not yet trusted")
        console.print(f"average {state['n']}/{settings.averages}  t = {values['time']:8.3f} s"
                      f"  {text}", markup=False)

    return show


def _print_result(console: Console, result: Any, png: Path | None) -> None:
    from ..measure.pulsed.figure import result_lines
    from ..measure.pulsed.fits import result_keys

    head = f"pulsed {result.protocol} run {result.run_id}: {result.status}"
    if result.reason:
        head += f" ({result.reason})"
    console.print(head, markup=False)
    console.print(f"averages: {result.averages} × {result.settings.repetitions} repetitions",
                  markup=False)
    if result.fit is not None:
        if result.success:
            for line in result_lines(result.fit.values, result_keys(result.settings)):
                console.print(line, markup=False)
        else:
            console.print(f"fit not trusted: {result.fit.message}", markup=False)
    console.print(f"file: {result.file}", markup=False)
    if png:
        console.print(f"plot: {png}", markup=False)


def show(args: argparse.Namespace) -> int:
    """Run ``nvsense pulsed show``: draw a program's sequence to a PNG."""
    from ..pulses import PulseProgram, PulseProgramError

    name = "nvsense pulsed show"
    source = Path(args.source)
    out = Path(args.out)
    try:
        if not source.is_file():
            raise ValueError(f"{source}: no such file (a program JSON file or a run file)")
        if out.suffix.lower() != ".png":
            raise ValueError(f"--out {out}: give a .png file")
        if not out.parent.is_dir():
            raise ValueError(f"--out {out}: the folder {out.parent} does not exist")
        if out.resolve() == source.resolve():
            raise ValueError(f"--out {out} would overwrite the program it draws")
        if source.suffix.lower() == ".nc":
            from ..measure.pulsed import program_of_run

            try:
                program = program_of_run(source)
            except (OSError, StorageError) as exc:
                raise ValueError(f"{source}: not a readable run file ({exc})") from None
        else:
            try:
                text = source.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"{source}: cannot read it ({exc})") from None
            program = PulseProgram.from_json(text)
        point = args.point
        if point is not None and not 0 <= point < program.n_points:
            raise ValueError(f"--point {point}: the program has points 0 to "
                             f"{program.n_points - 1}")
    except (ValueError, PulseProgramError, SettingsError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..pulses import draw_program

    ax = draw_program(program, point=point, time_axis="linear" if args.linear else "compressed")
    try:
        ax.figure.savefig(out, dpi=100, bbox_inches="tight")
    except OSError as exc:
        print(f"{name}: cannot write {out}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        plt.close(ax.figure)
    print(f"sequence: {out}")
    return EXIT_OK
