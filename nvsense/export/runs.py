"""What every export needs from a run: resolving ``RUN`` arguments, the run's variables and
their layout, the instrument snapshot (or what the file holds instead), the sample.

``RUN`` on the command line is a run id (looked up in the data folder's catalogue) or the path
of a run file, as for ``nvsense show``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr
import yaml

from ..storage import Catalog, CatalogError, RunFileError, open_run
from ..storage.datadir import RUN_ID_PATTERN
from ..storage.metadata import RunInfo, run_metadata

__all__ = [
    "SNAPSHOT_ATTR",
    "ExportError",
    "ExportedRun",
    "instrument_snapshot",
    "load_runs",
    "resolve_run",
    "sample_description",
    "signal_name",
    "variable_table",
]

#: Global attribute holding ``Bench.snapshot()`` as JSON text (written by the run lifecycle).
SNAPSHOT_ATTR = "instrument_snapshot"


class ExportError(ValueError):
    """An export cannot be made as asked (the message names the input and the fix)."""


@dataclass
class ExportedRun:
    """One run to export: its file, its data (loaded) and its decoded metadata."""

    path: Path
    data: xr.Dataset
    info: RunInfo

    @property
    def run_id(self) -> str:
        return self.info.run_id or self.path.stem


#: ``latest`` or ``latest-<kind>`` (``latest-odmr``, ``latest-track``): the newest run (of that
#: kind) in the catalogue, so scripts and examples need not copy a run id.
LATEST_PATTERN = re.compile(r"^latest(?:-(?P<kind>[a-z_]+))?$")


def resolve_run(target: str | os.PathLike[str], catalog: Catalog | None = None) -> Path:
    """The file of ``target``: a run file path, a run id looked up in the catalogue, or
    ``latest`` / ``latest-<kind>`` (the newest run, of that kind).

    Raises
    ------
    CatalogError
        An unknown run id, or no run for ``latest`` (the message says how to list the runs).
    """
    path = Path(target)
    if path.exists():
        return path
    latest = LATEST_PATTERN.match(str(target))
    if latest:
        catalog = catalog or Catalog()
        rows = catalog.runs(kind=latest["kind"], limit=1)
        if rows.empty:
            what = f"{latest['kind']} run" if latest["kind"] else "run"
            raise CatalogError(f"{target}: no {what} in the catalogue of {catalog.data_dir}; "
                               "`nvsense runs` lists the runs")
        return catalog.locate(str(rows.index[-1]))
    if not RUN_ID_PATTERN.match(str(target)):
        return path  # open_run names a missing or unreadable file
    return (catalog or Catalog()).locate(str(target))


def load_runs(targets: Iterable[str | os.PathLike[str]],
              catalog: Catalog | None = None) -> list[ExportedRun]:
    """Resolve and open every run (warnings of unclosed runs are kept for the caller)."""
    out = []
    seen: set[Path] = set()
    for target in targets:
        path = resolve_run(target, catalog).resolve()
        if path in seen:
            continue
        seen.add(path)
        data = open_run(path)
        out.append(ExportedRun(path=path, data=data, info=run_metadata(data)))
    if not out:
        raise ExportError("no run to export: name run ids or run files (`nvsense runs` lists "
                          "them)")
    return out


def signal_name(data: xr.Dataset, kind: str) -> str:
    """The run's main signal: ``counts`` for ODMR, the field for tracking, else the first
    variable."""
    preferred = {"odmr": ("counts",), "track": ("field", "field_parallel")}
    for name in preferred.get(kind, ()):
        if name in data.data_vars:
            return name
    for name in ("counts", "field", "field_parallel"):
        if name in data.data_vars:
            return name
    if not data.data_vars:
        raise RunFileError(data.encoding.get("source", "run"), "has no data variables")
    return str(next(iter(data.data_vars)))


def variable_table(data: xr.Dataset) -> list[dict[str, Any]]:
    """Every variable and coordinate of a run: name, dims, shape, dtype, units, long_name (the
    schema of the file, as the RO-Crate and RDE exports describe it)."""
    rows = []
    for name, var in [*data.coords.items(), *data.data_vars.items()]:
        rows.append({
            "name": str(name),
            "role": "coordinate" if name in data.coords else "variable",
            "dims": [str(d) for d in var.dims],
            "shape": [int(s) for s in var.shape],
            "dtype": "string" if var.dtype.kind in "OUS" else str(var.dtype),
            "units": str(var.attrs.get("units", "")),
            "long_name": str(var.attrs.get("long_name", "")),
        })
    return rows


def instrument_snapshot(data: xr.Dataset) -> dict[str, Any] | None:
    """The ``instrument_snapshot`` attribute parsed (``None`` if the file has none, or if it is
    not valid JSON: an export must not fail on it)."""
    text = data.attrs.get(SNAPSHOT_ATTR)
    if not text:
        return None
    try:
        value = json.loads(str(text))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def instruments_from_file(run: ExportedRun) -> dict[str, dict[str, Any]]:
    """Each instrument by slot as the file describes it: the snapshot's entry if the file has
    one, else the identity and the bench file's driver and options (today's files)."""
    snapshot = instrument_snapshot(run.data)
    if snapshot and isinstance(snapshot.get("instruments"), Mapping):
        return {str(k): dict(v) for k, v in snapshot["instruments"].items()
                if isinstance(v, Mapping)}
    config = _bench_config(run.info)
    entries = (config.get("instruments") or {}) if isinstance(config, Mapping) else {}
    out: dict[str, dict[str, Any]] = {}
    for slot in dict.fromkeys([*run.info.instruments, *entries]):
        entry: dict[str, Any] = {}
        if slot in run.info.instruments:
            entry["identity"] = run.info.instruments[slot]
        conf = entries.get(slot)
        if isinstance(conf, Mapping):
            entry["driver"] = conf.get("driver")
            entry.update({k: v for k, v in conf.items() if k != "driver"})
        out[str(slot)] = {k: v for k, v in entry.items() if v is not None}
    return out


def _bench_config(info: RunInfo) -> Any:
    try:
        return info.bench_config
    except yaml.YAMLError:
        return None


def bench_name(run: ExportedRun) -> str:
    """The bench's name (snapshot, else bench file), else its source."""
    snapshot = instrument_snapshot(run.data) or {}
    bench = snapshot.get("bench") if isinstance(snapshot.get("bench"), Mapping) else {}
    config = _bench_config(run.info)
    name = bench.get("name") or (config.get("name") if isinstance(config, Mapping) else None)
    return str(name or run.info.bench_source or "")


def sample_description(run: ExportedRun) -> dict[str, Any]:
    """The sample as the run declares it: the snapshot's ``sample`` entry, else the bench
    file's ``sample`` section (the simulated sample), else an empty dict."""
    snapshot = instrument_snapshot(run.data) or {}
    if isinstance(snapshot.get("sample"), Mapping):
        return dict(snapshot["sample"])
    config = _bench_config(run.info)
    if isinstance(config, Mapping) and isinstance(config.get("sample"), Mapping):
        return dict(config["sample"])
    return {}
