"""``nvsense campaign``: run, check and follow measurement campaigns.

``nvsense campaign run FILE`` validates every point of the campaign file (settings, units, the
bench's limits), then measures them one after the other on one bench connection, showing
progress (point k of n, ETA), and prints a summary table.  ``--resume`` continues a campaign
that was stopped or killed.  ``check`` validates a file and lists its points without running
anything; ``status`` shows what a campaign has done so far.

Exit codes: 0 every point completed, 1 a point failed (instrument fault) or the bench could not
be reached, 2 bad input (nothing was run), 130 stopped by Ctrl-C (the bench is left safe;
``--resume`` continues).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..campaign import (
    Campaign,
    CampaignError,
    CampaignResult,
    CampaignStarted,
    PointFinished,
    PointOutcome,
    PointStarted,
    campaign_status,
    describe_field,
    load_campaign,
    run_campaign,
)
from ..instruments import BenchConfigError, InstrumentError, LimitError
from ..measure import STOPPED_BY_USER, RunControl, SettingsError, SweepDone, stop_on_sigint
from ..measure.resonance import RESONANCE_KEY
from ..storage import Catalog, StorageError, resolve_data_dir
from ..units import QuantityError
from . import EXIT_BAD_INPUT, EXIT_FAULT, EXIT_INTERRUPTED, EXIT_OK

__all__ = ["register"]

_BAD_INPUT = (CampaignError, SettingsError, BenchConfigError, LimitError, QuantityError,
              StorageError)


def register(subparsers: Any) -> None:
    """Add ``nvsense campaign run|check|status``."""
    p = subparsers.add_parser(
        "campaign", help="run measurement campaigns from a campaign file",
        description="Step measurement settings (MW power, laser power, dwell, coil current, "
                    "...) over many runs from a campaign file (YAML); every run goes to the "
                    "catalogue with the campaign's name and point. The file format is on the "
                    "Campaigns page of the nvsense documentation; `nvsense campaign check FILE` "
                    "validates a file.")
    sub = p.add_subparsers(dest="campaign_command", metavar="ACTION")
    p.set_defaults(func=lambda args: _usage(p))

    run = sub.add_parser(
        "run", help="run every point of a campaign file",
        description="Validate every point of FILE, then measure them on one bench connection. "
                    "Ctrl-C stops after the current sweep and leaves the bench safe (a second "
                    "Ctrl-C stops at once); --resume continues where it stopped.")
    _common(run)
    run.add_argument("--resume", action="store_true",
                     help="skip points already completed (in the catalogue) and run the rest")
    run.add_argument("--json", action="store_true",
                     help="print one JSON object with every point's outcome, nothing else")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser(
        "check", help="validate a campaign file and list its points; runs nothing",
        description="Validate FILE (settings, units, the bench's limits) and list its points. "
                    "Nothing is sent to an instrument.")
    _common(check, data_dir=False)
    check.set_defaults(func=cmd_check)

    status = sub.add_parser(
        "status", help="the results table of a campaign so far (read-only)",
        description="Show each point of FILE with its status, its results and its run (or why "
                    "it failed), from the catalogue and the campaign journal.  Read-only: the "
                    "bench is not connected, so this works while the campaign runs.")
    _common(status)
    status.add_argument("--json", action="store_true",
                        help="print one JSON object with every point's outcome (as campaign "
                             "run --json does), nothing else")
    status.set_defaults(func=cmd_status)


def _common(p: argparse.ArgumentParser, data_dir: bool = True) -> None:
    p.add_argument("file", metavar="FILE", help="campaign file (YAML)")
    p.add_argument("--bench", metavar="BENCH", help="bench file or built-in bench to use "
                   "instead of the one the campaign file names")
    p.add_argument("--name", metavar="NAME", help="campaign name to use instead of the one "
                   "the campaign file gives (default: its name key, else the file's name)")
    if data_dir:
        p.add_argument("--data-dir", metavar="DIR", help="data folder (default "
                       "$NVSENSE_DATA_DIR or ./nvsense-data)")


def _consoles() -> tuple[Console, Console]:
    """stderr and stdout consoles; off a terminal (a log file) tables get room to breathe
    instead of 80 columns, and messages are never cut into lines."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=160)
    return err, out


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return EXIT_BAD_INPUT


def _load(args: argparse.Namespace, err: Console, what: str) -> Campaign | None:
    try:
        return load_campaign(args.file, bench=args.bench, name=args.name)
    except _BAD_INPUT as exc:
        err.print(f"nvsense campaign {what}: {exc}", markup=False)
        err.print("Nothing was run.", markup=False)
        return None


# -- run ------------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    """``nvsense campaign run``; returns the exit code."""
    err, out = _consoles()
    campaign = _load(args, err, "run")
    if campaign is None:
        return EXIT_BAD_INPUT
    try:
        catalog = Catalog(resolve_data_dir(args.data_dir))
    except StorageError as exc:
        err.print(f"nvsense campaign run: {exc}", markup=False)
        return EXIT_BAD_INPUT
    control = RunControl()
    display = None if args.json else _Progress(out, campaign, catalog)
    try:
        with stop_on_sigint(control):
            if display is not None:
                with display:
                    result = run_campaign(campaign, catalog=catalog, resume=args.resume,
                                          control=control, subscribers=[display])
            else:
                result = run_campaign(campaign, catalog=catalog, resume=args.resume,
                                      control=control)
    except (CampaignError, StorageError) as exc:
        err.print(f"nvsense campaign run: {exc}", markup=False)
        return EXIT_BAD_INPUT
    except InstrumentError as exc:  # connecting failed: nothing was measured
        err.print(f"nvsense campaign run: {exc}", markup=False)
        return EXIT_FAULT
    except KeyboardInterrupt:
        err.print(f"nvsense campaign run: interrupted; the bench was left safe. Continue with: "
                  f"{_resume_command(args)}", markup=False)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(_json(result, catalog), allow_nan=False, default=str))
    else:
        _print_summary(out, campaign, result)
    return _exit_code(result, err, args)


def _exit_code(result: CampaignResult, err: Console, args: argparse.Namespace) -> int:
    stopped = result.stopped_reason
    if stopped is not None:
        err.print(f"nvsense campaign run: stopped: {stopped}; {result.count('not run')} "
                  f"point(s) not run. Continue with: {_resume_command(args)}", markup=False)
    if stopped is not None and stopped.startswith(STOPPED_BY_USER):
        return EXIT_INTERRUPTED
    if result.faulted or stopped is not None:
        failed = [o.point.index for o in result.outcomes if o.status == "failed"]
        if failed:
            err.print(f"nvsense campaign run: point(s) {', '.join(map(str, failed))} failed; "
                      f"{_resume_command(args)} measures them again", markup=False)
        return EXIT_FAULT
    return EXIT_OK


def _resume_command(args: argparse.Namespace) -> str:
    parts = ["nvsense campaign run", args.file, "--resume"]
    for flag, value in (("--data-dir", args.data_dir), ("--bench", args.bench),
                        ("--name", args.name)):
        if value:
            parts += [flag, value]
    return " ".join(parts)


class _Progress:
    """Point k of n with an ETA: a live bar on a terminal, a line per point otherwise (a log
    of an unattended campaign)."""

    def __init__(self, console: Console, campaign: Campaign, catalog: Catalog, *,
                 redirect: bool = True) -> None:
        self.console = console
        self.campaign = campaign
        self.catalog = catalog
        self.total = len(campaign)
        self.finished = 0
        self.measured: list[float] = []
        self.to_run = self.total
        self.live = console.is_terminal
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                            TextColumn("ETA {task.fields[eta]}"), console=console,
                            transient=False, redirect_stdout=redirect,
                            redirect_stderr=redirect) if self.live else None
        self.task: Any = None
        self.current = ""

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
            self.task = self.bar.add_task("starting", total=self.total, eta="—")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def eta(self) -> str:
        """Time left: the mean time of the last points measured × the points left.  The
        first point is left out once there are others: it also pays for warming up (the
        fit's compilation, the instruments' first settings)."""
        if not self.measured:
            return "—"
        recent = (self.measured[1:] if len(self.measured) > 1 else self.measured)[-10:]
        seconds = sum(recent) / len(recent) * self.to_run
        return str(dt.timedelta(seconds=math.ceil(seconds)))

    def __call__(self, event: Any) -> None:
        if isinstance(event, CampaignStarted):
            self.to_run = self.total - event.done
            self._say(f"campaign {self.campaign.name}: {self.total} point(s) of "
                      f"{self.campaign.measurement.name} on bench {self.campaign.bench.label}"
                      + (f", {event.done} to be skipped (completed by an earlier session)"
                         if event.done else "")
                      + f"; data in {self.catalog.data_dir}")
        elif isinstance(event, PointStarted):
            self.current = self._head(event.point)
            self._describe(self.current)
        elif isinstance(event, SweepDone):
            planned = f"/{event.sweeps_planned}" if event.sweeps_planned else ""
            self._describe(f"{self.current} sweep {event.index + 1}{planned}")
        elif isinstance(event, PointFinished):
            self._finished(event.outcome)

    def _finished(self, outcome: PointOutcome) -> None:
        self.finished += 1
        if outcome.status != "skipped":
            self.to_run = max(self.to_run - 1, 0)
            self.measured.append(outcome.elapsed)
        head = self._head(outcome.point)
        if outcome.status == "skipped":
            text = f"{head}: skipped ({outcome.reason})"
        else:
            detail = describe_field(outcome.results) if outcome.status == "completed" \
                else outcome.reason
            text = f"{head}: {outcome.status} in {outcome.elapsed:.1f} s  {detail}"
            if outcome.status != "stopped":
                text += f"  ETA {self.eta()}"
        if self.bar is not None:
            self.bar.update(self.task, completed=self.finished, eta=self.eta(),
                            description=f"point {outcome.point.index}")
        self._say(text)

    def _head(self, point: Any) -> str:
        """``point 5 (6 of 8; mw_power=-10 dBm)``: the point's index, as in the table, the
        catalogue and ``nvsense runs`` (counted from 0), then how far the campaign is."""
        where = [f"{point.index + 1} of {self.total}"]  # a campaign file's points: 0 .. n-1
        if point.label():
            where.append(point.label())
        return f"point {point.index} ({'; '.join(where)})"

    def _describe(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=text)

    def _say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text, markup=False, soft_wrap=True)
        else:
            self.console.print(text, markup=False, soft_wrap=True)


def _print_summary(console: Console, campaign: Campaign, result: CampaignResult) -> None:
    console.print(f"campaign {campaign.name}: {result.summary()}", markup=False)
    console.print(_results_table(campaign, result))
    no_resonance = [o.point.index for o in result.outcomes
                    if o.results.get(RESONANCE_KEY) is False]
    if no_resonance:
        console.print(f"warning: no resonance was measured at point(s) "
                      f"{', '.join(map(str, no_resonance))}: their fits are not measurements "
                      "(nvsense show RUN_ID gives the reason)", markup=False)


def _results_table(campaign: Campaign, result: CampaignResult) -> Table:
    """The table of every point: its stepped values, status, field, ... and run or reason."""
    table = Table()
    table.add_column("point", justify="right")
    for name in campaign.stepped:
        table.add_column(name, justify="right")
    tracking = campaign.measurement.name == "track"
    columns = ["status", "field", "linewidth (MHz)", "contrast (%)"]
    columns += ["noise (nT/√Hz)"] if tracking else []
    for name in [*columns, "run / reason"]:
        table.add_column(name, justify="left" if name in ("status", "run / reason") else "right")
    for o in result.outcomes:
        values = [o.point.label_of(name) for name in campaign.stepped]
        cells = [o.status, describe_field(o.results) if o.results else "—",
                 _number(o.value("linewidth"), 1e-6, "{:.3f}"),
                 _number(o.value("contrast"), 100, "{:.2f}")]
        if tracking:
            cells.append(_number(o.value("noise_floor"), 1e9, "{:.2f}"))
        cells.append(o.run_id if o.status in ("completed", "skipped") else (o.reason or ""))
        table.add_row(str(o.point.index), *values, *cells)
    return table


def _number(value: float, scale: float, fmt: str) -> str:
    return fmt.format(value * scale) if math.isfinite(value) else "—"


def _json(result: CampaignResult, catalog: Catalog) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    points = []
    for o in result.outcomes:
        points.append({
            "point": o.point.index, "key": o.point.key,
            "values": {k: clean(v) for k, v in o.point.values.items()},
            "coil_current_a": o.point.coil_current, "status": o.status, "reason": o.reason,
            "run_id": o.run_id, "file": str(o.file) if o.file else None,
            "elapsed_s": round(o.elapsed, 3),
            "results": {k: clean(v) for k, v in o.results.items()
                        if isinstance(v, int | float | str | bool) or v is None},
        })
    return {"campaign": result.name, "data_dir": str(catalog.data_dir),
            "stopped_reason": result.stopped_reason,
            "counts": {s: result.count(s) for s in
                       ("completed", "skipped", "failed", "stopped", "not run")},
            "points": points}


# -- check ----------------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    """``nvsense campaign check``; returns the exit code."""
    err, out = _consoles()
    campaign = _load(args, err, "check")
    if campaign is None:
        return EXIT_BAD_INPUT
    out.print(f"campaign {campaign.name}: {len(campaign)} point(s) of "
              f"{campaign.measurement.name} on bench {campaign.bench.label} "
              f"(combine: {campaign.combine}, on_error: {campaign.on_error})", markup=False)
    table = Table()
    table.add_column("point", justify="right")
    for name in campaign.stepped:
        table.add_column(name, justify="right")
    table.add_column("key")
    for point in campaign.points:
        table.add_row(str(point.index), *[point.label_of(n) for n in campaign.stepped],
                      point.key)
    out.print(table)
    out.print("The campaign file is valid: every point is within the bench's limits.",
              markup=False)
    return EXIT_OK


# -- status ---------------------------------------------------------------------------------

def cmd_status(args: argparse.Namespace) -> int:
    """``nvsense campaign status``: the results table so far, read from the catalogue and the
    campaign journal (the bench is not connected); returns the exit code."""
    err, out = _consoles()
    campaign = _load(args, err, "status")
    if campaign is None:
        return EXIT_BAD_INPUT
    try:
        catalog = Catalog(resolve_data_dir(args.data_dir))
        result = campaign_status(campaign, catalog=catalog)
    except (CampaignError, StorageError) as exc:
        err.print(f"nvsense campaign status: {exc}", markup=False)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(_json(result, catalog), allow_nan=False, default=str))
        return EXIT_OK
    have = result.count("completed") + result.count("skipped")
    out.print(f"campaign {campaign.name}: {have} of {len(campaign)} point(s) have a completed "
              f"run ({result.summary()}); data in {catalog.data_dir}", markup=False)
    out.print(_results_table(campaign, result))
    if result.stopped_reason:
        out.print(f"The last session stopped early: {result.stopped_reason}. Continue with: "
                  f"{_resume_command(args)}", markup=False)
    return EXIT_OK
