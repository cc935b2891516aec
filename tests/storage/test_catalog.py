"""The SQLite run catalogue: rows from run files, filters, repairs, concurrency, errors."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from nvsense.storage import (
    Catalog,
    CatalogError,
    CatalogWarning,
    RunWriter,
    open_run,
    resolve_data_dir,
    tracking_schema,
)
from nvsense.storage.datadir import RUN_ID_PATTERN


def _odmr_run(
    catalog, schema, power, *, start=None, campaign=None, point=None, bx=1e-3, abort=None, **params
):
    run = catalog.new_run(
        "odmr",
        schema,
        parameters={"power_dbm": power, **params},
        start_time=start,
        campaign=campaign,
        campaign_point=point,
    )
    run.append(counts=np.full(15, 1e5))
    if abort:
        run.close("aborted", abort)
    else:
        run.close(
            "completed",
            results={
                "field_x": bx,
                "field_x_error": 2e-6,
                "D": 2.87e9,
                "linewidth": 7e6,
                "mean_counts": 1e5,
            },
            result_units={"mean_counts": "1"},
        )
    return run


def test_new_run_files_and_row(tmp_path, schema):
    catalog = Catalog(tmp_path)
    start = datetime(2026, 11, 28, 14, 4, 55).astimezone()
    run = _odmr_run(catalog, schema, -10.0, start=start, mw={"step": 1e6})
    assert RUN_ID_PATTERN.match(run.run_id) and run.run_id.startswith("20261128-140455-odmr-")
    assert run.path == tmp_path / "2026-11-28" / f"{run.run_id}.nc"
    row = catalog.get(run.run_id)
    assert row["kind"] == "odmr" and row["status"] == "completed" and row["n_records"] == 1
    assert row["file"] == str(run.path)
    assert row["parameters"] == {"power_dbm": -10.0, "mw": {"step": 1e6}}
    assert (row["field_x"], row["field_x_error"], row["D"], row["linewidth"]) == (
        1e-3,
        2e-6,
        2.87e9,
        7e6,
    )
    assert row["field_y"] is None and row["results"]["mean_counts"] == 1e5
    assert row["start_time"].startswith("2026-11-28T14:04:55")
    assert row["software_version"] and row["abort_reason"] is None
    # The file is the record the row was made from.
    assert open_run(run.path).attrs["run_id"] == run.run_id


def test_row_is_running_while_the_run_is_written(tmp_path, schema):
    catalog = Catalog(tmp_path)
    run = catalog.new_run("odmr", schema)
    assert catalog.get(run.run_id)["status"] == "running"
    assert catalog.runs(status="running").index.tolist() == [run.run_id]
    run.close("aborted", "laser interlock open")
    row = catalog.get(run.run_id)
    assert row["status"] == "aborted" and row["abort_reason"] == "laser interlock open"
    assert row["end_time"] >= row["start_time"]


def test_runs_filters(tmp_path, schema):
    catalog = Catalog(tmp_path)
    day = datetime(2026, 11, 27, 9, 0).astimezone()
    a = _odmr_run(catalog, schema, -20.0, start=day, campaign="scan", point=0, mode="cw")
    b = _odmr_run(
        catalog, schema, -10.0, start=day + timedelta(hours=3), campaign="scan", point=1, mode="cw"
    )
    c = _odmr_run(
        catalog, schema, -10.0, start=day + timedelta(days=1), abort="mw fault", mode="pulsed"
    )
    track = catalog.new_run("track", tracking_schema(1), start_time=day + timedelta(days=1))
    track.close()

    def ids(**filters):
        return catalog.runs(**filters).index.tolist()

    assert ids() == [a.run_id, b.run_id, c.run_id, track.run_id]  # oldest first
    assert ids(kind="odmr") == [a.run_id, b.run_id, c.run_id]
    assert ids(kind=["track"]) == [track.run_id]
    assert ids(status="aborted") == [c.run_id]
    assert ids(status=["completed", "aborted"], kind="odmr") == [a.run_id, b.run_id, c.run_id]
    assert ids(campaign="scan") == [a.run_id, b.run_id]
    assert ids(power_dbm=-10) == [b.run_id, c.run_id]  # -10 matches the stored -10.0
    assert ids(power_dbm=-10, mode="cw") == [b.run_id]
    assert ids(power_dbm=(-15, None)) == [b.run_id, c.run_id]
    assert ids(power_dbm=(None, -15)) == [a.run_id]
    assert ids(power_dbm=[-20, -10], kind="odmr", status="completed") == [a.run_id, b.run_id]
    assert ids(since="2026-11-28") == [c.run_id, track.run_id]
    assert ids(until="2026-11-27") == [a.run_id, b.run_id]  # a bare date: the whole day
    assert ids(since="2026-11-27T10:00", until="2026-11-27T23:59") == [b.run_id]
    assert ids(limit=2) == [c.run_id, track.run_id]  # the latest two
    assert ids(power_dbm=0) == []
    frame = catalog.runs(kind="odmr")
    assert frame.loc[a.run_id, "campaign_point"] == 0
    assert frame.loc[c.run_id, "abort_reason"] == "mw fault"
    assert frame["field_x"].dtype == float and np.isnan(frame.loc[c.run_id, "field_x"])
    assert isinstance(frame.loc[a.run_id, "start_time"], pd.Timestamp)
    assert frame.loc[a.run_id, "parameters"]["mode"] == "cw"
    assert open_run(frame.loc[b.run_id, "file"]).attrs["run_id"] == b.run_id


def test_nested_parameter_and_age_filters(tmp_path, schema):
    catalog = Catalog(tmp_path)
    old = _odmr_run(
        catalog,
        schema,
        -10.0,
        start=datetime.now().astimezone() - timedelta(days=3),
        mw={"step": 1e6},
    )
    new = _odmr_run(catalog, schema, -10.0, mw={"step": 2e6})
    assert catalog.runs(**{"mw.step": 2e6}).index.tolist() == [new.run_id]
    assert catalog.runs(since="1 d").index.tolist() == [new.run_id]
    assert catalog.runs(until="2 d").index.tolist() == [old.run_id]
    with pytest.raises(ValueError, match="date or an age"):
        catalog.runs(since="last tuesday")


def test_rescan_indexes_a_file_the_catalogue_missed(tmp_path, schema):
    """A crash between creating the file and cataloguing it must not lose the run."""
    catalog = Catalog(tmp_path)
    kept = _odmr_run(catalog, schema, -10.0)
    path = tmp_path / "2026-11-28" / "20261128-120000-odmr-abcd.nc"
    with RunWriter(path, "odmr", schema, run_id=path.stem, parameters={"power_dbm": 3}) as run:
        run.append(counts=np.ones(15))
    assert path.stem not in catalog.runs().index
    report = catalog.rescan()
    assert report.added == [path.stem] and not report.unreadable
    assert sorted(report.indexed) == sorted([kept.run_id, path.stem])
    assert catalog.runs(power_dbm=3).index.tolist() == [path.stem]


def test_lost_catalogue_is_rebuilt_from_the_files(tmp_path, schema):
    catalog = Catalog(tmp_path)
    runs = [
        _odmr_run(catalog, schema, p, campaign="scan", point=i)
        for i, p in enumerate((-20.0, -10.0))
    ]
    before = catalog.runs()
    catalog.path.unlink()
    for suffix in ("-wal", "-shm"):
        catalog.path.with_name(catalog.path.name + suffix).unlink(missing_ok=True)
    rebuilt = Catalog(tmp_path)
    report = rebuilt.rescan()
    assert sorted(report.added) == sorted(r.run_id for r in runs)
    pd.testing.assert_frame_equal(rebuilt.runs(), before)


def test_rescan_reports_unreadable_files_and_missing_ones(tmp_path, schema):
    catalog = Catalog(tmp_path)
    gone = _odmr_run(catalog, schema, -10.0)
    gone.path.unlink()
    junk = gone.path.parent / "notes.nc"  # the run's own date folder, whatever the date
    junk.write_text("not a run")
    report = catalog.rescan()
    assert report.missing == [gone.run_id]
    assert [p for p, _ in report.unreadable] == [str(junk)]
    assert "notes.nc: is not a NetCDF4/HDF5 file" in report.unreadable[0][1]
    with pytest.raises(CatalogError, match="no file"):
        catalog.locate(gone.run_id)


def test_locate_finds_uncatalogued_run_by_id(tmp_path, schema):
    catalog = Catalog(tmp_path)
    _odmr_run(catalog, schema, 0.0)
    path = tmp_path / "2026-11-29" / "20261129-080000-odmr-0f0f.nc"
    RunWriter(path, "odmr", schema, run_id=path.stem).close()
    assert catalog.locate(path.stem) == path
    assert catalog.get(path.stem)["status"] == "completed"  # and it is catalogued now


def test_update_changes_the_row(tmp_path, schema):
    catalog = Catalog(tmp_path)
    run = _odmr_run(catalog, schema, -10.0)
    row = catalog.update(
        run.run_id,
        campaign="late",
        campaign_point=7,
        results={"field_parallel": 5e-4, "field_parallel_error": 1e-6},
    )
    assert (row["campaign"], row["campaign_point"]) == ("late", 7)
    assert row["field_parallel"] == 5e-4 and row["field_x"] is None
    with pytest.raises(ValueError, match="cannot update"):
        catalog.update(run.run_id, kind="track")
    with pytest.raises(ValueError, match="status must be"):
        catalog.update(run.run_id, status="done")
    with pytest.raises(CatalogError, match="no run 'nope'"):
        catalog.update("nope", status="aborted")


def test_two_processes_write_one_catalogue(tmp_path, child):
    procs = [child.start(tmp_path, 8, 2, seed) for seed in (11, 12)]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.count("closed") == 8
    frame = Catalog(tmp_path).runs()
    assert len(frame) == 16 and set(frame.status) == {"completed"}
    assert sorted(frame.campaign_point[frame.campaign == "child11"]) == list(range(8))
    assert all(open_run(f).sizes["sweep"] == 2 for f in frame.file)


def test_damaged_catalogue_error_names_file_and_fix(tmp_path, schema):
    catalog = Catalog(tmp_path)
    _odmr_run(catalog, schema, -10.0)
    catalog.path.write_bytes(b"this is no database" * 100)
    for suffix in ("-wal", "-shm"):
        catalog.path.with_name(catalog.path.name + suffix).unlink(missing_ok=True)
    damaged = Catalog(tmp_path)
    with pytest.raises(CatalogError, match=r"catalog\.sqlite: .*--rescan"):
        damaged.runs()
    # Measuring goes on: the run file is written, the catalogue problem is a warning.
    with pytest.warns(CatalogWarning, match="nvsense runs --rescan"):
        run = damaged.new_run("odmr", schema)
        run.append(counts=np.ones(15))
        run.close()
    assert open_run(run.path).attrs["status"] == "completed"


def test_catalogue_of_a_newer_nvsense_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "catalog.sqlite") as con:
        con.execute("PRAGMA user_version = 99")
    with pytest.raises(CatalogError, match="newer nvsense"):
        Catalog(tmp_path).runs()


def test_empty_and_missing_data_folder(tmp_path):
    catalog = Catalog(tmp_path / "nowhere")
    assert catalog.runs().empty and list(catalog.runs().columns)[:2] == ["kind", "status"]
    with pytest.raises(CatalogError, match="no run catalogue"):
        catalog.get("20261128-140455-odmr-3f2a")
    with pytest.raises(CatalogError, match="no such data folder"):
        catalog.rescan()
    assert not (tmp_path / "nowhere").exists()  # reading never creates folders


def test_resolve_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NVSENSE_DATA_DIR", raising=False)
    assert resolve_data_dir() == tmp_path / "nvsense-data"
    monkeypatch.setenv("NVSENSE_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(None) == tmp_path / "env"
    assert resolve_data_dir("rel") == tmp_path / "rel"  # the argument wins, made absolute
    assert Catalog().data_dir == tmp_path / "env"


def test_run_kind_must_be_usable_in_file_names(tmp_path, schema):
    with pytest.raises(ValueError, match="run kind"):
        Catalog(tmp_path).new_run("ODMR scan", schema)
    assert not list(tmp_path.rglob("*.nc"))
