"""RO-Crate export: the run files, their layout, the bench, the campaign journal and the
software, described in ro-crate-metadata.json; the runs read back losslessly."""

from __future__ import annotations

import json

import pytest
import xarray as xr
from rocrate.rocrate import ROCrate

from nvsense.export.rocrate import export_rocrate, read_rocrate
from nvsense.export.runs import ExportError, load_runs
from nvsense.storage import RunWriter, open_run, tracking_schema


@pytest.fixture(scope="module")
def crate_dir(shared_runs, tmp_path_factory):
    runs = load_runs([shared_runs.odmr, shared_runs.snapshot, shared_runs.track])
    return export_rocrate(runs, tmp_path_factory.mktemp("crate") / "crate")


def test_runs_read_back_losslessly(crate_dir, shared_runs):
    back = read_rocrate(crate_dir)
    assert set(back) == {shared_runs.odmr.stem, shared_runs.snapshot.stem,
                         shared_runs.track.stem}
    for run_id, copy in back.items():
        source = open_run(next(p for p in (shared_runs.odmr, shared_runs.snapshot,
                                           shared_runs.track) if p.stem == run_id))
        xr.testing.assert_identical(source, copy)
        assert copy.attrs == source.attrs


def test_metadata_describes_files_schema_software_bench_and_campaign(crate_dir, shared_runs):
    crate = ROCrate(str(crate_dir))
    by_id = {e.id: e for e in crate.get_entities()}
    run_id = shared_runs.odmr.stem
    run_file = by_id[f"runs/{run_id}.nc"]
    assert run_file["identifier"] == run_id
    assert run_file["encodingFormat"] == "application/netcdf"
    # every variable of the file, with its unit
    source = open_run(shared_runs.odmr)
    measured = {v["name"]: v for v in run_file["variableMeasured"]}
    assert set(measured) == set(source.variables)
    for name, var in source.variables.items():
        assert measured[name]["unitText"] == var.attrs["units"]
        assert measured[name]["description"] == var.attrs["long_name"]
    schema = json.loads((crate_dir / "schemas" / f"{run_id}.json").read_text())
    assert {v["name"]: v["units"] for v in schema["variables"]} == \
        {n: v.attrs["units"] for n, v in source.variables.items()}
    # the software and its version, and one CreateAction per run
    software = [e for e in crate.get_entities() if e.type == "SoftwareApplication"]
    assert [(s["name"], s["softwareVersion"]) for s in software] == \
        [("nvsense", source.attrs["software_version"])]
    action = by_id[f"#run-{run_id}"]
    assert action.type == "CreateAction"
    assert action["result"].id == f"runs/{run_id}.nc"
    assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert action["startTime"] == source.attrs["start_time"]
    assert {i["name"] for i in action["instrument"]} >= {"nvsense",
                                                          "nvsense,simulated-mw,0,0.1.0"}
    # the bench configuration, byte for byte
    bench = run_file["isBasedOn"]
    assert (crate_dir / bench.id).read_text() == source.attrs["bench_config"]
    # the campaign journal the ODMR runs belong to
    journal = crate_dir / "campaigns" / "field-map.jsonl"
    assert journal.read_bytes() == (shared_runs.data_dir / "campaigns" /
                                    "field-map.jsonl").read_bytes()
    assert f"campaigns/{shared_runs.campaign}.jsonl" in by_id


def test_a_run_being_written_goes_in_as_a_snapshot(tmp_path):
    path = tmp_path / "data" / "2026-11-28" / "20261128-140455-track-0001.nc"
    with RunWriter(path, "track", tracking_schema(1, field="parallel")) as writer:
        writer.append(time=0.0, field_parallel=1e-6, D=2.87e9, frequency_locked=[2.8e9],
                      error_signal=[0.1], locked=True)
        with pytest.warns(Warning, match="did not close"):
            runs = load_runs([path])
            crate = export_rocrate(runs, tmp_path / "crate")
            with pytest.warns(Warning, match="did not close"):
                back = read_rocrate(crate)
        xr.testing.assert_identical(back[path.stem], runs[0].data)
        writer.close("completed")


def test_refuses_a_non_empty_folder_and_a_missing_journal(shared_runs, tmp_path):
    runs = load_runs([shared_runs.track])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_rocrate(runs, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").exists()
    with pytest.raises(ExportError, match=r"no journal campaigns/nope\.jsonl"):
        export_rocrate(runs, tmp_path / "new", campaigns=["nope"])
