"""Export of runs to an RO-Crate (a folder with ``ro-crate-metadata.json``), with the
``rocrate`` package.

The crate holds::

    ro-crate-metadata.json       the crate's metadata (JSON-LD, RO-Crate 1.1)
    runs/<run id>.nc             the run files as nvsense wrote them
    schemas/<run id>.json        the layout of each file: every variable with dims, units,
                                 description (also in the file's ``variableMeasured``)
    bench/<name>.yaml            the bench configuration(s) the runs used
    campaigns/<name>.jsonl       the journal of each campaign the runs belong to

and describes, as JSON-LD entities: each run file (``File`` with its run id, kind, status,
start and end, ``variableMeasured`` as ``PropertyValue``s with ``unitText``), nvsense as a
``SoftwareApplication`` with its version, the instruments by identity, and one
``CreateAction`` per run (software and instruments as ``instrument``, the file as
``result``, start and end time, status), as the Process Run Crate profile describes a run.

A run still being written is exported as a snapshot of its complete records (``open_run``
then ``to_netcdf``): copying the file while its writer appends could catch half a record.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from ..campaign.journal import CampaignJournal
from ..storage import open_run
from .runs import ExportedRun, ExportError, bench_name, variable_table

__all__ = ["ROCRATE_NOT_INSTALLED", "export_rocrate", "read_rocrate"]

ROCRATE_NOT_INSTALLED = ("exporting an RO-Crate needs the rocrate package: "
                         "pip install \"nvsense[export]\" (or pip install rocrate)")
NETCDF_FORMAT = "application/netcdf"
#: How a run's status reads as a schema.org ActionStatusType.
_ACTION_STATUS = {"completed": "http://schema.org/CompletedActionStatus",
                  "aborted": "http://schema.org/FailedActionStatus",
                  "interrupted": "http://schema.org/FailedActionStatus",
                  "running": "http://schema.org/ActiveActionStatus"}


def _rocrate() -> Any:
    try:
        from rocrate import rocrate
    except ImportError as exc:
        raise ImportError(ROCRATE_NOT_INSTALLED) from exc
    return rocrate


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-.")
    return out or "bench"


def _stage_run(run: ExportedRun, staging: Path) -> Path:
    """The file to put in the crate: the run file itself when closed, else a snapshot."""
    if run.info.closed:
        return run.path
    target = staging / f"{run.run_id}.nc"
    # the append dimension stays unlimited: open_run counts complete records along it
    run.data.to_netcdf(target, engine="h5netcdf", unlimited_dims=[run.info.append_dim])
    return target


def export_rocrate(runs: Sequence[ExportedRun], out: str | os.PathLike[str], *,
                   data_dir: str | os.PathLike[str] | None = None,
                   campaigns: Sequence[str] = (), name: str | None = None,
                   overwrite: bool = False) -> Path:
    """Write an RO-Crate of ``runs`` into the folder ``out``; returns it.

    Parameters
    ----------
    runs
        The runs (:func:`nvsense.export.runs.load_runs`).
    out
        The crate's folder: new, or empty (or ``overwrite``).
    data_dir
        The data folder, where campaign journals are (``<data dir>/campaigns/``); default:
        the folder above each run file's date folder.
    campaigns
        Campaigns whose journal goes in; the campaigns of the runs are added.
    name
        The crate's name (default: from the campaign or the run ids).

    Raises
    ------
    FileExistsError
        ``out`` exists and is not empty, and ``overwrite`` is false.
    """
    rocrate = _rocrate()
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.softwareapplication import SoftwareApplication

    target = Path(out)
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"{target} exists and is not empty; pass --overwrite to replace "
                              "what is there")
    all_campaigns = list(dict.fromkeys([*campaigns, *(r.info.campaign for r in runs
                                                      if r.info.campaign)]))
    crate = rocrate.ROCrate()
    versions = sorted({str(r.info.software_version or "unknown") for r in runs})
    crate.name = name or (f"nvsense campaign {all_campaigns[0]}" if len(all_campaigns) == 1
                          else f"nvsense runs {', '.join(r.run_id for r in runs[:3])}"
                          + (" ..." if len(runs) > 3 else ""))
    crate.description = (f"{len(runs)} nvsense run file(s) (NetCDF4/HDF5, one per run) with "
                         "their layout, bench configuration and campaign journal")
    crate.datePublished = max((r.info.end_time or r.info.start_time) for r in runs)
    crate.keywords = ["NV centre", "ODMR", "magnetometry", "nvsense"]

    software = {}
    for version in versions:
        software[version] = crate.add(SoftwareApplication(
            crate, f"#nvsense-{version}",
            properties={"name": "nvsense", "softwareVersion": version,
                        "description": "NV-centre quantum sensing toolkit that wrote the runs"}))
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        benches: dict[str, Any] = {}
        instruments: dict[str, Any] = {}
        for run in runs:
            info = run.info
            run_file = crate.add_file(_stage_run(run, staging), dest_path=f"runs/{run.run_id}.nc",
                                      properties=_run_properties(run))
            variables = []
            for row in variable_table(run.data):
                entity = crate.add(ContextEntity(
                    crate, f"#{run.run_id}/{row['name']}",
                    properties={"@type": "PropertyValue", "name": row["name"],
                                "propertyID": row["name"], "unitText": row["units"],
                                "description": row["long_name"],
                                "valueReference": f"dims: {', '.join(row['dims'])}; "
                                                  f"shape: {row['shape']}; {row['dtype']}"}))
                variables.append(entity)
            run_file["variableMeasured"] = variables
            schema_path = staging / f"{run.run_id}.schema.json"
            schema_path.write_text(json.dumps(_schema(run), indent=2, ensure_ascii=False),
                                   encoding="utf-8")
            schema_file = crate.add_file(schema_path, dest_path=f"schemas/{run.run_id}.json",
                                         properties={"name": f"layout of {run.run_id}.nc",
                                                     "encodingFormat": "application/json",
                                                     "about": run_file})
            run_file["subjectOf"] = schema_file
            used = [software[str(info.software_version or "unknown")]]
            for role, identity in info.instruments.items():
                key = f"#instrument-{_slug(identity)}"
                if key not in instruments:
                    instruments[key] = crate.add(ContextEntity(
                        crate, key, properties={"@type": "IndividualProduct",
                                                "name": identity,
                                                "description": f"{role} of the bench"}))
                used.append(instruments[key])
            if info.bench_config_text:
                digest = hashlib.sha256(info.bench_config_text.encode()).hexdigest()[:8]
                if digest not in benches:
                    path = staging / f"bench-{digest}.yaml"
                    path.write_text(info.bench_config_text, encoding="utf-8")
                    bench = _slug(bench_name(run) or "bench")
                    benches[digest] = crate.add_file(
                        path, dest_path=f"bench/{bench}-{digest}.yaml",
                        properties={"name": f"bench configuration {bench_name(run)}",
                                    "encodingFormat": "application/yaml",
                                    "description": f"bench file ({info.bench_source or ''})"})
                run_file["isBasedOn"] = benches[digest]
            action = {"@type": "CreateAction", "name": f"nvsense {info.kind} run {run.run_id}",
                      "instrument": used, "result": run_file,
                      "startTime": info.start_time,
                      "actionStatus": _ACTION_STATUS.get(info.state, _ACTION_STATUS["running"])}
            if info.end_time:
                action["endTime"] = info.end_time
            if info.abort_reason:
                action["error"] = info.abort_reason
            if benches and info.bench_config_text:
                action["object"] = run_file["isBasedOn"]
            crate.add(ContextEntity(crate, f"#run-{run.run_id}", properties=action))
        for campaign in all_campaigns:
            journal = _journal_path(campaign, runs, data_dir)
            if journal is None:
                raise ExportError(f"campaign {campaign!r}: no journal "
                                  f"campaigns/{campaign}.jsonl in the data folder; give "
                                  "--data-dir (the folder of catalog.sqlite)")
            members = [f"runs/{r.run_id}.nc" for r in runs if r.info.campaign == campaign]
            crate.add_file(journal, dest_path=f"campaigns/{campaign}.jsonl",
                           properties={"name": f"journal of campaign {campaign}",
                                       "encodingFormat": "application/x-ndjson",
                                       "description": "one JSON line per event: session start "
                                       "and end, each point's outcome",
                                       "about": [{"@id": m} for m in members]})
        if target.exists() and overwrite:
            shutil.rmtree(target)
        crate.write(target)
    return target


def _run_properties(run: ExportedRun) -> dict[str, Any]:
    info = run.info
    props: dict[str, Any] = {
        "name": str(run.data.attrs.get("title") or run.run_id),
        "identifier": run.run_id,
        "encodingFormat": NETCDF_FORMAT,
        "dateCreated": info.start_time,
        "description": f"nvsense {info.kind} run, status {info.state}"
                       + (f" ({info.abort_reason})" if info.abort_reason else "")
                       + f", {info.n_records} {info.append_dim} record(s)"
                       + ("" if info.closed else "; snapshot of a run still being written"),
    }
    if info.campaign:
        props["keywords"] = [f"campaign {info.campaign}"]
    return props


def _schema(run: ExportedRun) -> dict[str, Any]:
    return {"run_id": run.run_id, "kind": run.info.kind, "format": "nvsense-run",
            "format_version": int(run.data.attrs.get("nvsense_format_version", 1)),
            "append_dim": run.info.append_dim, "dims": {str(k): int(v) for k, v in
                                                       run.data.sizes.items()},
            "variables": variable_table(run.data)}


def _journal_path(campaign: str, runs: Sequence[ExportedRun],
                  data_dir: str | os.PathLike[str] | None) -> Path | None:
    folders = [Path(data_dir)] if data_dir is not None else []
    folders += [r.path.parent.parent for r in runs]
    for folder in dict.fromkeys(folders):
        path = CampaignJournal(folder, campaign).path
        if path.exists():
            return path
    return None


def read_rocrate(folder: str | os.PathLike[str]) -> dict[str, xr.Dataset]:
    """The runs of a crate written by :func:`export_rocrate`, by run id (opened with
    :func:`nvsense.open_run`), found through the crate's metadata."""
    rocrate = _rocrate()
    crate = rocrate.ROCrate(str(folder))
    out = {}
    for entity in crate.data_entities:
        if entity.get("encodingFormat") == NETCDF_FORMAT:
            ds = open_run(Path(folder) / entity.id)
            out[str(entity.get("identifier") or ds.attrs["run_id"])] = ds
    return out
