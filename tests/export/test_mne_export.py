"""Export of B(t) records to MNE-Python FIF (read back with mne.io.read_raw_fif: channels in
tesla, trigger as a stim channel) and to BIDS with mne-bids."""

import json
import sys

import mne
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nvsense.export.bids import export_bids
from nvsense.export.mne import export_fif, to_mne_raw

FS = 1000.0


def record():
    rng = np.random.default_rng(3)
    t = np.arange(0, 5, 1 / FS)
    trigger = np.zeros(t.size)
    for onset in (0.5, 1.7, 3.2):
        trigger[(t >= onset) & (t < onset + 0.005)] = 5.0
    return xr.Dataset(
        {"B_s0": ("time", 1e-12 * rng.standard_normal(t.size), {"units": "T"}),
         "B_s1": ("time", 3e-13 * rng.standard_normal(t.size), {"units": "T"}),
         "gradient": ("time", 1e-13 * rng.standard_normal(t.size), {"units": "T"}),
         "lockin_x": ("time", rng.standard_normal(t.size), {"units": "V"}),
         "trigger": ("time", trigger, {"units": "V"})},
        coords={"time": 12.0 + t},
        attrs={"start_time": "2026-03-04T10:11:12+00:00", "mains_frequency": 50.0})


def test_fif_round_trip_in_tesla_with_a_stim_channel(tmp_path):
    data = record()
    path = export_fif(data, tmp_path / "run_raw.fif")
    raw = mne.io.read_raw_fif(path, preload=True, verbose=False)
    assert raw.ch_names == ["B_s0", "B_s1", "gradient", "STI 014"]
    assert raw.get_channel_types() == ["mag", "mag", "mag", "stim"]
    assert raw.info["sfreq"] == FS
    assert raw.info["line_freq"] == 50.0
    assert raw.info["meas_date"].isoformat() == "2026-03-04T10:11:12+00:00"
    for name in ("B_s0", "B_s1", "gradient"):
        np.testing.assert_array_equal(raw.get_data(picks=[name])[0], data[name].values)
    events = mne.find_events(raw, stim_channel="STI 014", verbose=False)
    assert events[:, 0].tolist() == [500, 1700, 3200]
    assert events[:, 2].tolist() == [5, 5, 5]
    # the volts channel is not exported as a field
    assert "lockin_x" not in raw.ch_names


def test_existing_file_is_kept_unless_overwrite(tmp_path):
    data = record()
    path = export_fif(data, tmp_path / "run_meg.fif")
    with pytest.raises(FileExistsError, match="overwrite"):
        export_fif(data, path)
    assert export_fif(data, path, overwrite=True) == path
    with pytest.raises(ValueError, match=r"\.fif"):
        export_fif(data, tmp_path / "run.h5")


def test_channels_not_in_tesla_are_refused():
    with pytest.raises(ValueError, match="tesla"):
        to_mne_raw(record(), channels=["lockin_x"])


def test_missing_mne_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "mne", None)
    with pytest.raises(ImportError, match=r"nvsense\[meg\]"):
        to_mne_raw(record())


def test_bids_dataset_with_channels_and_events(tmp_path):
    data = record()
    path = export_bids(data, tmp_path / "bids", subject="01", task="evoked", session="a",
                       run=2)
    assert path.name == "sub-01_ses-a_task-evoked_run-2_meg.fif"
    meg = path.parent
    channels = pd.read_csv(meg / "sub-01_ses-a_task-evoked_run-2_channels.tsv", sep="\t")
    assert channels["type"].tolist() == ["MEGMAG", "MEGMAG", "MEGMAG", "TRIG"]
    assert channels["units"].tolist()[:3] == ["T", "T", "T"]
    events = pd.read_csv(meg / "sub-01_ses-a_task-evoked_run-2_events.tsv", sep="\t")
    assert events["onset"].tolist() == pytest.approx([0.5, 1.7, 3.2])
    assert events["trial_type"].tolist() == ["stimulus"] * 3
    sidecar = json.loads((meg / "sub-01_ses-a_task-evoked_run-2_meg.json").read_text())
    assert sidecar["PowerLineFrequency"] == 50.0
    assert sidecar["SamplingFrequency"] == FS
    raw = mne.io.read_raw_fif(path, verbose=False)
    np.testing.assert_array_equal(raw.get_data(picks=["B_s0"])[0], data["B_s0"].values)
    with pytest.raises(ValueError, match="letters and digits"):
        export_bids(data, tmp_path / "bids", subject="01_x", task="evoked")
