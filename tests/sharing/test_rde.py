"""RDE export: the dataset folder rdetoolkit builds (inputdata, invoice, tasksupport, raw,
structured, meta), the invoice and metadata valid against their definitions, the runs read
back losslessly and the metadata equal to the runs' attributes."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import xarray as xr
from rdetoolkit.validation import invoice_validate, metadata_validate

from nvsense.export.rde import export_rde, read_rde
from nvsense.export.runs import ExportError, load_runs
from nvsense.storage import open_run, run_metadata

OWNER = "0123456789abcdef0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def rde_dir(shared_runs, tmp_path_factory):
    runs = load_runs([shared_runs.odmr, shared_runs.track])
    return export_rde(runs, tmp_path_factory.mktemp("rde") / "dataset", owner_id=OWNER,
                      dataset_id="3f976089-7b0b-4c66-a035-f48773b018e6")


def test_rde_folder_structure(rde_dir, shared_runs):
    data = rde_dir / "data"
    for name in ("inputdata", "invoice/invoice.json", "tasksupport/invoice.schema.json",
                 "tasksupport/metadata-def.json", "tasksupport/rdeconfig.yaml", "raw",
                 "structured", "meta/metadata.json", "main_image", "logs"):
        assert (data / name).exists(), name
    for run in (shared_runs.odmr, shared_runs.track):
        assert (data / "inputdata" / run.name).read_bytes() == run.read_bytes()
        assert (data / "structured" / f"{run.stem}.csv").exists()
        assert (data / "main_image" / f"{run.stem}.png").stat().st_size > 1000
    assert (data / "inputdata" / "campaign-field-map.jsonl").exists()
    assert not list(data.rglob(".nvsense-order.json"))


def test_invoice_and_metadata_valid_against_their_definitions(rde_dir, shared_runs):
    data = rde_dir / "data"
    invoice_validate(data / "invoice" / "invoice.json",
                     data / "tasksupport" / "invoice.schema.json")
    metadata_validate(data / "meta" / "metadata.json")
    invoice = json.loads((data / "invoice" / "invoice.json").read_text())
    assert invoice["datasetId"] == "3f976089-7b0b-4c66-a035-f48773b018e6"
    assert invoice["basic"]["dataOwnerId"] == OWNER
    assert invoice["custom"]["run_ids"] == f"{shared_runs.odmr.stem}, {shared_runs.track.stem}"
    assert invoice["custom"]["software_version"] == open_run(shared_runs.odmr).attrs[
        "software_version"]
    assert invoice["sample"]["names"] == ["simulated NV sample"]
    # the definitions name every metadata key with its unit
    definitions = json.loads((data / "tasksupport" / "metadata-def.json").read_text())
    assert definitions["result.field_x"]["unit"] == "T"
    assert definitions["parameter.power_dbm"]["unit"] == "dBm"
    assert definitions["run_id"]["variable"] == 1
    assert "action" not in json.dumps(definitions)  # rdetoolkit would eval it


def test_runs_and_metadata_read_back(rde_dir, shared_runs):
    runs, metadata = read_rde(rde_dir)
    sources = [shared_runs.odmr, shared_runs.track]
    assert list(metadata["variable"][i]["run_id"]["value"] for i in range(2)) == \
        [p.stem for p in sources]
    for index, path in enumerate(sources):
        source = open_run(path)
        xr.testing.assert_identical(source, runs[path.stem])
        assert runs[path.stem].attrs == source.attrs
        info = run_metadata(source)
        entry = metadata["variable"][index]
        assert entry["kind"]["value"] == info.kind
        assert entry["status"]["value"] == info.status
        assert entry["start_time"]["value"] == info.start_time
        assert entry["end_time"]["value"] == info.end_time
        assert entry["records"]["value"] == info.n_records
        for key, value in info.results.items():
            assert entry[f"result.{key}"]["value"] == value
        for key, value in info.parameters.items():
            if not isinstance(value, dict):
                assert entry[f"parameter.{key}"]["value"] == value
        assert json.loads(entry["instruments"]["value"]) == info.instruments
    assert metadata["variable"][0]["parameter.power_dbm"]["unit"] == "dBm"
    assert metadata["variable"][0]["parameter.mw.power"]["value"] == -10.0
    assert metadata["constant"]["software_version"]["value"] == "0.1.0"
    assert metadata["constant"]["campaign"]["value"] == "field-map"
    assert metadata["constant"]["run_count"]["value"] == 2


def test_structured_table_has_one_row_per_record(rde_dir, shared_runs):
    table = pd.read_csv(rde_dir / "data" / "structured" / f"{shared_runs.odmr.stem}.csv")
    source = open_run(shared_runs.odmr)
    assert len(table) == source.sizes["sweep"]
    assert list(table["D [Hz]"].isna()) == list(source.D.isnull().values)
    assert table["field_z [T]"].iloc[0] == source.field.sel(vector="z").values[0]
    layout = json.loads((rde_dir / "data" / "structured" /
                         f"{shared_runs.odmr.stem}.schema.json").read_text())
    assert {v["name"] for v in layout["variables"]} == set(source.variables)


def test_bad_owner_id_and_non_empty_folder(shared_runs, tmp_path):
    runs = load_runs([shared_runs.track])
    with pytest.raises(ExportError, match="56 letters and digits"):
        export_rde(runs, tmp_path / "a", owner_id="me")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("keep")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_rde(runs, tmp_path / "b", owner_id=OWNER)
    assert (tmp_path / "b" / "x").read_text() == "keep"
