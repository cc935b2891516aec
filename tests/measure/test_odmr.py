"""The ODMR measurement on the simulated bench: data, fits, field, file, safety."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from nvsense.fitting import symmetric_equivalents
from nvsense.instruments import LimitError, load_bench
from nvsense.instruments.config import builtin_bench_path
from nvsense.measure import (
    STOPPED_BY_USER,
    Mailbox,
    OdmrSettings,
    RunControl,
    RunFinished,
    RunStarted,
    SettingsError,
    SweepDone,
    run_odmr,
)
from nvsense.physics import GAMMA_NV_HZ_PER_T, NV_AXES, ZFS_HZ
from nvsense.storage import Catalog, open_run

TRUE_FIELD = np.array([0.4e-3, 1.1e-3, 1.9e-3])  # the built-in simulated bench


def bench_config(name: str = "simulated", **sample: object) -> dict:
    """A built-in bench file as a mapping, with sample settings replaced (and without the
    run settings the file recommends for its own sample: these tests give theirs)."""
    config = yaml.safe_load(builtin_bench_path(name).read_text())
    config["sample"].update(sample)
    config.pop("defaults", None)
    config["sample"].setdefault("seed", 7)
    return config


def nearest_image(field: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The symmetry-equivalent of ``truth`` closest to ``field`` (8 lines cannot tell them
    apart; see nvsense.physics)."""
    images = symmetric_equivalents(truth)
    return images[np.argmin(np.linalg.norm(images - field, axis=1))]


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path / "data")


def test_ensemble_run_recovers_field_vector_and_d_within_errors(catalog):
    with load_bench(bench_config()) as bench:
        result = run_odmr(bench, {"sweeps": 6, "n_lines": 8,
                                  "field_guess": ["0.5 mT", "1 mT", "2 mT"]}, catalog=catalog)
    assert result.status == "completed" and result.sweeps == 6
    fit = result.final
    assert fit.success and fit.kind == "vector"
    # with a rough bias-field guess the reported vector is the true one, not an image
    np.testing.assert_allclose(fit.field, TRUE_FIELD, atol=5 * fit.field_errors.max())
    assert fit.field_errors.max() < 2e-6
    assert abs(fit.D - ZFS_HZ) < 5 * fit.D_error
    # 8 lines: centers match an independent diagonalisation of the bench's field
    expected = np.sort(np.concatenate([_axis_lines(TRUE_FIELD, n) for n in NV_AXES]))
    np.testing.assert_allclose(np.sort(fit.centers), expected, atol=5 * fit.center_errors.max())


def _axis_lines(B: np.ndarray, n: np.ndarray, D: float = ZFS_HZ) -> np.ndarray:
    """Two transitions of one axis from a 3x3 diagonalisation written here (no nvsense)."""
    z = n / np.linalg.norm(n)
    x = np.cross(z, [0.0, 1.0, 0.0] if abs(z[1]) < 0.9 else [1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    bx, by, bz = GAMMA_NV_HZ_PER_T * np.array([B @ x, B @ y, B @ z])
    s = 1 / np.sqrt(2)
    sx = np.array([[0, s, 0], [s, 0, s], [0, s, 0]])
    sy = np.array([[0, -1j * s, 0], [1j * s, 0, -1j * s], [0, 1j * s, 0]])
    sz = np.diag([1.0, 0.0, -1.0])
    levels = np.linalg.eigvalsh(D * sz @ sz + bx * sx + by * sy + bz * sz)
    return levels[1:] - levels[0]


def test_without_a_guess_the_vector_is_a_symmetry_image_of_the_truth(catalog):
    with load_bench(bench_config()) as bench:
        result = run_odmr(bench, {"sweeps": 3, "n_lines": 8}, catalog=catalog)
    fit = result.final
    image = nearest_image(fit.field, TRUE_FIELD)
    np.testing.assert_allclose(fit.field, image, atol=5 * fit.field_errors.max())


def test_run_file_holds_every_sweep_with_fits_and_units(catalog):
    with load_bench(bench_config()) as bench:
        result = run_odmr(bench, {"sweeps": 4, "n_lines": 8,
                                  "ranges": ["2.80GHz:2.94GHz:281"]}, catalog=catalog)
    ds = xr.open_dataset(result.file, engine="h5netcdf")
    try:
        assert ds.sizes["sweep"] == 4 and ds.sizes["frequency"] == 281
        assert ds["frequency"].attrs["units"] == "Hz"
        assert ds["counts"].shape == (4, 281)
        assert ds["line_center"].shape == (4, 8)
        assert ds["avg_field"].attrs["units"] == "T"
        assert ds.attrs["status"] == "completed"
        # the stored average fit is the one reported
        np.testing.assert_allclose(ds["avg_field"].values[-1], result.final.field)
        # counts are the raw sweeps: their mean is the average that was fitted
        np.testing.assert_allclose(ds["counts"].mean("sweep").values, result.average)
    finally:
        ds.close()
    row = catalog.runs(kind="odmr").iloc[0]
    assert row["status"] == "completed"
    assert row["field_x"] == pytest.approx(result.final.field[0])


def test_single_nv_two_lines_give_b_parallel_and_d(catalog):
    config = bench_config("single_nv", nucleus="none")
    with load_bench(config) as bench:
        result = run_odmr(bench, {"sweeps": 6, "ranges": ["2.80GHz:2.94GHz:561"], "dwell": "20 ms",
                                  "mw_power": "-20 dBm", "laser_power": "1 mW"},
                          catalog=catalog)
    fit = result.final
    # one sweep of a single NV is mostly shot noise: the run found the two dips in the
    # running average, then wrote every sweep
    assert fit.kind == "parallel" and len(fit.centers) == 2
    assert open_run(result.file).sizes["sweep"] == 6
    # 1 mT along [111]: B∥ = 1 mT exactly (closed form f± = D ± γB)
    assert fit.field_parallel == pytest.approx(1e-3, abs=5 * fit.field_parallel_error)
    assert abs(fit.D - ZFS_HZ) < 5 * fit.D_error


def test_14n_model_fits_the_hyperfine_triplets(catalog):
    with load_bench(bench_config("single_nv")) as bench:
        result = run_odmr(bench, {"sweeps": 3, "ranges": ["2.83GHz:2.91GHz:641"], "dwell": "20 ms",
                                  "mw_power": "-20 dBm", "laser_power": "1 mW",
                                  "model": "14n", "n_lines": 2}, catalog=catalog)
    fit = result.final
    assert fit.success and fit.kind == "parallel"
    assert fit.field_parallel == pytest.approx(1e-3, abs=5 * fit.field_parallel_error)


def test_hamiltonian_model_gives_the_field_from_the_fit_itself(catalog):
    with load_bench(bench_config()) as bench:
        result = run_odmr(bench, {"sweeps": 3, "model": "hamiltonian",
                                  "field_guess": ["0.5 mT", "1 mT", "2 mT"]}, catalog=catalog)
    fit = result.final
    assert fit.kind == "vector" and len(fit.centers) == 8
    np.testing.assert_allclose(fit.field, TRUE_FIELD, atol=5 * fit.field_errors.max())


def test_stepped_and_list_sweeps_see_the_same_lines(catalog):
    lines = {}
    for mode in ("list", "stepped"):
        with load_bench(bench_config()) as bench:
            result = run_odmr(bench, {"sweeps": 2, "n_lines": 8, "mode": mode,
                                      "ranges": ["2.80GHz:2.94GHz:281"]}, catalog=catalog)
        lines[mode] = result.final
    a, b = lines["list"], lines["stepped"]
    tolerance = 5 * np.hypot(a.center_errors, b.center_errors)
    assert np.all(np.abs(a.centers - b.centers) < tolerance)


def test_several_ranges_are_swept_in_one_sweep(catalog):
    with load_bench(bench_config()) as bench:
        result = run_odmr(bench, {"sweeps": 2, "n_lines": 2,
                                  "ranges": ["2.805GHz:2.84GHz:141", "2.905GHz:2.935GHz:121"]},
                          catalog=catalog)
    assert result.frequencies.size == 262
    centers = np.sort(result.final.centers)
    assert 2.805e9 < centers[0] < 2.84e9 and 2.905e9 < centers[1] < 2.935e9


def test_counter_timeout_at_sweep_3_aborts_keeps_two_sweeps_and_leaves_bench_safe(catalog):
    config = bench_config(faults={"counter_timeout_at_sweep": 3})
    bench = load_bench(config)
    with bench:
        result = run_odmr(bench, {"sweeps": 10, "n_lines": 8}, catalog=catalog)
        # the bench was made safe by the measurement, before the context exit
        assert bench.mw.output is False
        assert bench.laser.on is False
    assert result.status == "aborted" and result.sweeps == 2
    assert result.error is not None and "counter" in result.reason
    assert "timed out" in result.reason
    ds = open_run(result.file)
    assert ds.sizes["sweep"] == 2
    assert ds.attrs["status"] == "aborted"
    assert "timed out" in ds.attrs["abort_reason"]
    assert "rf off" in ds.attrs["safe_state_report"].lower()
    report = " ".join(result.safe_report).lower()
    assert "mw: rf off" in report and "laser: off" in report
    assert catalog.runs(status="aborted").shape[0] == 1


def test_out_of_range_power_is_refused_before_anything_is_sent(catalog):
    bench = load_bench(bench_config())
    with bench:
        sample = bench.sample
        before = (sample.mw.power, sample.mw.output, sample.laser.on)
        with pytest.raises(LimitError, match="max_mw_power"):
            run_odmr(bench, {"sweeps": 2, "mw_power": "5 dBm"}, catalog=catalog)
        with pytest.raises(LimitError, match="GHz"):
            run_odmr(bench, {"sweeps": 2, "ranges": ["2.0GHz:2.9GHz:11"]}, catalog=catalog)
        assert (sample.mw.power, sample.mw.output, sample.laser.on) == before
    assert catalog.runs().empty  # no run was started


def test_bad_settings_name_the_setting():
    with pytest.raises(SettingsError, match="dwel: unknown setting"):
        OdmrSettings.parse({"dwel": "1 ms"})
    with pytest.raises(SettingsError, match="mw_power"):
        OdmrSettings.parse({"mw_power": "-10 dbmW"})
    with pytest.raises(SettingsError, match=r"stop .* must be above start"):
        OdmrSettings.parse({"ranges": ["2.9GHz:2.8GHz:11"]})


def test_stop_request_ends_after_the_current_sweep_with_stopped_by_user(catalog):
    control = RunControl()

    def stop_after_second(event):
        if isinstance(event, SweepDone) and event.index == 1:
            control.stop()

    with load_bench(bench_config()) as bench:
        result = run_odmr(bench, {"sweeps": 50, "n_lines": 8}, catalog=catalog,
                          control=control, subscribers=[stop_after_second])
        assert bench.mw.output is False
    assert result.status == "aborted" and result.reason == STOPPED_BY_USER
    assert result.sweeps == 2
    assert open_run(result.file).sizes["sweep"] == 2


def test_duration_counts_bench_time(catalog):
    # 281 points x 1 ms = 0.281 s a sweep: 1 s of measurement is 4 sweeps
    with load_bench(bench_config()) as bench:
        result = run_odmr(bench, {"duration": "1 s", "n_lines": 8,
                                  "ranges": ["2.80GHz:2.94GHz:281"]}, catalog=catalog)
    assert result.status == "completed" and result.sweeps == 4


def test_events_arrive_in_order_and_a_slow_display_never_slows_or_loses_data(catalog):
    seen: list = []
    slow: list = []
    finished = threading.Event()

    def record(event):
        seen.append(event)
        if isinstance(event, RunFinished):
            finished.set()

    def slow_display(event):
        # a display far slower than the sweeps, whatever the machine's load: it is busy with
        # the first document until the run has ended
        if not slow:
            finished.wait(timeout=120)
        slow.append(event)

    mailbox = Mailbox(slow_display)
    with load_bench(bench_config()) as bench:
        result = run_odmr(bench, {"sweeps": 12, "n_lines": 2,
                                  "ranges": ["2.805GHz:2.84GHz:71"]}, catalog=catalog,
                          subscribers=[record, mailbox])
    mailbox.close()
    assert isinstance(seen[0], RunStarted) and isinstance(seen[-1], RunFinished)
    sweeps = [e for e in seen if isinstance(e, SweepDone)]
    assert [e.index for e in sweeps] == list(range(12))
    # the display skipped sweeps but got the first and the last state, and the end of the run
    shown = [e for e in slow if isinstance(e, SweepDone)]
    assert len(shown) < 12 and mailbox.merged > 0
    assert shown[-1].index == 11 and isinstance(slow[-1], RunFinished)
    assert open_run(result.file).sizes["sweep"] == 12  # the file has every sweep


def test_a_failing_subscriber_does_not_stop_the_run(catalog):
    def broken(event):
        raise RuntimeError("display crashed")

    with load_bench(bench_config()) as bench:
        result = run_odmr(bench, {"sweeps": 2, "n_lines": 8}, catalog=catalog,
                          subscribers=[broken])
    assert result.status == "completed" and result.sweeps == 2


def test_photodiode_counter_in_volts_is_fitted_without_poisson_weights(catalog):
    config = bench_config()
    config["instruments"]["counter"] = {"driver": "simulated", "kind": "volts"}
    with load_bench(config) as bench:
        result = run_odmr(bench, {"sweeps": 2, "n_lines": 8}, catalog=catalog)
    ds = open_run(result.file)
    assert ds["counts"].attrs["units"] == "V"
    assert result.final.success
    image = nearest_image(result.final.field, TRUE_FIELD)
    np.testing.assert_allclose(result.final.field, image, atol=5 * result.final.field_errors.max())
