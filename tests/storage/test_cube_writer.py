"""Widefield run files: per-sweep records, the accumulated cube, crash safety, readers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import xarray as xr

from nvsense.analysis import fit_cube, open_cube
from nvsense.instruments.frame_sync import SweepAssembler, SweepFrames, SweepPlan, TriggerTiming
from nvsense.instruments.simulated.widefield import widefield_bench
from nvsense.storage import RunFileError, RunNotClosedWarning, SchemaError, open_run
from nvsense.storage.cube_writer import (
    CubeAccumulator,
    CubeWriter,
    open_widefield_run,
    widefield_schema,
)

FREQ = np.linspace(2.80e9, 2.94e9, 15)
SHAPE = (6, 5)
GAIN, OFFSET = 0.5, 100.0


def sweep(index: int, level: float | np.ndarray, *, reference: float | None = None,
          missing=()) -> SweepFrames:
    s = SweepFrames.empty(index, FREQ.size, SHAPE, reference=reference is not None)
    for p in range(FREQ.size):
        value = level[p] if np.ndim(level) else level
        if p not in missing:
            s.put(p, np.full(SHAPE, value, np.uint16), frame_number=p)
        if reference is not None:
            s.put(p, np.full(SHAPE, reference, np.uint16), reference=True, frame_number=p)
    return s


def electrons(adu):
    return (np.asarray(adu, float) - OFFSET) * GAIN


def test_constant_frames_accumulate_to_counts_of_all_sweeps(tmp_path):
    path = tmp_path / "run.nc"
    with CubeWriter(path, FREQ, SHAPE, electrons_per_adu=GAIN, offset=OFFSET) as run:
        run.append_sweep(sweep(0, 1100))
        run.append_sweep(sweep(1, 1300, missing=(4,)))
        np.testing.assert_allclose(run.accumulated()[..., 0], 2 * electrons(1200))
        # point 4 is in one sweep only: scaled to stand for two
        np.testing.assert_allclose(run.accumulated()[..., 4], 2 * electrons(1100))
    ds = open_cube(path)
    assert ds["pl"].attrs["units"] == "counts" and ds.sizes["sweep"] == 2
    np.testing.assert_allclose(ds["pl"].values[..., 0], 2 * electrons(1200))
    assert ds["point_valid"].dtype == bool and not ds["point_valid"].values[1, 4]
    assert ds["frames"].dims == ("sweep", "frequency", "y", "x")
    np.testing.assert_array_equal(ds["frames"].values[1, 0], 1300)


def test_drift_is_undone_by_whole_pixels_and_edges_scaled(tmp_path):
    level = np.zeros(SHAPE)
    level[2, 3] = 1  # one bright pixel
    s0 = SweepFrames.empty(0, FREQ.size, SHAPE, reference=False)
    s1 = SweepFrames.empty(1, FREQ.size, SHAPE, reference=False)
    for p in range(FREQ.size):
        s0.put(p, (1000 + 500 * level).astype(np.uint16))
        s1.put(p, (1000 + 500 * np.roll(level, (1, -1), axis=(0, 1))).astype(np.uint16))
    with CubeWriter(tmp_path / "run.nc", FREQ, SHAPE, electrons_per_adu=GAIN,
                    offset=OFFSET) as run:
        run.append_sweep(s0)
        run.append_sweep(s1, shift=(1.2, -0.8), drift_confidence=40.0)
        pl = run.accumulated()
    # the bright pixel is back in place in both sweeps: twice its counts
    assert pl[2, 3, 0] == pytest.approx(2 * electrons(1500))
    assert pl[0, 0, 0] == pytest.approx(2 * electrons(1000))
    ds = open_run(tmp_path / "run.nc")
    assert list(ds["shift_y"].values) == [0, 1] and list(ds["shift_x"].values) == [0, -1]
    assert ds["drift_y"].values[1] == pytest.approx(1.2)


def test_reference_frames_normalise_laser_power(tmp_path):
    # the laser dims on every other point: signal and reference frames dim together
    power = np.where(np.arange(FREQ.size) % 2, 0.9, 1.0)
    s = SweepFrames.empty(0, FREQ.size, SHAPE, reference=True)
    for p in range(FREQ.size):
        s.put(p, np.full(SHAPE, OFFSET + 2000 * power[p] * (0.97 if p == 7 else 1.0),
                         np.uint16))
        s.put(p, np.full(SHAPE, OFFSET + 3000 * power[p], np.uint16), reference=True)
    with CubeWriter(tmp_path / "run.nc", FREQ, SHAPE, electrons_per_adu=GAIN, offset=OFFSET,
                    reference=True) as run:
        run.append_sweep(s)
        pl = run.accumulated()
    spectrum = pl[0, 0] / pl[0, 0].max()
    expected = np.where(np.arange(FREQ.size) == 7, 0.97, 1.0)
    np.testing.assert_allclose(spectrum, expected, atol=1e-3)


def test_a_simulated_run_is_fitted_by_the_offline_fit_unchanged(tmp_path):
    bench = widefield_bench(sensor=(32, 32), field_map="none", seed=2)
    bench.laser.on = True
    cam = bench.camera
    cam.exposure = 5e-3
    freq = np.linspace(2.79e9, 2.95e9, 81)
    plan = SweepPlan(freq.size)
    cam.trigger_mode = "exposure_out"
    bench.mw.load_list(plan.hardware_list(freq, lead=cam.mw_trigger_lead), -10)
    bench.mw.output = True
    bench.mw.start_list()
    assembler = SweepAssembler(plan, TriggerTiming("exposure_out", cam.frame_period),
                               cam.frame_shape)
    cal = cam.calibration
    path = tmp_path / "wf.nc"
    cam.start(1000)
    with CubeWriter(path, freq, cam.frame_shape, electrons_per_adu=cal.electrons_per_adu,
                    offset=cal.offset, pixel_size=cam.pixel_size,
                    parameters={"exposure": 5e-3}, instruments={"camera": "simulated"}) as run:
        while run.n_sweeps < 6:
            for s in assembler.add(cam.read_frames(min_frames=81, timeout=2)):
                run.append_sweep(s)
    from nvsense.cli import main

    assert main(["widefield", "fit", str(path), "--out", str(tmp_path / "map.nc"),
                 "--bin", "4", "--workers", "0"]) == 0
    fitted = xr.open_dataset(tmp_path / "map.nc", engine="h5netcdf")
    assert float(fitted["success"].mean()) == 1.0
    # 2 mT along the NV axis (the bench's bias; no map)
    np.testing.assert_allclose(fitted["field_parallel"].values, 2e-3, atol=6 * float(
        fitted["field_parallel_error"].max()))
    direct = fit_cube(path, binning=4, workers=0, progress=False)
    np.testing.assert_allclose(direct["field_parallel"].values, fitted["field_parallel"].values)
    info = open_run(path)
    assert info.attrs["kind"] == "widefield" and info.attrs["status"] == "completed"


CRASH = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    sys.path.insert(0, {here!r})
    from test_cube_writer import FREQ, SHAPE, GAIN, OFFSET, sweep
    from nvsense.storage.cube_writer import CubeWriter
    run = CubeWriter({path!r}, FREQ, SHAPE, electrons_per_adu=GAIN, offset=OFFSET,
                     reference=True)
    for i in range(3):
        run.append_sweep(sweep(i, 1000 + 100 * i, reference=2000), shift=(0.0, float(i)))
    # the fourth sweep is complete in the file, but the process dies before pl is rewritten
    run.append_record(sweep(3, 1400, reference=2000, missing=(2,)), shift=(0.0, 3.0))
    print("appended", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_a_crash_during_the_cube_update_loses_nothing(tmp_path):
    path = tmp_path / "crash.nc"
    here = str(__import__("pathlib").Path(__file__).parent)
    proc = subprocess.run([sys.executable, "-c", CRASH.format(here=here, path=str(path))],
                          capture_output=True, text=True, timeout=120)
    assert "appended" in proc.stdout, proc.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunNotClosedWarning)
        raw = open_run(path)
    assert raw.sizes["sweep"] == 4 and raw.attrs["pl_sweeps"] == 3
    recovered = open_widefield_run(path, sweeps=True)
    # the same cube a writer that did not crash computes
    acc = CubeAccumulator(SHAPE, FREQ.size, electrons_per_adu=GAIN, offset=OFFSET,
                          reference=True)
    for i, level in enumerate((1000, 1100, 1200, 1400)):
        s = sweep(i, level, reference=2000, missing=(2,) if i == 3 else ())
        acc.add(s.signal, s.valid, shift=(0.0, float(i)), reference=s.reference,
                reference_valid=s.reference_valid)
    np.testing.assert_allclose(recovered["pl"].values, acc.cube(), equal_nan=True)
    assert recovered.sizes["sweep"] == 4 and "frames" in recovered
    assert not recovered["point_valid"].values[3, 2]
    fit_input = open_widefield_run(path)
    assert "frames" not in fit_input


def test_a_widefield_run_is_catalogued_like_any_run(tmp_path):
    from nvsense.storage import Catalog

    catalog = Catalog(tmp_path / "data")
    path = tmp_path / "data" / "wf.nc"
    with CubeWriter(path, FREQ, SHAPE, electrons_per_adu=GAIN, offset=OFFSET,
                    parameters={"exposure": 5e-3}, on_close=lambda w: catalog.index_file(w.path),
                    run_id="20261207-101500-widefield-ab12") as run:
        catalog.index_file(run.path)
        assert catalog.runs(kind="widefield")["status"].tolist() == ["running"]
        run.append_sweep(sweep(0, 1100))
    rows = catalog.runs(kind="widefield")
    assert rows["status"].tolist() == ["completed"] and rows["n_records"].tolist() == [1]


def test_runs_are_never_overwritten_and_sweeps_must_fit(tmp_path):
    path = tmp_path / "run.nc"
    with CubeWriter(path, FREQ, SHAPE, electrons_per_adu=GAIN, offset=OFFSET) as run:
        with pytest.raises(SchemaError, match="does not fit"):
            run.append_sweep(SweepFrames.empty(0, 3, SHAPE, reference=False))
        with pytest.raises(SchemaError, match="has no reference"):
            run.append_sweep(sweep(0, 1000, reference=1000))
    with pytest.raises(RunFileError, match="never overwritten"):
        CubeWriter(path, FREQ, SHAPE, electrons_per_adu=GAIN, offset=OFFSET)
    with pytest.raises(SchemaError, match="increasing"):
        widefield_schema(FREQ[::-1], SHAPE)
    with pytest.raises(RunFileError, match="not a widefield run"):
        from nvsense.storage import Catalog, odmr_schema

        other = Catalog(tmp_path / "data").new_run("odmr", odmr_schema(FREQ, 2))
        other.close()
        open_widefield_run(other.path)


@pytest.mark.parametrize("method", ["fourier", "linear"])
def test_sub_pixel_methods_realign_a_smooth_image(method):
    n = 32
    k = np.fft.fftfreq(n)
    spectrum = np.fft.fft2(np.random.default_rng(1).standard_normal((n, n))) * np.exp(
        -2 * (np.pi * 4) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))

    def image(dy, dx):
        phase = np.exp(-2j * np.pi * (k[:, None] * dy + k[None, :] * dx))
        return 5000 + 500 * np.fft.ifft2(spectrum * phase).real / np.fft.ifft2(spectrum).real.std()

    acc = CubeAccumulator((n, n), 2, electrons_per_adu=1.0, offset=0.0, shift_method=method)
    for shift in [(0.0, 0.0), (1.5, -0.7)]:
        frames = np.round(np.stack([image(*shift)] * 2)).astype(np.uint16)
        assert acc.add(frames, [True, True], shift=shift) == pytest.approx(shift)
    pl = acc.frames()
    inner = (slice(4, n - 4), slice(4, n - 4))
    expected = 2 * image(0.0, 0.0)[inner]
    tolerance = 2.0 if method == "fourier" else 40.0  # rounding vs bilinear smoothing
    assert np.abs(pl[0][inner] - expected).max() < tolerance
