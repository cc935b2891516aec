"""Run files: what xarray sees, what the writer accepts, how runs end, and reading errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings

import h5netcdf
import h5py
import numpy as np
import pytest
import xarray as xr

from nvsense.storage import (
    NotARunFileError,
    RunFileError,
    RunNotClosedWarning,
    RunWriter,
    SchemaError,
    StorageError,
    odmr_schema,
    open_run,
    run_metadata,
    tracking_schema,
)
from nvsense.storage.writer import ABORT_REASON_BYTES

FIT_VARS = [
    "line_center",
    "line_center_error",
    "line_width",
    "line_width_error",
    "line_contrast",
    "line_contrast_error",
    "fit_success",
    "redchi",
    "field",
    "field_error",
    "D",
    "D_error",
]


def test_completed_odmr_run_opens_in_xarray_with_schema_and_units(write_run, sweep_values):
    path = write_run(
        4,
        bench_config={"mw": {"model": "SG384"}},
        bench_source="bench.yaml",
        instruments={"mw": "Stanford SG384 s/n 1", "counter": "NI USB-6343"},
    )
    ds = xr.open_dataset(path, engine="h5netcdf")
    try:
        assert dict(ds.sizes) == {"sweep": 4, "frequency": 15, "line": 2, "vector": 3}
        assert set(ds.coords) == {"sweep", "frequency", "vector", "time"}
        assert ds.sweep.values.tolist() == [0, 1, 2, 3]
        assert ds.vector.values.tolist() == ["x", "y", "z"]
        assert ds.frequency.attrs["units"] == "Hz"
        np.testing.assert_allclose(ds.frequency, np.linspace(2.80e9, 2.94e9, 15))
        assert ds.time.dims == ("sweep",) and ds.time.attrs["units"] == "s"
        assert ds.counts.dims == ("sweep", "frequency")
        assert ds.line_center.dims == ("sweep", "line")
        assert ds.field.dims == ("sweep", "vector")
        expected_units = {
            "counts": "1",
            "line_center": "Hz",
            "line_width": "Hz",
            "line_contrast": "1",
            "field": "T",
            "field_error": "T",
            "D": "Hz",
            "redchi": "1",
            "avg_field": "T",
            "avg_D": "Hz",
        }
        for name, unit in expected_units.items():
            assert ds[name].attrs["units"] == unit, name
        for name in FIT_VARS:
            assert f"avg_{name}" in ds.data_vars
        for name in ds.variables:
            assert "units" in ds[name].attrs, f"{name} has no units"
            assert ds[name].attrs.get("long_name"), f"{name} has no long_name"
        assert ds.fit_success.dtype == bool
        assert ds.fit_success.values.tolist() == [True, False, True, False]
        for i in range(4):
            expected = sweep_values(i)
            np.testing.assert_array_equal(ds.counts[i], expected["counts"])
            np.testing.assert_array_equal(ds.line_center[i], expected["line_center"])
            np.testing.assert_array_equal(ds.field[i], expected["field"])
            assert float(ds.time[i]) == expected["time"]
        # Left out of every append: NaN, not zero.
        assert np.isnan(ds.D_error).all() and np.isnan(ds.avg_line_center).all()
        assert not ds.avg_fit_success.any()
        attrs = ds.attrs
        assert attrs["nvsense_format"] == "nvsense-run"
        assert attrs["kind"] == "odmr" and attrs["status"] == "completed"
        assert attrs["run_id"] == "run" and attrs["append_dim"] == "sweep"
        assert attrs["start_time"] < attrs["end_time"]
        assert json.loads(attrs["parameters"]) == {"power_dbm": -10.0, "dwell": 1e-3}
        assert attrs["param_power_dbm"] == -10.0
        assert json.loads(attrs["parameter_units"])["power_dbm"] == "dBm"
        assert attrs["instrument_mw"] == "Stanford SG384 s/n 1"
        assert attrs["bench_source"] == "bench.yaml"
        assert json.loads(attrs["results"]) == {"field_x": 1e-3, "field_x_error": 1e-6}
        assert json.loads(attrs["result_units"]) == {"field_x": "T", "field_x_error": "T"}
        assert attrs["result_field_x"] == 1e-3
    finally:
        ds.close()


def test_open_run_matches_xarray_and_decodes_metadata(write_run):
    path = write_run(
        3,
        bench_config="mw:\n  model: SG384\n",
        instruments={"mw": "SG384"},
        campaign="power scan",
        campaign_point=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a closed run opens without warnings
        ds = open_run(path)
    with xr.open_dataset(path, engine="h5netcdf") as reference:
        xr.testing.assert_identical(ds.drop_attrs(), reference.load().drop_attrs())
        assert ds.attrs == reference.attrs
    info = run_metadata(ds)
    assert (info.kind, info.status, info.state, info.closed) == (
        "odmr",
        "completed",
        "completed",
        True,
    )
    assert info.n_records == 3 and info.append_dim == "sweep"
    assert info.parameters == {"power_dbm": -10.0, "dwell": 1e-3}
    assert info.parameter_units == {"power_dbm": "dBm", "dwell": "s"}
    assert info.results == {"field_x": 1e-3, "field_x_error": 1e-6}
    assert info.instruments == {"mw": "SG384"}
    assert info.bench_config == {"mw": {"model": "SG384"}}
    assert (info.campaign, info.campaign_point) == ("power scan", 2)
    assert info.abort_reason is None


def test_metadata_text_is_parsed_never_evaluated(tmp_path, schema):
    payload = "__import__('os').remove('x')"
    path = tmp_path / "r.nc"
    with RunWriter(
        path, "odmr", schema, parameters={"note": payload}, bench_config=f"note: {payload}\n"
    ) as run:
        run.append(counts=np.zeros(15))
    info = run_metadata(open_run(path))
    assert info.parameters["note"] == payload
    assert info.bench_config == {"note": payload}


def test_exception_inside_marks_run_aborted_with_reason_and_reraises(
    tmp_path, schema, sweep_values
):
    path = tmp_path / "aborted.nc"
    with pytest.raises(RuntimeError, match="mw source lost"):
        with RunWriter(path, "odmr", schema) as run:
            run.append(**sweep_values(0))
            run.append(**sweep_values(1))
            raise RuntimeError("mw source lost")
    ds = open_run(path)
    assert ds.attrs["status"] == "aborted"
    assert ds.attrs["abort_reason"] == "RuntimeError: mw source lost"
    assert ds.sizes["sweep"] == 2
    assert run_metadata(ds).end_time


def test_ctrl_c_is_recorded_as_interrupted_by_the_user(tmp_path, schema):
    path = tmp_path / "ctrl_c.nc"
    with pytest.raises(KeyboardInterrupt):
        with RunWriter(path, "odmr", schema) as run:
            run.append(counts=np.ones(15))
            raise KeyboardInterrupt
    info = run_metadata(open_run(path))
    assert info.status == "aborted" and "KeyboardInterrupt" in info.abort_reason


def test_long_abort_reason_is_kept_whole(tmp_path, schema):
    reason = "instrument fault: " + "é" * (2 * ABORT_REASON_BYTES)
    path = tmp_path / "r.nc"
    run = RunWriter(path, "odmr", schema)
    run.close("aborted", reason)
    assert open_run(path).attrs["abort_reason"] == reason


def test_status_is_readable_while_running_and_final_at_once(tmp_path, schema):
    path = tmp_path / "live.nc"
    run = RunWriter(path, "odmr", schema)
    run.append(counts=np.ones(15))
    with pytest.warns(RunNotClosedWarning, match="did not close"):
        live = open_run(path)
    assert live.attrs["status"] == "running" and live.sizes["sweep"] == 1
    assert run_metadata(live).state == "running"  # this process is the writer
    run.append(counts=np.ones(15))
    run.close("completed")
    ds = open_run(path)
    assert ds.attrs["status"] == "completed" and ds.sizes["sweep"] == 2


def test_tracking_run_appends_blocks(tmp_path):
    path = tmp_path / "track.nc"
    with RunWriter(path, "track", tracking_schema(2, field="parallel")) as run:
        for block in range(3):
            t = 0.01 * np.arange(block * 50, (block + 1) * 50)
            run.append_block(
                time=t,
                field_parallel=1e-3 + 1e-9 * t,
                frequency_locked=np.column_stack([2.84e9 + t, 2.90e9 - t]),
                error_signal=np.zeros((50, 2)),
                locked=np.ones(50, bool),
            )
        assert run.n_records == 150
    ds = open_run(path)
    assert dict(ds.sizes) == {"time": 150, "line": 2}
    assert ds.time.attrs["units"] == "s" and ds.field_parallel.attrs["units"] == "T"
    np.testing.assert_allclose(ds.time, 0.01 * np.arange(150))
    np.testing.assert_allclose(ds.frequency_locked[:, 0], 2.84e9 + 0.01 * np.arange(150))
    assert ds.locked.dtype == bool and ds.locked.all()
    assert np.isnan(ds.D).all()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"counts": np.ones(14)}, "shape"),
        ({"counts": np.ones(15), "count": 1.0}, "unknown variable"),
        ({"counts": np.ones(15), "sweep": 3}, "numbers the records itself"),
        ({}, "at least one value"),
    ],
)
def test_bad_append_is_refused_and_writes_nothing(tmp_path, schema, values, message):
    path = tmp_path / "r.nc"
    with RunWriter(path, "odmr", schema) as run:
        run.append(counts=np.ones(15))
        with pytest.raises(SchemaError, match=message):
            run.append(**values)
        run.append(counts=2 * np.ones(15))
    ds = open_run(path)
    assert ds.counts.values.tolist() == [[1.0] * 15, [2.0] * 15]


def test_tracking_append_needs_time_and_blocks_need_equal_lengths(tmp_path):
    with RunWriter(tmp_path / "t.nc", "track", tracking_schema(1)) as run:
        with pytest.raises(SchemaError, match="'time'"):
            run.append(locked=True)
        with pytest.raises(SchemaError, match="same number of records"):
            run.append_block(time=[0.0, 1.0], locked=[True])
        with pytest.raises(SchemaError, match="floats"):
            run.append(time=0.0, locked=0.5)


def test_closed_run_cannot_be_appended_and_is_never_overwritten(write_run):
    path = write_run(1)
    before = path.read_bytes()
    with pytest.raises(RunFileError, match="never overwritten"):
        RunWriter(path, "odmr", odmr_schema([2.87e9], 1))
    assert path.read_bytes() == before
    run = RunWriter(path.with_name("other.nc"), "odmr", odmr_schema([2.87e9], 1))
    run.close()
    with pytest.raises(StorageError, match="closed"):
        run.append(counts=[1.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frequency": [], "n_lines": 1}, "at least one frequency"),
        ({"frequency": [2.87e9], "n_lines": 0}, "n_lines"),
        ({"frequency": [2.87e9], "n_lines": 1, "field": "vectorial"}, "field must be"),
    ],
)
def test_layout_arguments_are_checked(kwargs, message):
    with pytest.raises(SchemaError, match=message):
        odmr_schema(**kwargs)


def test_missing_file_error_names_file_and_fix(tmp_path):
    path = tmp_path / "nope.nc"
    with pytest.raises(RunFileError, match=r"nope.nc: no such run file.*nvsense runs"):
        open_run(path)


def test_not_hdf5_file_error(tmp_path):
    path = tmp_path / "notes.nc"
    path.write_text("sweep 1: looked fine\n")
    with pytest.raises(RunFileError, match=r"notes.nc: is not a NetCDF4/HDF5 file"):
        open_run(path)


def test_netcdf_file_of_another_program_is_not_a_run(tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(NotARunFileError, match=r"not an nvsense run.*xarray\.open_dataset"):
        open_run(path)


@pytest.mark.parametrize("keep", [4096, 0.6])
def test_damaged_run_file_gives_one_clear_error(write_run, keep):
    path = write_run(30)
    data = path.read_bytes()
    size = keep if isinstance(keep, int) else int(len(data) * keep)
    path.write_bytes(data[:size])
    with pytest.raises(RunFileError, match=r"run\.nc: .*(damaged|truncated)"):
        open_run(path)


def test_run_file_with_signature_but_garbage_is_damaged(write_run):
    path = write_run(2)
    data = bytearray(path.read_bytes())
    data[600:4000] = b"\xff" * 3400  # the superblock survives, the metadata does not
    path.write_bytes(bytes(data))
    assert h5py.is_hdf5(path)
    with pytest.raises(RunFileError, match=r"run\.nc: .*damaged"):
        open_run(path)


def _snapshot_of_live_file(tmp_path, schema, sweep_values, n: int):
    """A copy of a run file taken while its writer is open: what ``kill -9`` leaves."""
    path = tmp_path / "live.nc"
    run = RunWriter(path, "odmr", schema)
    for i in range(n):
        run.append(**sweep_values(i))
    copy = tmp_path / "crashed.nc"
    shutil.copyfile(path, copy)
    run.close()
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(copy, "r")  # what plain xarray.open_dataset runs into
    return copy


def test_unclosed_file_opens_with_every_record_and_is_not_modified(tmp_path, schema, sweep_values):
    copy = _snapshot_of_live_file(tmp_path, schema, sweep_values, 5)
    before = copy.read_bytes()
    with pytest.warns(RunNotClosedWarning, match="5 complete sweep record"):
        ds = open_run(copy)
    assert ds.attrs["status"] == "running" and ds.sizes["sweep"] == 5
    np.testing.assert_array_equal(ds.counts[4], sweep_values(4)["counts"])
    assert copy.read_bytes() == before


def test_damaged_unclosed_file_fails_fast_instead_of_hanging(tmp_path, schema, sweep_values):
    # HDF5's SWMR reader retries bad metadata with a doubling delay; by default a damaged
    # file made open_run wait practically forever.  pytest's own timeout would not stop
    # that C loop, so the child process below gets a deadline.
    copy = _snapshot_of_live_file(tmp_path, schema, sweep_values, 30)
    data = bytearray(copy.read_bytes())
    start = int(0.03 * len(data))  # hits checksummed metadata (dimension scales)
    data[start : start + 64] = b"\xff" * 64
    copy.write_bytes(bytes(data))
    code = (
        "import sys\n"
        "from nvsense.storage import open_run, RunFileError\n"
        "try:\n"
        "    open_run(sys.argv[1])\n"
        "except RunFileError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(copy)], capture_output=True, text=True, timeout=20
    )
    assert "crashed.nc: is damaged" in result.stdout, result.stderr


def test_layout_is_netcdf4_as_h5netcdf_reads_it(write_run):
    path = write_run(2)
    with h5netcdf.File(path, "r") as f:
        dims = {name: (dim.size, dim.isunlimited()) for name, dim in f.dimensions.items()}
        assert dims == {
            "sweep": (2, True),
            "line": (2, False),
            "frequency": (15, False),
            "vector": (3, False),
        }
        assert f.variables["counts"].dimensions == ("sweep", "frequency")
        assert f.variables["avg_field"].dimensions == ("sweep", "vector")
        assert "line" not in f.variables  # a dimension without a coordinate variable
        ids = sorted(int(f._h5file[d].attrs["_Netcdf4Dimid"]) for d in dims)
        assert ids == [0, 1, 2, 3]
        assert f._h5file.attrs["_NCProperties"].startswith(b"version=2,")
