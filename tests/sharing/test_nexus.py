"""NeXus export: one NXentry per run, read back losslessly, readable by nexusformat, valid
against the NeXus base classes (nxvalidate and the NXDL definitions it ships)."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
import xarray as xr

from nvsense.export.nexus import entry_name, export_nexus, read_nexus
from nvsense.export.runs import load_runs
from nvsense.storage import open_run

from .conftest import SNAPSHOT


@pytest.fixture(scope="module")
def exported(shared_runs, tmp_path_factory):
    runs = load_runs([shared_runs.odmr, shared_runs.snapshot, shared_runs.track,
                      shared_runs.trigger])
    path = export_nexus(runs, tmp_path_factory.mktemp("nexus") / "runs.nxs")
    return runs, path


def test_every_variable_and_attribute_reads_back(exported):
    runs, path = exported
    back = read_nexus(path)
    assert set(back) == {run.run_id for run in runs}
    for run in runs:
        source = open_run(run.path)
        copy = back[run.run_id]
        xr.testing.assert_identical(source, copy)  # values, dims, coords, every attribute
        assert copy.attrs == source.attrs
        for name in source.variables:
            assert copy[name].attrs == source[name].attrs
            assert copy[name].dtype == source[name].dtype


def test_nexusformat_reads_entries_signal_axes_and_units(exported, shared_runs):
    from nexusformat.nexus import nxload

    _runs, path = exported
    root = nxload(str(path))
    assert root.nxclass == "NXroot"
    odmr = root[entry_name(shared_runs.odmr.stem)]
    assert odmr.nxclass == "NXentry"
    data = odmr["data"]
    assert data.nxclass == "NXdata"
    assert data.nxsignal.nxname == "counts"
    assert [a.nxname for a in data.nxaxes] == ["sweep", "frequency"]
    assert data["frequency"].attrs["units"] == "Hz"
    np.testing.assert_array_equal(data.nxsignal.nxvalue, open_run(shared_runs.odmr).counts)
    assert odmr["fit"].nxclass == "NXprocess"
    assert odmr["fit_sweep_vector"]["field"].attrs["units"] == "T"
    assert odmr["sample"].nxclass == "NXsample"
    assert odmr["instrument"].nxclass == "NXinstrument"
    track = root[entry_name(shared_runs.track.stem)]
    assert track["data"].nxsignal.nxname == "field_parallel"
    assert track["data"].nxsignal.attrs["units"] == "T"
    assert track["lock"].nxclass == "NXprocess"


def test_instrument_groups_come_from_the_snapshot_when_the_run_has_one(exported, shared_runs):
    _runs, path = exported
    with h5py.File(path) as f:
        snap = f[entry_name(shared_runs.snapshot.stem)]["instrument"]
        mw = snap["mw"]
        assert mw.attrs["NX_class"] == "NXsource"
        assert mw["name"].asstr()[()] == SNAPSHOT["instruments"]["mw"]["identity"]
        assert mw["mw_frequency"][()] == 2.87e9
        assert mw["mw_frequency"].attrs["units"] == "Hz"
        assert mw["mw_power"].attrs["units"] == "dBm"
        assert mw["limits"]["frequency_max"][()] == 6.0e9
        assert snap["laser"].attrs["NX_class"] == "NXsource"
        assert snap["laser"]["type"].asstr()[()] == "Optical Laser"
        assert snap["counter"].attrs["NX_class"] == "NXdetector"
        assert snap["name"].asstr()[()] == "simulated"
        entry = f[entry_name(shared_runs.snapshot.stem)]
        assert entry["sample"]["name"].asstr()[()] == "NV ensemble, simulated"
        stored = entry["run_attributes"]["instrument_snapshot"].asstr()[()]
        assert json.loads(stored) == SNAPSHOT
        # without a snapshot: identities and the bench file's drivers
        plain = f[entry_name(shared_runs.odmr.stem)]["instrument"]
        assert plain["mw"]["identity"].asstr()[()] == "nvsense,simulated-mw,0,0.1.0"
        assert plain["mw"]["driver"].asstr()[()] == "simulated"
        assert "mw_frequency" not in plain["mw"]
        sample = f[entry_name(shared_runs.odmr.stem)]["sample"]
        assert sample["temperature"][()] == 300.0
        assert sample["temperature"].attrs["units"] == "K"
        np.testing.assert_allclose(sample["magnetic_field"][()], [4e-4, 1.1e-3, 1.9e-3])


def _nxvalidate_messages(path) -> list[tuple[str, str]]:
    # nxvalidate sizes its log to the terminal and fails without one (pytest captures stdout)
    if not hasattr(os, "_nvsense_terminal_size"):
        os._nvsense_terminal_size = os.get_terminal_size  # type: ignore[attr-defined]
        os.get_terminal_size = lambda *a: os.terminal_size((120, 40))  # type: ignore
    import nxvalidate.validate as nxv

    messages: list[tuple[str, str]] = []
    original = nxv.log
    nxv.log = lambda message, level="info", indent=0: messages.append((level, message))
    try:
        nxv.FileValidator(str(path)).validate()
    finally:
        nxv.log = original
    return messages


def test_valid_against_the_nexus_base_classes(exported):
    _runs, path = exported
    messages = _nxvalidate_messages(path)
    assert len(messages) > 100  # it did walk the file
    errors = [m for level, m in messages if level == "error"]
    assert errors == []
    # Base classes are open: the only remarks are the instruments' own settings (snapshot
    # fields that NXsource/NXdetector do not define).
    warnings = {m for level, m in messages if level == "warning"}
    assert warnings <= {"This field is not defined in NXsource",
                        "This field is not defined in NXdetector"}


def test_validator_catches_a_broken_file(exported, tmp_path):
    """The check above can fail: a group of a class NXentry does not allow, and a bad name."""
    _runs, path = exported
    broken = tmp_path / "broken.nxs"
    broken.write_bytes(path.read_bytes())
    with h5py.File(broken, "r+") as f:
        entry = next(iter(f.values()))
        entry.create_group("bad-name").attrs["NX_class"] = "NXsource"
    errors = [m for level, m in _nxvalidate_messages(broken) if level == "error"]
    assert any("invalid" in m for m in errors)


def test_existing_file_is_not_overwritten(exported, tmp_path):
    runs, _path = exported
    target = tmp_path / "x.nxs"
    target.write_text("keep")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_nexus(runs[:1], target)
    assert target.read_text() == "keep"
    export_nexus(runs[:1], target, overwrite=True)
    assert list(read_nexus(target)) == [runs[0].run_id]
