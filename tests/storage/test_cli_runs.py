"""``nvsense runs`` and ``nvsense show``: output and exit codes."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from nvsense.cli import main
from nvsense.storage import Catalog, RunWriter, tracking_schema


@pytest.fixture
def data_dir(tmp_path, schema, sweep_values):
    """A data folder with a completed ODMR run (3 sweeps), an aborted one and a track run."""
    catalog = Catalog(tmp_path)
    start = datetime(2026, 11, 27, 9, 0).astimezone()
    done = catalog.new_run(
        "odmr",
        schema,
        parameters={"power_dbm": -10.0, "dwell": 1e-3},
        parameter_units={"power_dbm": "dBm", "dwell": "s"},
        start_time=start,
        instruments={"mw": "Stanford SG384 s/n 42", "counter": "NI USB-6343"},
        bench_source="benches/lab2.yaml",
        campaign="scan",
        campaign_point=3,
    )
    for i in range(3):
        done.append(**sweep_values(i))
    done.close(
        "completed",
        results={
            "field_x": 1.25e-3,
            "field_x_error": 2e-6,
            "field_y": 0.0,
            "field_z": -3e-4,
            "D": 2.8701e9,
        },
    )
    aborted = catalog.new_run("odmr", schema, parameters={"power_dbm": -5.0})
    aborted.append(**sweep_values(0))
    aborted.close("aborted", "InstrumentError: mw: FREQ 2870000000 failed: VISA timeout")
    track = catalog.new_run("track", tracking_schema(2))
    track.close()
    return tmp_path, done.run_id, aborted.run_id, track.run_id


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_table_lists_runs_with_status_and_results(capsys, data_dir):
    folder, done, aborted, track = data_dir
    code, out, _ = run_cli(capsys, "runs", "--data-dir", folder)
    assert code == 0
    for run_id in (done, aborted, track):
        assert run_id in out
    assert out.index(done) < out.index(aborted)  # oldest first
    assert "completed" in out and "aborted" in out
    # one unit for the whole vector (not 1.25 mT next to -300 µT)
    assert "(1.2500, 0.0000, -0.3000) mT" in out and "2.8701 GHz" in out
    assert "scan #3" in out and "VISA timeout" in out


def test_runs_filters_and_json(capsys, data_dir):
    folder, done, aborted, track = data_dir
    code, out, _ = run_cli(
        capsys, "runs", "--data-dir", folder, "--kind", "odmr", "--param", "power_dbm=-10", "--json"
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [done]
    assert rows[0]["parameters"] == {"power_dbm": -10.0, "dwell": 1e-3}
    assert rows[0]["field_x"] == 1.25e-3 and rows[0]["start_time"].startswith("2026-11-27T09")
    _, out, _ = run_cli(capsys, "runs", "--data-dir", folder, "--status", "aborted", "--json")
    assert [r["id"] for r in json.loads(out)] == [aborted]
    _, out, _ = run_cli(
        capsys, "runs", "--data-dir", folder, "--param", "power_dbm=-7..0", "--json"
    )
    assert [r["id"] for r in json.loads(out)] == [aborted]
    _, out, _ = run_cli(
        capsys,
        "runs",
        "--data-dir",
        folder,
        "--since",
        "2026-11-28",
        "--campaign",
        "scan",
        "--json",
    )
    assert json.loads(out) == []
    _, out, _ = run_cli(capsys, "runs", "--data-dir", folder, "--limit", "1", "--json")
    assert [r["id"] for r in json.loads(out)] == [track]


def test_runs_uses_the_environment_variable(capsys, data_dir, monkeypatch):
    folder, done, *_ = data_dir
    monkeypatch.setenv("NVSENSE_DATA_DIR", str(folder))
    code, out, _ = run_cli(capsys, "runs", "--json")
    assert code == 0 and done in out


def test_runs_bad_input_exits_2(capsys, data_dir):
    folder, *_ = data_dir
    code, out, err = run_cli(capsys, "runs", "--data-dir", folder, "--since", "yesterday-ish")
    assert code == 2 and "cannot read 'yesterday-ish'" in err and out == ""
    code, _, err = run_cli(capsys, "runs", "--data-dir", folder, "--param", "power_dbm")
    assert code == 2 and "NAME=VALUE" in err


def test_runs_on_damaged_catalogue_exits_2_with_fix(capsys, data_dir):
    folder, *_ = data_dir
    (folder / "catalog.sqlite").write_bytes(b"garbage" * 200)
    for suffix in ("-wal", "-shm"):
        (folder / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    code, _, err = run_cli(capsys, "runs", "--data-dir", folder)
    assert code == 2 and "catalog.sqlite" in err and "--rescan" in err


def test_runs_in_an_empty_folder(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "runs", "--data-dir", tmp_path / "new")
    assert code == 0 and "no runs match" in out and "no catalogue there yet" in out


def test_runs_rescan_adds_uncatalogued_files(capsys, tmp_path, schema):
    path = tmp_path / "2026-11-28" / "20261128-120000-odmr-abcd.nc"
    with RunWriter(path, "odmr", schema, run_id=path.stem) as run:
        run.append(counts=np.ones(15))
    code, out, err = run_cli(capsys, "runs", "--data-dir", tmp_path, "--rescan", "--json")
    assert code == 0 and "1 new" in err
    assert [r["id"] for r in json.loads(out)] == [path.stem]


def test_show_run_by_id(capsys, data_dir):
    folder, done, *_ = data_dir
    code, out, _ = run_cli(capsys, "show", done, "--data-dir", folder)
    assert code == 0
    for text in (
        done,
        "odmr",
        "completed",
        "sweep records",
        "3",
        "frequency=15",
        "power_dbm",
        "-10 dBm",
        "1 ms",
        "field_x",
        "1.2500 ± 0.0020 mT",  # value and error in one unit
        "-0.3000 mT",  # field_z in the unit of the vector
        "Stanford SG384 s/n 42",
        "benches/lab2.yaml",
        "scan point 3",
    ):
        assert text in out, text


def test_show_json_by_file(capsys, data_dir):
    folder, _, aborted, _ = data_dir
    path = Catalog(folder).get(aborted)["file"]
    code, out, _ = run_cli(capsys, "show", path, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["run_id"] == aborted and summary["status"] == "aborted"
    assert summary["abort_reason"].startswith("InstrumentError: mw")
    assert summary["records"] == 1 and summary["dims"]["sweep"] == 1
    assert summary["variables"]["counts"] == {
        "dims": ["sweep", "frequency"],
        "units": "1",
        "long_name": "photon counts",
    }
    assert summary["parameters"] == {"power_dbm": -5.0}


def test_show_errors_exit_2(capsys, data_dir, tmp_path):
    folder, *_ = data_dir
    code, _, err = run_cli(capsys, "show", "20261128-000000-odmr-ffff", "--data-dir", folder)
    assert code == 2 and "20261128-000000-odmr-ffff" in err and "nvsense runs" in err
    code, _, err = run_cli(capsys, "show", tmp_path / "missing.nc")
    assert code == 2 and "missing.nc: no such run file" in err
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    code, _, err = run_cli(capsys, "show", text)
    assert code == 2 and "notes.txt: is not a NetCDF4/HDF5 file" in err


def test_show_running_run_says_so(capsys, tmp_path, schema):
    run = Catalog(tmp_path).new_run("odmr", schema)
    run.append(counts=np.ones(15))
    code, out, _ = run_cli(capsys, "show", run.run_id, "--data-dir", tmp_path)
    run.close()
    assert code == 0 and "running" in out and "still being written" in out
