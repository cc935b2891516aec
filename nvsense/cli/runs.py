"""``nvsense runs`` (list the catalogue) and ``nvsense show`` (one run's summary)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..formatting import choose_prefix, error_decimals, field_text, format_value_error
from ..storage import Catalog, CatalogError, RunFileError
from ..storage.datadir import DATA_DIR_ENV, DEFAULT_DATA_DIR, RUN_ID_PATTERN
from ..storage.summary import run_summary
from ..storage.times import parse_iso
from ..units import format_quantity

EXIT_OK = 0
EXIT_BAD_INPUT = 2

_DATA_DIR_HELP = f"data folder (default: ${DATA_DIR_ENV}, else ./{DEFAULT_DATA_DIR})"
_STATUS_STYLE = {"completed": "green", "running": "cyan", "aborted": "red", "interrupted": "yellow"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``runs`` and ``show`` commands."""
    runs = subparsers.add_parser(
        "runs",
        help="list the runs in the catalogue",
        description="List the runs in the data folder's catalogue, oldest first.",
    )
    runs.add_argument("--kind", action="append", help="run kind (odmr, track, ...); repeatable")
    runs.add_argument(
        "--status",
        action="append",
        choices=["running", "completed", "aborted", "interrupted"],
        help="run status; repeatable",
    )
    runs.add_argument("--since", help="runs started from: 2026-11-28, 2026-11-28T14:00, '2 h'")
    runs.add_argument("--until", help="runs started up to (a bare date includes that day)")
    runs.add_argument("--campaign", help="campaign name")
    runs.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="parameter value, e.g. power_dbm=-10, or a range power_dbm=-20..-5; repeatable",
    )
    runs.add_argument(
        "--limit",
        type=int,
        default=50,
        help="show only the latest N runs (default 50; 0 shows all)",
    )
    runs.add_argument(
        "--rescan", action="store_true", help="first (re)index every run file in the data folder"
    )
    runs.add_argument("--data-dir", help=_DATA_DIR_HELP)
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    runs.set_defaults(func=cmd_runs)

    show = subparsers.add_parser(
        "show",
        help="summary of one run",
        description="Summary of one run: kind, status, times, parameters, sizes, results, "
        "abort reason, instruments.",
    )
    show.add_argument("run", metavar="RUN_ID_OR_FILE", help="run id or run file (.nc)")
    show.add_argument("--data-dir", help=_DATA_DIR_HELP)
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=cmd_show)


def _console() -> Console:
    # Wide when piped, so that ids and paths are never wrapped in a log or a test.
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


def _error(message: str) -> int:
    print(f"nvsense: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _parse_param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--param {text!r}: write NAME=VALUE, e.g. power_dbm=-10")
    if ".." in value:
        low, high = value.split("..", 1)
        return name.strip(), (
            _param_value(low) if low else None,
            _param_value(high) if high else None,
        )
    return name.strip(), _param_value(value)


def _param_value(text: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text  # a plain string such as a mode name
    if isinstance(value, dict | list) or value is None:
        raise ValueError(f"--param value {text!r}: give a number, true/false or a text")
    return value


def cmd_runs(args: argparse.Namespace) -> int:
    """``nvsense runs``: the catalogue as a table or JSON."""
    catalog = Catalog(args.data_dir)
    try:
        params = dict(_parse_param(p) for p in args.param)
        if args.rescan:
            report = catalog.rescan()
            print(
                f"indexed {len(report.indexed)} run file(s), {len(report.added)} new",
                file=sys.stderr,
            )
            for _path, message in report.unreadable:
                print(f"  not indexed: {message}", file=sys.stderr)
            for run_id in report.missing:
                print(f"  catalogued, file missing: {run_id}", file=sys.stderr)
        limit = args.limit if args.limit and args.limit > 0 else None
        rows = catalog.records(
            kind=args.kind,
            status=args.status,
            since=args.since,
            until=args.until,
            campaign=args.campaign,
            **params,
        )
    except (CatalogError, ValueError) as exc:
        return _error(str(exc))
    shown = rows[-limit:] if limit else rows
    if args.json:
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return EXIT_OK
    console = _console()
    if not rows:
        where = "" if catalog.path.exists() else " (no catalogue there yet)"
        console.print(f"no runs match in {catalog.data_dir}{where}")
        return EXIT_OK
    console.print(_runs_table(shown, catalog))
    if len(shown) < len(rows):
        console.print(f"showing the latest {len(shown)} of {len(rows)} runs; --limit 0 shows all")
    return EXIT_OK


def _runs_table(rows: list[dict[str, Any]], catalog: Catalog) -> Table:
    table = Table(title=f"runs in {catalog.data_dir}", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("kind")
    table.add_column("status", no_wrap=True)
    table.add_column("start", no_wrap=True)
    table.add_column("duration", justify="right")
    table.add_column("records", justify="right")
    table.add_column("field", no_wrap=True)
    table.add_column("D", justify="right", no_wrap=True)
    table.add_column("campaign", no_wrap=True)
    table.add_column("abort reason", no_wrap=True, overflow="ellipsis")
    for row in rows:
        style = _STATUS_STYLE.get(row["status"], "")
        campaign = row["campaign"] or ""
        if campaign and row["campaign_point"] is not None:
            campaign += f" #{row['campaign_point']}"
        table.add_row(
            row["id"],
            row["kind"],
            f"[{style}]{row['status']}[/]" if style else row["status"],
            _local(row["start_time"]),
            _duration(row["start_time"], row["end_time"]),
            "" if row["n_records"] is None else str(row["n_records"]),
            _field_text(row),
            _quantity(row.get("D"), "Hz", 8),
            campaign,
            _shorten(row.get("abort_reason") or "", 60),
        )
    return table


def _local(iso: str | None) -> str:
    if not iso:
        return ""
    return parse_iso(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: str | None, end: str | None) -> str:
    if not start or not end:
        return ""
    seconds = (parse_iso(end) - parse_iso(start)).total_seconds()
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _quantity(value: Any, unit: str, digits: int = 5) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return ""
    if unit in ("1", ""):
        return f"{value:.{digits}g}"
    return format_quantity(value, unit, digits)


def _field_text(row: dict[str, Any]) -> str:
    """The field of a catalogue row, one unit for the whole vector; a run that measured no
    resonance shows no field (its fit is not a measurement)."""
    return field_text({**(row.get("results") or {}), **row}, empty="")


def _shorten(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _run_path(target: str, catalog: Catalog) -> Path:
    path = Path(target)
    if path.exists() or not RUN_ID_PATTERN.match(target):
        return path  # open_run names a missing or unreadable file
    return catalog.locate(target)


def cmd_show(args: argparse.Namespace) -> int:
    """``nvsense show``: one run's summary, read from its file."""
    catalog = Catalog(args.data_dir)
    try:
        summary = run_summary(_run_path(args.run, catalog))
    except (CatalogError, RunFileError) as exc:
        return _error(str(exc))
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return EXIT_OK
    _print_summary(summary, _console())
    return EXIT_OK


def _print_summary(s: dict[str, Any], console: Console) -> None:
    state = s["state"]
    style = _STATUS_STYLE.get(state, "")
    console.print(f"[bold]{s['run_id']}[/]  {s['kind']}  [{style}]{state}[/]")
    if s["note"]:
        console.print(f"  note: {s['note']}")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("file", s["file"])
    table.add_row("start", _local(s["start_time"]))
    if s["end_time"]:
        table.add_row(
            "end", f"{_local(s['end_time'])}  ({_duration(s['start_time'], s['end_time'])})"
        )
    table.add_row(f"{s['append_dim']} records", str(s["records"]))
    table.add_row("dims", ", ".join(f"{k}={v}" for k, v in s["dims"].items()))
    if s["abort_reason"]:
        table.add_row("abort reason", s["abort_reason"])
    if s["campaign"]:
        point = "" if s["campaign_point"] is None else f" point {s['campaign_point']}"
        table.add_row("campaign", f"{s['campaign']}{point}")
    table.add_row("software", f"nvsense {s['software_version']}")
    if s["bench_source"]:
        table.add_row("bench", s["bench_source"])
    for role, identity in s["instruments"].items():
        table.add_row(f"instrument {role}", str(identity))
    console.print(table)
    _print_mapping(console, "parameters", s["parameters"], s["parameter_units"])
    _print_mapping(console, "results", s["results"], s["result_units"])


def _print_mapping(
    console: Console, title: str, values: dict[str, Any], units: dict[str, str]
) -> None:
    if not values:
        return
    console.print(f"[bold]{title}[/]")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    flat = dict(_flat(values))
    prefixes, places = _vector_prefixes(flat, units)
    for name, value in flat.items():
        unit = units.get(name)
        error = flat.get(f"{name}_error")
        if name.endswith("_error") and _number(flat.get(name.removesuffix("_error"))):
            continue  # shown with its value, in the value's unit
        if _number(value) and unit:
            if _number(error) and units.get(f"{name}_error", unit) == unit:
                text = format_value_error(value, error, unit, prefix=prefixes.get(name))
            elif name in prefixes:
                text = format_value_error(value, None, unit, prefix=prefixes[name],
                                          decimals=places[name])
            else:
                text = _quantity(value, unit, digits=8) or str(value)
        else:
            text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        table.add_row(f"  {name}", text)
    console.print(table)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _vector_prefixes(values: dict[str, Any],
                     units: dict[str, str]) -> tuple[dict[str, str], dict[str, int]]:
    """One SI prefix for the components of each vector (``field_x``, ``field_y``,
    ``field_z``), chosen from the largest, so that a vector is never shown in two units; and
    the decimals of components shown without an error (those of the finest error, else 7
    significant digits of the largest component)."""
    out: dict[str, str] = {}
    places: dict[str, int] = {}
    for name in values:
        if not name.endswith("_x"):
            continue
        stem = name[:-2]
        names = [f"{stem}_{c}" for c in "xyz"]
        if not all(_number(values.get(n)) for n in names) or not units.get(name):
            continue
        largest = max(abs(float(values[n])) for n in names)
        scale, prefix = choose_prefix(largest, units[name])
        errors = [float(values[f"{n}_error"]) for n in names
                  if _number(values.get(f"{n}_error")) and values[f"{n}_error"] > 0]
        if errors:
            decimals = error_decimals(min(errors), scale)
        else:
            decimals = max(6 - math.floor(math.log10(largest / scale)), 0) if largest else 6
        out.update({n: prefix for n in names})
        places.update({n: decimals for n in names})
    return out, places


def _flat(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out
