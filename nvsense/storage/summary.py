"""A JSON-ready summary of one run, for ``nvsense show`` and other front ends."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from .errors import RunNotClosedWarning
from .metadata import run_metadata
from .reader import open_run
from .times import parse_iso

__all__ = ["run_summary"]

_STATE_NOTES = {
    "running": "the run is still being written; the records so far are shown",
    "interrupted": "the writer stopped without closing the run (crash, kill or power cut); "
    "every complete record is kept in the file",
}


def run_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Everything ``nvsense show`` prints about a run, read from its file.

    Parameters
    ----------
    path
        The run file.

    Returns
    -------
    dict
        ``run_id``, ``kind``, ``status`` (as written), ``state`` (``interrupted`` for a
        crashed run), ``file``, ``start_time``, ``end_time``, ``duration_s``,
        ``append_dim``, ``records``, ``dims`` (sizes), ``variables`` (dims, units,
        long name), ``parameters`` and ``parameter_units``, ``results`` and
        ``result_units``, ``abort_reason``, ``instruments``, ``bench_source``,
        ``software_version``, ``campaign``, ``campaign_point`` and ``note``.

    Raises
    ------
    RunFileError
        Missing, damaged or non-nvsense file.
    """
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunNotClosedWarning)  # reported as state and note
        ds = open_run(path)
    info = run_metadata(ds)
    duration = None
    if info.start_time and info.end_time:
        duration = (parse_iso(info.end_time) - parse_iso(info.start_time)).total_seconds()
    variables = {
        name: {
            "dims": list(var.dims),
            "units": var.attrs.get("units"),
            "long_name": var.attrs.get("long_name"),
        }
        for name, var in ds.variables.items()
    }
    return {
        "run_id": info.run_id,
        "kind": info.kind,
        "status": info.status,
        "state": info.state,
        "file": str(path.absolute()),
        "start_time": info.start_time,
        "end_time": info.end_time,
        "duration_s": duration,
        "append_dim": info.append_dim,
        "records": info.n_records,
        "dims": {
            str(k): int(v)
            for k, v in sorted(ds.sizes.items(), key=lambda kv: kv[0] != info.append_dim)
        },
        "variables": variables,
        "parameters": info.parameters,
        "parameter_units": info.parameter_units,
        "results": info.results,
        "result_units": info.result_units,
        "abort_reason": info.abort_reason,
        "instruments": info.instruments,
        "bench_source": info.bench_source,
        "software_version": info.software_version,
        "campaign": info.campaign,
        "campaign_point": info.campaign_point,
        "note": _STATE_NOTES.get(info.state),
    }
