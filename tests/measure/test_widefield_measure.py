"""The widefield measurement kind end to end on the simulated camera: frames of
frame-synchronised sweeps stream into a cube that `nvsense widefield fit` turns into the
field map the camera saw; lost frames are measured again or marked, never shifted; a stop
or a kill keeps every completed sweep; drift is registered, stored and undone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nvsense.cli import main
from nvsense.instruments import load_bench
from nvsense.measure import RunControl
from nvsense.measure.documents import WidefieldMap, WidefieldSweep
from nvsense.measure.settings import SettingsError
from nvsense.measure.widefield import WidefieldSettings, run_widefield
from nvsense.storage import Catalog
from nvsense.storage.cube_writer import CubeAccumulator, open_widefield_run

RANGE = "2.79GHz:2.95GHz:81"


def widefield_bench(camera: dict | None = None) -> dict:
    """The simulated widefield bench of examples/benches/widefield.yaml, small and still."""
    return {
        "name": "widefield_test",
        "sample": {"field": ["1.1547 mT"] * 3, "axes": [0], "linewidth": "6 MHz",
                   "contrast": 0.03},
        "instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                        "counter": {"driver": "simulated"},
                        "camera": {"driver": "simulated", "sensor": [32, 32],
                                   "field_map": "wire", **(camera or {})}},
        "limits": {"frequency": ["2.5 GHz", "3.3 GHz"], "max_mw_power": "0 dBm",
                   "max_laser_power": "0.5 W"},
        "safe_state": {"laser": "off"},
    }


def record(tmp_path: Path, camera: dict | None = None, **settings):
    values = {"range": RANGE, "sweeps": 3, "live_binning": 4, **settings}
    docs: list = []
    with load_bench(widefield_bench(camera)) as bench:
        result = run_widefield(bench, values, out=tmp_path / "run.nc",
                               catalog=Catalog(tmp_path / "data"), subscribers=[docs.append])
        cam = bench.camera
        truth = cam.observed_field(0)
        drift = [cam.drift_at(t) for t in np.arange(0, 20, 0.1)]
    return result, docs, truth, drift


def test_a_recorded_cube_fits_to_the_wire_field_the_camera_saw(tmp_path, capsys):
    # 2×2 camera binning (4 × the light of a pixel, read in grey levels of 2 e⁻)
    calibration = {"electrons_per_adu": 2.0, "offset": 100, "read_noise": 1.5,
                   "full_well": 30000}
    result, docs, truth, _ = record(tmp_path, {"sensor": [48, 48], "calibration": calibration},
                                    sweeps=6, binning=2, live_binning=4)
    assert result.status == "completed" and result.sweeps == 6
    assert result.frames == 6 * 81 and result.dropped_frames == 0
    assert result.saturated_pixels == 0 and result.warnings == []
    # one record and one live map per sweep, the record first
    kinds = [type(d).__name__ for d in docs[1:-1]]
    assert kinds == ["WidefieldSweep", "WidefieldMap"] * 6
    live = [d for d in docs if isinstance(d, WidefieldMap)][-1]
    assert live.field_parallel.shape == (6, 6) and live.success.mean() > 0.95
    assert live.curves.shape == live.spectra.shape == (6, 6, 81)
    # the offline fit, unchanged, of the file the run wrote
    code = main(["widefield", "fit", str(result.file), "--out", str(tmp_path / "map.nc"),
                 "--workers", "0", "--json"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["pixels"] == 24 * 24
    fitted = xr.open_dataset(tmp_path / "map.nc", engine="h5netcdf")
    ok = fitted["success"].values
    assert ok.mean() > 0.98
    name = "field_parallel"
    field, error = fitted[name].values, fitted[f"{name}_error"].values
    assert np.ptp(truth) > 8 * np.median(error)  # the wire's field stands out of the noise
    rms = np.sqrt(np.mean((field - truth)[ok] ** 2))
    assert rms <= 1.2 * np.sqrt(np.mean(error[ok] ** 2))
    # the live map (4×4 camera pixels) agrees with the truth binned alike
    binned = truth.reshape(6, 4, 6, 4).mean(axis=(1, 3))
    good = live.success
    live_rms = np.sqrt(np.mean((live.field_parallel - binned)[good] ** 2))
    assert live_rms <= 1.5 * np.sqrt(np.mean(live.field_parallel_error[good] ** 2)) + 2e-6


def test_the_run_is_catalogued_with_its_results(tmp_path, capsys):
    result, _, _, _ = record(tmp_path, sweeps=2, live_binning=0)
    row = Catalog(tmp_path / "data").get(result.run_id)
    assert row["kind"] == "widefield" and row["status"] == "completed"
    assert Path(row["file"]).resolve() == result.file.resolve()
    assert main(["runs", "--data-dir", str(tmp_path / "data")]) == 0
    assert result.run_id in capsys.readouterr().out
    ds = open_widefield_run(result.file)
    assert ds.attrs["result_sweeps"] == 2 and ds.attrs["result_dropped_frames"] == 0
    assert "instrument_snapshot" in ds.attrs


def test_lost_frames_are_measured_again_at_their_own_frequency(tmp_path):
    # frames 12 and 68 (on the two lines) never reach the computer, frame 40 arrives twice;
    # frame counters restart with the sequence after a repair, so this repeats every sweep
    result, docs, _, _ = record(tmp_path, {"faults": {"dropped": [12, 68],
                                                      "duplicated": [40]}},
                                sweeps=2, live_binning=0)
    assert result.dropped_frames == 4 and result.duplicated_frames == 2
    assert result.remeasured_frames == 4 and result.marked_points == 0
    sweeps = [d for d in docs if isinstance(d, WidefieldSweep)]
    assert [(d.missing, d.remeasured, d.marked) for d in sweeps] == [(2, 2, 0)] * 2
    ds = open_widefield_run(result.file, sweeps=True)
    numbers = ds["frame_number"].values
    assert ds["point_valid"].values.all()
    for sweep in numbers:
        assert list(np.flatnonzero(sweep == -2)) == [12, 68]   # measured again
        # every other frame is the one its counter says belongs there: nothing shifted
        hardware = sweep >= 0
        assert np.array_equal(sweep[hardware] % 81, np.flatnonzero(hardware))
    # a frame measured again was taken at its own frequency: it shows the line's dip, which
    # the off-resonance frame of the duplicated counter does not
    light = ds["frames"].values.astype(float).mean(axis=(2, 3)) - ds.attrs["offset_adu"]
    off = light[:, 35:46].mean(axis=1)
    for p in (12, 68):
        assert np.all(light[:, p] < 0.985 * off)
    assert np.all(np.abs(light[:, 40] / off - 1) < 0.005)


def test_a_burst_of_lost_frames_marks_its_points(tmp_path):
    lost = list(range(40, 48))  # more than max_remeasure (5) in one sweep
    result, _, _, _ = record(tmp_path, {"faults": {"dropped": lost}}, sweeps=2,
                             live_binning=0)
    assert result.dropped_frames == 8 and result.remeasured_frames == 0
    assert result.marked_points == 8
    ds = open_widefield_run(result.file)
    valid = ds["point_valid"].values
    assert list(np.flatnonzero(~valid[0])) == lost and valid[1].all()
    assert list(ds["frame_number"].values[0][lost]) == [-1] * 8
    # the cube still holds both sweeps' worth at every point (scaled from the sweep that has it)
    pl = ds["pl"].values
    assert np.isfinite(pl).all()
    ratio = pl[..., 44].mean() / pl[..., 39].mean()
    assert abs(ratio - 1) < 0.02


def test_marking_instead_of_measuring_again(tmp_path):
    result, _, _, _ = record(tmp_path, {"faults": {"dropped": [3]}}, sweeps=1,
                             live_binning=0, repair="mark")
    assert result.marked_points == 1 and result.remeasured_frames == 0
    valid = open_widefield_run(result.file)["point_valid"].values
    assert list(np.flatnonzero(~valid[0])) == [3]


def test_a_stop_keeps_every_completed_sweep(tmp_path):
    control = RunControl()

    def stop_after_two(doc):
        if isinstance(doc, WidefieldSweep) and doc.index == 1:
            control.stop()

    with load_bench(widefield_bench()) as bench:
        result = run_widefield(bench, {"range": RANGE, "sweeps": 10, "live_binning": 0},
                               out=tmp_path / "run.nc", catalog=Catalog(tmp_path / "data"),
                               subscribers=[stop_after_two], control=control)
        assert bench.camera.acquiring is False
    assert result.status == "aborted" and result.reason == "stopped by user"
    assert result.sweeps == 2
    ds = open_widefield_run(result.file)
    assert ds.sizes["sweep"] == 2 and ds.attrs["status"] == "aborted"
    assert ds.attrs["pl_sweeps"] == 2 and np.isfinite(ds["pl"].values).all()


def test_a_killed_run_keeps_every_completed_sweep(tmp_path):
    """The process dies (no clean-up at all) during its third sweep."""
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(widefield_bench()))
    script = textwrap.dedent(f"""
        import json, os
        from nvsense.instruments import load_bench
        from nvsense.measure.documents import WidefieldSweep
        from nvsense.measure.widefield import run_widefield
        from nvsense.storage import Catalog

        def die(doc):
            if isinstance(doc, WidefieldSweep) and doc.index == 1:
                os._exit(9)

        with load_bench(json.load(open({str(bench)!r}))) as bench:
            run_widefield(bench, {{"range": {RANGE!r}, "sweeps": 5, "live_binning": 0}},
                          out={str(tmp_path / "run.nc")!r},
                          catalog=Catalog({str(tmp_path / "data")!r}), subscribers=[die])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ})
    assert done.returncode == 9, done.stderr
    ds = open_widefield_run(tmp_path / "run.nc")
    assert ds.sizes["sweep"] == 2 and ds.attrs["status"] == "running"
    assert np.isfinite(ds["pl"].values).all()
    # and the offline fit reads it as it is
    assert main(["widefield", "fit", str(tmp_path / "run.nc"), "--out",
                 str(tmp_path / "map.nc"), "--workers", "0", "--json"]) == 0


def test_drift_is_registered_stored_and_undone(tmp_path):
    # the sample creeps 3 px/s down and 2 px/s left; a sweep takes about 0.4 s of bench time
    # (64×64 pixels with a marked texture: enough structure to register on)
    result, _, _, drift = record(tmp_path, {"drift": [3.0, -2.0], "drift_interval": "0.1 s",
                                            "sensor": [64, 64], "texture": 0.3},
                                 sweeps=4, live_binning=0)
    ds = open_widefield_run(result.file, sweeps=True)
    times, t = ds["frame_time"].values, ds["time"].values
    measured = np.stack([ds["drift_y"].values, ds["drift_x"].values], axis=1)
    shift = np.stack([ds["shift_y"].values, ds["shift_x"].values], axis=1)
    assert np.array_equal(shift, np.round(measured))             # applied: whole pixels
    assert abs(measured[-1, 0]) > 2 and abs(measured[-1, 1]) > 1  # it did drift
    # each sweep's registered drift against the first: the true mean drift over the sweep
    step = 0.1
    truth = np.array(drift)
    for s in range(1, 4):
        mean_now = truth[(np.nanmean(times[s]) / step).astype(int)]
        mean_first = truth[(np.nanmean(times[0]) / step).astype(int)]
        assert np.allclose(measured[s], mean_now - mean_first, atol=0.6)
    assert np.all(np.diff(t) > 0)
    # pl is the sum of the frames shifted back by the stored shifts
    assert np.all(ds["drift_confidence"].values[1:] > 6)
    acc = CubeAccumulator((64, 64), 81, electrons_per_adu=ds.attrs["electrons_per_adu"],
                          offset=ds.attrs["offset_adu"])
    for s in range(4):
        acc.add(ds["frames"].values[s], ds["point_valid"].values[s], norm=ds["norm"].values[s],
                shift=tuple(shift[s]))
    np.testing.assert_allclose(ds["pl"].values, acc.cube(), rtol=1e-6)
    assert result.drift_px == pytest.approx(tuple(measured[-1]))


def test_reference_frames_normalise_the_cube(tmp_path):
    result, _, _, _ = record(tmp_path, sweeps=1, live_binning=0, reference="every")
    assert result.frames == 2 * 81
    ds = open_widefield_run(result.file, sweeps=True)
    assert ds.attrs["reference_frames"] == "every" and ds["ref_valid"].values.all()
    assert ds.attrs["param_reference_frequency"] == pytest.approx(2.59e9)
    # the reference frames are off resonance: no dip, unlike the signal
    ref = ds["reference"].values.mean(axis=(0, 1))
    pl = ds["pl"].values.mean(axis=(0, 1))
    assert np.ptp(ref) / ref.mean() < 0.01 < np.ptp(pl) / pl.mean()


@pytest.mark.parametrize(("settings", "message"), [
    ({"range": "2.79GHz:2.95GHz:5"}, "at least 8"),
    ({"exposure": "20 s"}, "exposure"),
    ({"binning": 3}, "binning"),
    ({"range": "2.0GHz:2.95GHz:81"}, "2 GHz"),
    ({"reference": "every", "reference_frequency": "2.8 GHz"}, "inside the sweep"),
    ({"n_lines": 3}, "even"),
    ({"sweeps": 0}, "sweeps"),
])
def test_bad_settings_are_refused_before_anything_is_sent(tmp_path, settings, message):
    from nvsense.instruments import LimitError

    bench = load_bench(widefield_bench())
    with pytest.raises((SettingsError, LimitError), match=message):
        run_widefield(bench, {"range": RANGE, **settings}, out=tmp_path / "run.nc",
                      catalog=Catalog(tmp_path / "data"))
    assert not bench.connected and not (tmp_path / "run.nc").exists()


def test_a_bench_without_a_camera_is_refused(tmp_path):
    bench = load_bench("single_nv")
    with pytest.raises(SettingsError, match="camera"):
        run_widefield(bench, WidefieldSettings(), out=tmp_path / "run.nc",
                      catalog=Catalog(tmp_path / "data"))
    assert not bench.connected


def test_in_real_time_the_live_map_is_fitted_beside_the_camera(tmp_path):
    """A bench in real time: the map is fitted in a thread of its own, published from the
    measurement thread at a later sweep; the last map covers every sweep."""
    config = widefield_bench()
    config["sample"]["pace"] = "realtime"
    docs: list = []
    with load_bench(config) as bench:
        result = run_widefield(bench, {"range": RANGE, "sweeps": 3, "live_binning": 4,
                                       "exposure": "1 ms"},
                               out=tmp_path / "run.nc", catalog=Catalog(tmp_path / "data"),
                               subscribers=[docs.append])
    assert result.status == "completed" and result.sweeps == 3
    maps = [d for d in docs if isinstance(d, WidefieldMap)]
    assert maps and maps[-1].n_sweeps == 3 and maps[-1].success.mean() > 0.9
    # each map comes after the record of the sweep it was made from
    order = [(type(d).__name__, d.index) for d in docs
             if isinstance(d, WidefieldMap | WidefieldSweep)]
    # (a map refreshed during a sweep comes before its record: see test_widefield_live_refresh)
    maps_by_position = [d for d in docs if isinstance(d, WidefieldMap | WidefieldSweep)]
    for position, (name, index) in enumerate(order):
        if name == "WidefieldMap" and not maps_by_position[position].partial_points:
            assert ("WidefieldSweep", index) in order[:position]
    assert isinstance(docs[-1], type(docs[-1])) and type(docs[-1]).__name__ == "RunFinished"


def test_background_live_map_keeps_the_newest_cube():
    from nvsense.measure.widefield.live_map import BackgroundLiveMap

    class Slow:
        last = None

        def __init__(self):
            self.seen = []

        def update(self, run_id, index, n_sweeps, pl):
            import time

            time.sleep(0.05)
            self.seen.append(index)
            return index

    slow = Slow()
    worker = BackgroundLiveMap(slow)
    for i in range(5):
        worker.submit("r", i, i + 1, None)
    done = worker.wait(timeout=10)
    worker.close()
    assert done[-1] == 4 and slow.seen[-1] == 4   # the newest cube is always fitted
    assert len(slow.seen) < 5                     # cubes it had no time for were skipped


def test_saturated_frames_are_reported(tmp_path, capsys):
    result, docs, _, _ = record(tmp_path, {"photon_rate": "2e7 /s"}, sweeps=1,
                                live_binning=0)
    sweep = next(d for d in docs if isinstance(d, WidefieldSweep))
    assert sweep.saturated > 0 and result.saturated_pixels == sweep.saturated
    assert any("full well" in w for w in result.warnings)
    assert open_widefield_run(result.file).attrs["result_saturated_pixels"] == sweep.saturated


def test_a_sweep_mostly_lost_restarts_the_sequence(tmp_path):
    # frames 10-59 of every sequence are lost: more than half a sweep, as when the computer
    # falls behind the camera; the fragment is recorded (points marked) and the sequence
    # starts afresh
    result, _, _, _ = record(tmp_path, {"faults": {"dropped": list(range(10, 60))}},
                                sweeps=2, live_binning=0)
    assert result.status == "completed" and result.sweeps == 2
    assert result.marked_points == 100 and result.dropped_frames == 100
    valid = open_widefield_run(result.file)["point_valid"].values
    for row in valid:
        assert list(np.flatnonzero(~row)) == list(range(10, 60))


def test_sweeps_of_which_nothing_arrives_are_skipped_then_the_run_ends(tmp_path):
    result, _, _, _ = record(tmp_path, {"faults": {"dropped": list(range(81))}}, sweeps=2,
                             live_binning=0)
    assert result.status == "aborted" and "no frame of 10 sweeps" in result.reason
    assert result.sweeps == 0 and result.skipped_sweeps == 10
