"""``nvsense export nexus|rocrate|rde|mne``: run ids resolved through the catalogue, files
written, clear errors with exit code 2."""

from __future__ import annotations

import mne
import numpy as np
import pytest
import xarray as xr

from nvsense.cli import main
from nvsense.export.nexus import read_nexus
from nvsense.export.rocrate import read_rocrate
from nvsense.storage import open_run

OWNER = "0123456789abcdef0123456789abcdef0123456789abcdef01234567"


def test_nexus_by_run_id_and_by_path(shared_runs, tmp_path, capsys):
    out = tmp_path / "two.nxs"
    code = main(["export", "nexus", shared_runs.odmr.stem, str(shared_runs.track),
                 "--out", str(out), "--data-dir", str(shared_runs.data_dir)])
    assert code == 0
    assert f"exported 2 run(s) to {out}" in capsys.readouterr().out
    back = read_nexus(out)
    xr.testing.assert_identical(back[shared_runs.odmr.stem], open_run(shared_runs.odmr))
    # again: refused without --overwrite
    assert main(["export", "nexus", str(shared_runs.odmr), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_rocrate_of_a_campaign(shared_runs, tmp_path):
    out = tmp_path / "crate"
    assert main(["export", "rocrate", "--campaign", shared_runs.campaign, "--out", str(out),
                 "--data-dir", str(shared_runs.data_dir)]) == 0
    assert set(read_rocrate(out)) == {shared_runs.odmr.stem, shared_runs.snapshot.stem}
    assert (out / "campaigns" / "field-map.jsonl").exists()


def test_rde_command(shared_runs, tmp_path):
    out = tmp_path / "rde"
    assert main(["export", "rde", shared_runs.track.stem, "--out", str(out), "--owner-id",
                 OWNER, "--data-dir", str(shared_runs.data_dir), "--name", "B(t) test"]) == 0
    assert (out / "data" / "raw" / shared_runs.track.name).exists()
    assert '"dataName": "B(t) test"' in (out / "data" / "invoice" / "invoice.json").read_text()


def test_mne_of_a_tracking_run_with_trigger(shared_runs, tmp_path):
    out = tmp_path / "track_raw.fif"
    assert main(["export", "mne", shared_runs.trigger.stem, "--out", str(out),
                 "--data-dir", str(shared_runs.data_dir)]) == 0
    raw = mne.io.read_raw_fif(out, preload=True, verbose=False)
    source = open_run(shared_runs.trigger)
    assert raw.ch_names == ["field_parallel", "STI 014"]
    assert raw.get_channel_types() == ["mag", "stim"]
    assert raw.info["sfreq"] == 1000.0
    np.testing.assert_array_equal(raw.get_data(picks=["field_parallel"])[0],
                                  source.field_parallel.values)
    events = mne.find_events(raw, stim_channel="STI 014", verbose=False)
    assert events[:, 0].tolist() == [50, 180, 310]
    # without a trigger line: field channel only
    plain = tmp_path / "plain_raw.fif"
    assert main(["export", "mne", str(shared_runs.track), "--out", str(plain)]) == 0
    assert mne.io.read_raw_fif(plain, verbose=False).ch_names == ["field_parallel"]


def test_mne_of_a_vector_tracking_run(tmp_path):
    from nvsense.export.mne_run import tracking_record

    t = np.arange(100) / 500.0
    ds = xr.Dataset({"field": (("time", "vector"), np.arange(300.0).reshape(100, 3) * 1e-12,
                               {"units": "T"})},
                    coords={"time": ("time", t, {"units": "s"}), "vector": ["x", "y", "z"]})
    record = tracking_record(ds)
    assert list(record.data_vars) == ["field_x", "field_y", "field_z"]
    np.testing.assert_array_equal(record.field_y.values, ds.field.sel(vector="y").values)
    assert record.field_z.attrs["units"] == "T"


@pytest.mark.parametrize("argv, message", [
    (["export", "nexus", "20990101-000000-odmr-abcd", "--out", "x.nxs"], "nvsense runs"),
    (["export", "nexus", "no/such/file.nc", "--out", "x.nxs"], "no such run file"),
    (["export", "rocrate", "--out", "c"], "name the runs"),
    (["export", "rocrate", "--campaign", "nope", "--out", "c"], "no runs of campaign 'nope'"),
    (["export", "rde", "RUN", "--out", "d", "--owner-id", "me"], "56 letters"),
])
def test_bad_input_is_one_clear_error(shared_runs, tmp_path, monkeypatch, capsys, argv,
                                      message):
    monkeypatch.chdir(tmp_path)
    argv = [str(shared_runs.track) if a == "RUN" else a for a in argv]
    assert main([*argv, "--data-dir", str(shared_runs.data_dir)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("nvsense: ")
    assert not list(tmp_path.iterdir())  # nothing written


def test_mne_refuses_an_odmr_run(shared_runs, tmp_path, capsys):
    assert main(["export", "mne", str(shared_runs.odmr), "--out",
                 str(tmp_path / "x.fif")]) == 2
    assert "tracking runs" in capsys.readouterr().err


def test_latest_names_the_newest_run_of_a_kind(shared_runs):
    from nvsense.export.runs import resolve_run
    from nvsense.storage import Catalog, CatalogError

    catalog = Catalog(shared_runs.data_dir)
    assert resolve_run("latest-track", catalog) == shared_runs.trigger  # the newer of two
    assert resolve_run("latest-odmr", catalog) == shared_runs.snapshot
    assert resolve_run("latest", catalog) == shared_runs.trigger
    with pytest.raises(CatalogError, match=r"latest-pulsed: no pulsed run .* `nvsense runs`"):
        resolve_run("latest-pulsed", catalog)
