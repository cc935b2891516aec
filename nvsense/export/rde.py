"""Export of runs as an RDE dataset (NIMS research data express), built with ``rdetoolkit``.

RDE structures a dataset from a ``data/`` folder: the input files, the invoice (who submits
what), and the task's support files (the invoice's schema and the metadata definitions).
rdetoolkit's workflow then copies the inputs to ``raw/``, runs a structuring function, and
checks the metadata and the invoice against their definitions.  :func:`export_rde` writes the
inputs from nvsense's metadata and runs that workflow with nvsense's structuring function, so
the folder is what the RDE platform would build for the dataset::

    data/
      inputdata/          the run files (and the campaign journal, if any)
      invoice/invoice.json          basic information, nvsense's custom fields, the sample
      tasksupport/invoice.schema.json   the custom fields' definitions (labels ja/en, types)
      tasksupport/metadata-def.json     each metadata key: names ja/en, type, unit
      tasksupport/rdeconfig.yaml        rdetoolkit's configuration (raw copies kept)
      raw/                the run files as submitted (rdetoolkit's copy)
      structured/         per run: <run id>.csv (one row per sweep/sample, scalar variables),
                          <run id>.schema.json (every variable with dims and units)
      main_image/         per run: <run id>.png (averaged spectrum, or B(t))
      thumbnail/          rdetoolkit's thumbnail of the first image
      meta/metadata.json  the metadata: constant (software, bench, campaign) and variable
                          (one entry per run: id, kind, status, times, key results and
                          parameters, with units)
      logs/               rdetoolkit's log of the structuring

Nothing is ``eval``-ed: nvsense's metadata-def has no ``action`` entries (rdetoolkit evaluates
those).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

from ..campaign.journal import CampaignJournal
from ..storage import open_run
from ..storage.metadata import KEY_RESULT_UNITS
from .runs import (
    ExportedRun,
    ExportError,
    bench_name,
    sample_description,
    signal_name,
    variable_table,
)

__all__ = ["RDETOOLKIT_NOT_INSTALLED", "export_rde", "metadata_definitions", "read_rde"]

RDETOOLKIT_NOT_INSTALLED = ("exporting an RDE dataset needs the rdetoolkit package: "
                            "pip install \"nvsense[export]\" (or pip install rdetoolkit)")
#: An RDE user id: 56 letters and digits (the invoice schema's pattern).
OWNER_ID = re.compile(r"^[0-9a-zA-Z]{56}$")

_RESULT_NAMES = {"field_x": ("磁場 x 成分", "magnetic field x"),
                 "field_y": ("磁場 y 成分", "magnetic field y"),
                 "field_z": ("磁場 z 成分", "magnetic field z"),
                 "field_parallel": ("NV 軸方向の磁場", "magnetic field along the NV axis"),
                 "D": ("ゼロ磁場分裂 D", "zero-field splitting D"),
                 "linewidth": ("線幅", "linewidth"), "contrast": ("コントラスト", "contrast")}

# key -> (ja, en, type, unit or None, description); constant metadata (the dataset)
_CONSTANT = {
    "software": ("ソフトウェア", "software", "string", None, "program that wrote the runs"),
    "software_version": ("ソフトウェアのバージョン", "software version", "string", None,
                         "nvsense version"),
    "bench_name": ("装置構成名", "bench name", "string", None, "the bench's name"),
    "bench_source": ("装置構成ファイル", "bench file", "string", None,
                     "the bench configuration file"),
    "campaign": ("キャンペーン", "campaign", "string", None, "measurement campaign"),
    "run_count": ("測定数", "number of runs", "integer", None, "runs in the dataset"),
    "file_format": ("ファイル形式", "file format", "string", None,
                    "NetCDF4/HDF5 nvsense run files, format version"),
}
# per run (RDE "variable" metadata: one entry per run, in input order)
_VARIABLE = {
    "run_id": ("測定 ID", "run id", "string", None, "nvsense run id"),
    "kind": ("測定の種類", "measurement kind", "string", None, "odmr, track, ..."),
    "status": ("状態", "status", "string", None, "completed, aborted, running, interrupted"),
    "start_time": ("開始時刻", "start time", "string", None, "ISO 8601 with UTC offset"),
    "end_time": ("終了時刻", "end time", "string", None, "ISO 8601 with UTC offset"),
    "abort_reason": ("中断理由", "abort reason", "string", None, "why the run was aborted"),
    "records": ("記録数", "records", "integer", None, "sweeps or samples in the file"),
    "instruments": ("機器", "instruments", "string", None, "instrument identities (JSON)"),
}


def _rdetoolkit() -> Any:
    try:
        import rdetoolkit
    except ImportError as exc:
        raise ImportError(RDETOOLKIT_NOT_INSTALLED) from exc
    return rdetoolkit


def _entry(ja: str, en: str, kind: str, unit: str | None, description: str, order: int,
           variable: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": {"ja": ja, "en": en}, "schema": {"type": kind},
                           "description": description, "order": order}
    if unit and unit != "1":
        out["unit"] = unit
    if variable:
        out["variable"] = 1
    return out


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _type_of(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "integer"
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "number"
    return "string"


def metadata_definitions(runs: Sequence[ExportedRun]) -> dict[str, dict[str, Any]]:
    """The ``metadata-def.json`` of a dataset of ``runs``: the constant and per-run keys,
    every key result and parameter the runs have, with units (names ja/en)."""
    out: dict[str, dict[str, Any]] = {}
    order = 1
    for key, (ja, en, kind, unit, text) in _CONSTANT.items():
        out[key] = _entry(ja, en, kind, unit, text, order, variable=False)
        order += 1
    for key, (ja, en, kind, unit, text) in _VARIABLE.items():
        out[key] = _entry(ja, en, kind, unit, text, order, variable=True)
        order += 1
    results: dict[str, str] = {}
    for run in runs:
        for name in run.info.results:
            base = name[: -len("_error")] if name.endswith("_error") else name
            unit = run.info.result_units.get(name) or KEY_RESULT_UNITS.get(base, "")
            results.setdefault(name, unit)
    for name, unit in results.items():
        base = name[: -len("_error")] if name.endswith("_error") else name
        ja, en = _RESULT_NAMES.get(base, (base, base.replace("_", " ")))
        if name.endswith("_error"):
            ja, en = f"{ja}の標準誤差", f"standard error of {en}"
        values = [run.info.results.get(name) for run in runs]
        out[f"result.{name}"] = _entry(ja, en, _type_of(values), unit,
                                       f"result {name} of the run", order, variable=True)
        order += 1
    params: dict[str, str] = {}
    for run in runs:
        for name in _flat(run.info.parameters):
            params.setdefault(name, run.info.parameter_units.get(name, ""))
    for name, unit in params.items():
        values = [_flat(run.info.parameters).get(name) for run in runs]
        kind = _type_of([v for v in values if not isinstance(v, list)])
        out[f"parameter.{name}"] = _entry(name, name, kind, unit,
                                          f"measurement parameter {name}", order,
                                          variable=True)
        order += 1
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def metadata_values(runs: Sequence[ExportedRun]) -> dict[str, Any]:
    """Values for rdetoolkit's ``Meta.assign_vals``: scalars for the constant keys, one
    list entry per run for the variable keys (``None`` where a run has no value)."""
    first = runs[0]
    campaigns = sorted({r.info.campaign for r in runs if r.info.campaign})
    versions = sorted({str(r.info.software_version or "") for r in runs})
    values: dict[str, Any] = {
        "software": "nvsense",
        "software_version": ", ".join(versions),
        "bench_name": ", ".join(sorted({bench_name(r) for r in runs if bench_name(r)})),
        "bench_source": ", ".join(sorted({r.info.bench_source for r in runs
                                          if r.info.bench_source})),
        "campaign": ", ".join(campaigns),
        "run_count": len(runs),
        "file_format": f"nvsense-run {first.data.attrs.get('nvsense_format_version', 1)}",
        "run_id": [r.run_id for r in runs],
        "kind": [r.info.kind for r in runs],
        "status": [r.info.state for r in runs],
        "start_time": [r.info.start_time for r in runs],
        "end_time": [r.info.end_time for r in runs],
        "abort_reason": [r.info.abort_reason for r in runs],
        "records": [r.info.n_records for r in runs],
        "instruments": [json.dumps(r.info.instruments, ensure_ascii=False) for r in runs],
    }
    for key in metadata_definitions(runs):
        if key.startswith("result."):
            values[key] = [_plain(r.info.results.get(key[7:])) for r in runs]
        elif key.startswith("parameter."):
            values[key] = [_plain(_flat(r.info.parameters).get(key[10:])) for r in runs]
    # rdetoolkit writes a key only when it has a value; a run without one gets "" (skipped)
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, list):
            value = ["" if v is None else v for v in value]
            if any(v != "" for v in value):
                out[key] = value
        elif value not in ("", None):
            out[key] = value
    return out


def _custom_properties() -> dict[str, Any]:
    def prop(ja: str, en: str, kind: str, **extra: Any) -> dict[str, Any]:
        return {"label": {"ja": ja, "en": en}, "type": kind, **extra}

    return {
        "measurement_kind": prop("測定の種類", "measurement kind", "string"),
        "run_ids": prop("測定 ID", "run ids", "string"),
        "start_time": prop("開始時刻", "first start time", "string"),
        "end_time": prop("終了時刻", "last end time", "string"),
        "software_version": prop("ソフトウェアのバージョン", "nvsense version", "string"),
        "bench_name": prop("装置構成名", "bench name", "string"),
        "campaign": prop("キャンペーン", "campaign", "string"),
        "run_count": prop("測定数", "number of runs", "integer"),
    }


def invoice_schema() -> dict[str, Any]:
    """``invoice.schema.json``: the RDE invoice with nvsense's custom fields and the sample."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://rde.nims.go.jp/rde/dataset-templates/nvsense/invoice.schema.json",
        "description": "nvsense NV-centre magnetometry runs",
        "type": "object",
        "required": ["custom", "sample"],
        "properties": {
            "custom": {"type": "object", "label": {"ja": "固有情報", "en": "Custom Information"},
                       "required": ["run_ids", "software_version"],
                       "properties": _custom_properties()},
            "sample": {"type": "object", "label": {"ja": "試料情報", "en": "Sample Information"},
                       "required": ["names", "sampleId"],
                       "properties": {"generalAttributes": {"type": "array", "items": []},
                                      "specificAttributes": {"type": "array", "items": []}}},
        },
    }


def invoice(runs: Sequence[ExportedRun], *, owner_id: str, dataset_id: str,
            data_name: str | None, description: str | None,
            submitted: date | None = None) -> dict[str, Any]:
    """``invoice.json``: basic information, nvsense's custom fields and the sample."""
    kinds = sorted({r.info.kind for r in runs})
    campaigns = sorted({r.info.campaign for r in runs if r.info.campaign})
    sample = sample_description(runs[0])
    sample_name = sample.get("name") or ("simulated NV sample" if sample.get("zfs_model")
                                         else "NV-centre sample")
    custom: dict[str, Any] = {
        "measurement_kind": ", ".join(kinds),
        "run_ids": ", ".join(r.run_id for r in runs),
        "start_time": min(r.info.start_time for r in runs),
        "software_version": ", ".join(sorted({str(r.info.software_version or "")
                                              for r in runs})),
        "bench_name": ", ".join(sorted({bench_name(r) for r in runs if bench_name(r)})),
        "run_count": len(runs),
    }
    ends = [r.info.end_time for r in runs if r.info.end_time]
    if ends:
        custom["end_time"] = max(ends)
    if campaigns:
        custom["campaign"] = ", ".join(campaigns)
    name = data_name or (f"nvsense campaign {campaigns[0]}" if len(campaigns) == 1 else
                         f"nvsense {', '.join(kinds)} runs {runs[0].run_id}"
                         + (f" (+{len(runs) - 1})" if len(runs) > 1 else ""))
    return {
        "datasetId": dataset_id,
        "basic": {"dateSubmitted": (submitted or date.today()).isoformat(),
                  "dataOwnerId": owner_id, "dataName": name, "instrumentId": None,
                  "experimentId": None, "description": description},
        "custom": custom,
        "sample": {"sampleId": "", "names": [str(sample_name)], "composition": None,
                   "referenceUrl": None,
                   "description": json.dumps(sample, ensure_ascii=False, sort_keys=True)
                   if sample else None,
                   "generalAttributes": [], "specificAttributes": [], "ownerId": owner_id},
    }


# -- structuring (called by rdetoolkit's workflow) ---------------------------------------------


def _record_table(data: xr.Dataset) -> Any:
    """One row per record: the append coordinate and every variable that has one value per
    record (vectors as one column per component)."""
    import pandas as pd

    dim = str(data.attrs.get("append_dim") or next(iter(data.sizes)))
    columns: dict[str, Any] = {f"{dim} [{data[dim].attrs.get('units', '')}]": data[dim].values}
    for name, var in [*data.coords.items(), *data.data_vars.items()]:
        if name == dim or var.dims[:1] != (dim,):
            continue
        unit = var.attrs.get("units", "")
        if var.ndim == 1:
            columns[f"{name} [{unit}]"] = var.values
        elif var.ndim == 2 and var.dims[1] in data.coords:
            for i, label in enumerate(data[var.dims[1]].values):
                columns[f"{name}_{label} [{unit}]"] = var.values[:, i]
    return pd.DataFrame(columns)


def _plot(data: xr.Dataset, kind: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.add_subplot()
    signal = signal_name(data, kind)
    var = data[signal]
    dim = str(data.attrs.get("append_dim") or var.dims[0])
    if var.ndim == 2 and var.dims[0] == dim and var.dims[1] not in ("vector", "line"):
        x = data[var.dims[1]]
        ax.plot(x.values, np.nanmean(var.values, axis=0) if var.shape[0] else x.values * np.nan)
        ax.set_xlabel(f"{var.dims[1]} ({x.attrs.get('units', '')})")
        ax.set_ylabel(f"mean {signal} ({var.attrs.get('units', '')})")
    else:
        values = var.values if var.ndim == 1 else var.values.reshape(var.shape[0], -1)
        ax.plot(data[dim].values, values)
        ax.set_xlabel(f"{dim} ({data[dim].attrs.get('units', '')})")
        ax.set_ylabel(f"{signal} ({var.attrs.get('units', '')})")
    ax.set_title(str(data.attrs.get("run_id", "")), fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def _structure(paths: Any) -> None:
    """rdetoolkit's dataset function: tables, layouts, images and metadata.json."""
    from rdetoolkit.rde2util import Meta

    runs = []
    for raw in sorted(paths.rawfiles):
        if raw.suffix != ".nc":
            continue
        data = open_run(raw)
        from ..storage.metadata import run_metadata

        runs.append(ExportedRun(path=raw, data=data, info=run_metadata(data)))
    order = json.loads((paths.inputdata / ".nvsense-order.json").read_text())
    runs.sort(key=lambda r: order.index(r.run_id) if r.run_id in order else len(order))
    for run in runs:
        _record_table(run.data).to_csv(paths.struct / f"{run.run_id}.csv", index=False)
        layout = {"run_id": run.run_id, "kind": run.info.kind,
                  "append_dim": run.info.append_dim, "variables": variable_table(run.data)}
        (paths.struct / f"{run.run_id}.schema.json").write_text(
            json.dumps(layout, indent=2, ensure_ascii=False), encoding="utf-8")
        _plot(run.data, run.info.kind, paths.main_image / f"{run.run_id}.png")
    meta = Meta(paths.tasksupport / "metadata-def.json")
    meta.assign_vals(metadata_values(runs))
    meta.writefile(str(paths.meta / "metadata.json"))


@contextlib.contextmanager
def _working_dir(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def export_rde(runs: Sequence[ExportedRun], out: str | os.PathLike[str], *, owner_id: str,
               dataset_id: str | None = None, data_name: str | None = None,
               description: str | None = None, data_dir: str | os.PathLike[str] | None = None,
               overwrite: bool = False) -> Path:
    """Build the RDE dataset of ``runs`` in the folder ``out`` (its ``data/`` folder);
    returns ``out``.

    Parameters
    ----------
    owner_id
        The data owner's RDE user id (56 letters and digits; the RDE portal shows it).
    dataset_id
        The RDE dataset id (default: a new UUID).
    data_name, description
        The invoice's data name and description (default: from the runs).
    data_dir
        Where campaign journals are (default: the runs' data folder).

    Raises
    ------
    ExportError
        A bad owner id, or rdetoolkit rejected the dataset (its message and log file).
    FileExistsError
        ``out`` exists and is not empty, and ``overwrite`` is false.
    """
    _rdetoolkit()
    from rdetoolkit.models.config import Config, SystemSettings
    from rdetoolkit.workflows import run as rde_run

    if not OWNER_ID.match(owner_id or ""):
        raise ExportError(f"--owner-id {owner_id!r}: an RDE user id is 56 letters and digits "
                          "(your RDE account page shows it)")
    target = Path(out).absolute()
    if target.exists() and any(target.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{target} exists and is not empty; pass --overwrite to "
                                  "replace what is there")
        shutil.rmtree(target)
    data = target / "data"
    inputdata, invoice_dir, tasksupport = (data / n for n in ("inputdata", "invoice",
                                                              "tasksupport"))
    for folder in (inputdata, invoice_dir, tasksupport):
        folder.mkdir(parents=True)
    for run in runs:
        if run.info.closed:
            shutil.copy2(run.path, inputdata / f"{run.run_id}.nc")
        else:  # a snapshot of the complete records of a run still being written
            run.data.to_netcdf(inputdata / f"{run.run_id}.nc", engine="h5netcdf",
                               unlimited_dims=[run.info.append_dim])
    (inputdata / ".nvsense-order.json").write_text(json.dumps([r.run_id for r in runs]))
    for campaign in sorted({r.info.campaign for r in runs if r.info.campaign}):
        folders = [Path(data_dir)] if data_dir else []
        for folder in [*folders, *(r.path.parent.parent for r in runs)]:
            journal = CampaignJournal(folder, campaign).path
            if journal.exists():
                shutil.copy2(journal, inputdata / f"campaign-{campaign}.jsonl")
                break
    (tasksupport / "invoice.schema.json").write_text(
        json.dumps(invoice_schema(), indent=2, ensure_ascii=False), encoding="utf-8")
    (tasksupport / "metadata-def.json").write_text(
        json.dumps(metadata_definitions(runs), indent=2, ensure_ascii=False), encoding="utf-8")
    settings = {"system": {"extended_mode": None, "save_raw": True,
                           "save_nonshared_raw": False, "save_thumbnail_image": True,
                           "magic_variable": False}}
    (tasksupport / "rdeconfig.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    (invoice_dir / "invoice.json").write_text(json.dumps(
        invoice(runs, owner_id=owner_id, dataset_id=dataset_id or str(uuid.uuid4()),
                data_name=data_name, description=description),
        indent=2, ensure_ascii=False), encoding="utf-8")
    config = Config(system=SystemSettings(**settings["system"]))
    with _working_dir(target), warnings.catch_warnings():
        # rdetoolkit's own deprecations and its basic schema's draft URL: not the user's doing
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            result = json.loads(rde_run(custom_dataset_function=_structure, config=config))
        except SystemExit:
            result = {"statuses": [{"status": "failed",
                                    "error_message": "rdetoolkit stopped (see data/logs)"}]}
    _close_rde_logs(target)
    (inputdata / ".nvsense-order.json").unlink(missing_ok=True)
    (data / "raw" / ".nvsense-order.json").unlink(missing_ok=True)
    failed = [s for s in result.get("statuses", []) if s.get("status") != "success"]
    if failed:
        logs = sorted((data / "logs").glob("*.log"))
        raise ExportError(f"rdetoolkit rejected the dataset in {target}: "
                          f"{failed[0].get('error_message')}"
                          + (f" (log: {logs[-1]})" if logs else ""))
    return target


def _close_rde_logs(target: Path) -> None:
    """rdetoolkit leaves a file handler on its logger for the dataset's log: close it."""
    import logging

    for name in ("rdetoolkit", *logging.root.manager.loggerDict):
        if not str(name).startswith("rdetoolkit"):
            continue
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            filename = getattr(handler, "baseFilename", "")
            if filename and Path(filename).is_relative_to(target):
                logger.removeHandler(handler)
                handler.close()


def read_rde(folder: str | os.PathLike[str]) -> tuple[dict[str, xr.Dataset], dict[str, Any]]:
    """The runs of an RDE dataset written by :func:`export_rde` (from ``data/raw``, by run
    id) and its ``metadata.json``."""
    data = Path(folder) / "data"
    runs = {}
    for path in sorted((data / "raw").glob("*.nc")):
        ds = open_run(path)
        runs[str(ds.attrs.get("run_id") or path.stem)] = ds
    metadata = json.loads((data / "meta" / "metadata.json").read_text(encoding="utf-8"))
    return runs, metadata
