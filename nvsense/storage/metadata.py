"""Run metadata: how it is written into global attributes, and read back as Python objects.

Structured metadata (parameters, results, instrument identities) is stored twice: as JSON
text, which a program reads back exactly (never ``eval``), and flattened into scalar
attributes (``param_power_dbm = -10.0``) that ncdump, HDFView or ``ds.attrs`` show directly.
Units of parameters and results are in ``parameter_units`` and ``result_units`` (JSON); the
standard result keys have fixed units (:data:`KEY_RESULT_UNITS`).
"""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import yaml

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "KEY_RESULT_UNITS",
    "RunInfo",
    "flatten_scalars",
    "from_json",
    "run_metadata",
    "to_json",
    "writer_alive",
]

#: Value of the ``nvsense_format`` attribute that marks a file as an nvsense run.
FORMAT_NAME = "nvsense-run"
#: Version of the layout described in docs/storage.md.
FORMAT_VERSION = 1

#: Key results the catalogue keeps in columns of their own, with their units.  Errors are
#: ``<key>_error`` in the same unit.
KEY_RESULT_UNITS: dict[str, str] = {
    "field_x": "T",
    "field_y": "T",
    "field_z": "T",
    "field_parallel": "T",
    "D": "Hz",
    "linewidth": "Hz",
    "contrast": "1",
}

#: Status values a run file can carry.  ``interrupted`` is never written into a file: the
#: catalogue and :func:`run_metadata` report it for a "running" file whose writer is gone.
STATUSES = ("running", "completed", "aborted", "interrupted")


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars and arrays become Python numbers and lists, and
    non-finite floats become ``None`` (JSON has no NaN, and SQLite's JSON functions reject
    it)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # e.g. a Path or a datetime: their text is what a reader wants


def to_json(value: Any) -> str:
    """Compact, strict JSON text for an attribute or a catalogue column."""
    return json.dumps(_plain(value), ensure_ascii=False, allow_nan=False, sort_keys=False)


def from_json(text: Any, default: Any = None) -> Any:
    """Parse JSON text from an attribute; empty or missing text gives ``default``."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return default
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text)


def flatten_scalars(prefix: str, mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """Scalar leaves of a nested mapping as attributes: ``{"mw": {"power": -10}}`` with prefix
    ``param_`` gives ``{"param_mw.power": -10}``.  Lists, ``None`` and NaN are left to the JSON
    copy (netCDF attributes cannot be ``None``)."""
    out: dict[str, Any] = {}

    def walk(path: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{path}.{key}" if path else str(key), item)
            return
        if isinstance(value, np.generic):
            value = value.item()
        name = prefix + path.replace("/", "_")  # '/' separates HDF5 paths
        if isinstance(value, bool):
            out[name] = int(value)  # netCDF has no bool attribute type
        elif isinstance(value, int | float | str) and not (
            isinstance(value, float) and not math.isfinite(value)
        ):
            out[name] = value

    walk("", mapping or {})
    return out


def writer_alive(host: str | None, pid: int | None) -> bool | None:
    """Whether the process that wrote a run still runs: ``None`` when that cannot be told
    (another computer, unknown process, or Windows, where signal 0 would stop it)."""
    if not host or not pid or host != socket.gethostname() or os.name != "posix":
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OverflowError, ValueError):
        return None
    return True


@dataclass
class RunInfo:
    """The metadata of one run, decoded.

    ``status`` is the status written in the file; ``state`` adds what a reader can tell: a
    file still saying ``running`` whose writer process is gone is ``interrupted``.
    """

    run_id: str
    kind: str
    status: str
    state: str
    start_time: str
    end_time: str | None
    abort_reason: str | None
    append_dim: str
    n_records: int | None
    parameters: dict[str, Any] = field(default_factory=dict)
    parameter_units: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    result_units: dict[str, str] = field(default_factory=dict)
    instruments: dict[str, str] = field(default_factory=dict)
    bench_source: str | None = None
    bench_config_text: str | None = None
    software_version: str | None = None
    campaign: str | None = None
    campaign_point: int | None = None
    writer_host: str | None = None
    writer_pid: int | None = None

    @property
    def closed(self) -> bool:
        """Whether the writer closed the run (completed or aborted)."""
        return self.status in ("completed", "aborted")

    @property
    def bench_config(self) -> Any:
        """The bench configuration parsed from its YAML text (``None`` if none was stored)."""
        if not self.bench_config_text:
            return None
        return yaml.safe_load(self.bench_config_text)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready apart from numpy values in results)."""
        out = asdict(self)
        out["closed"] = self.closed
        return out


def _text(attrs: Mapping[str, Any], name: str) -> str | None:
    value = attrs.get(name)
    if value is None:
        return None
    if isinstance(value, bytes | np.bytes_):
        value = value.decode("utf-8", errors="replace")
    value = str(value).rstrip("\x00")
    return value or None


def _int(attrs: Mapping[str, Any], name: str) -> int | None:
    value = attrs.get(name)
    if value is None:
        return None
    try:
        return int(np.asarray(value).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return None


def run_metadata(source: Any) -> RunInfo:
    """Decode the metadata of a run.

    Parameters
    ----------
    source
        An ``xarray.Dataset`` from :func:`~nvsense.storage.open_run` (or from
        ``xarray.open_dataset``), or a mapping of global attributes.

    Returns
    -------
    RunInfo
        Parameters, results and instrument identities as dicts parsed from their JSON text,
        the bench configuration as YAML text (``.bench_config`` parses it safely).
    """
    attrs = source.attrs if hasattr(source, "attrs") else source
    dims = getattr(source, "sizes", None)
    append_dim = _text(attrs, "append_dim") or ""
    status = _text(attrs, "status") or "running"
    host, pid = _text(attrs, "writer_host"), _int(attrs, "writer_pid")
    state = status
    if status == "running" and writer_alive(host, pid) is False:
        state = "interrupted"
    return RunInfo(
        run_id=_text(attrs, "run_id") or "",
        kind=_text(attrs, "kind") or "",
        status=status,
        state=state,
        start_time=_text(attrs, "start_time") or "",
        end_time=_text(attrs, "end_time"),
        abort_reason=_text(attrs, "abort_reason"),
        append_dim=append_dim,
        n_records=int(dims[append_dim]) if dims is not None and append_dim in dims else None,
        parameters=from_json(_text(attrs, "parameters"), {}),
        parameter_units=from_json(_text(attrs, "parameter_units"), {}),
        results=from_json(_text(attrs, "results"), {}),
        result_units=from_json(_text(attrs, "result_units"), {}),
        instruments=from_json(_text(attrs, "instruments"), {}),
        bench_source=_text(attrs, "bench_source"),
        bench_config_text=_text(attrs, "bench_config"),
        software_version=_text(attrs, "software_version"),
        campaign=_text(attrs, "campaign"),
        campaign_point=_int(attrs, "campaign_point"),
        writer_host=host,
        writer_pid=pid,
    )
