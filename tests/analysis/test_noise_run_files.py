"""The noise functions on the run files ``nvsense track`` writes (issue 12, item 3).

The files are made by the tracking magnetometer on the simulated bench: a one-axis run
(``field_parallel (time)``) and a four-axis vector run (``field (time, vector)``).  What the
analysis functions compute from a file must be what the run itself reported.
"""

import numpy as np
import pytest
import yaml

from nvsense.analysis import (
    allan_deviation,
    amplitude_spectral_density,
    analyse_noise,
    find_tones,
    noise_floor,
    shot_noise_floor,
    shot_noise_ratio,
)
from nvsense.instruments import load_bench
from nvsense.instruments.config import builtin_bench_path
from nvsense.measure import TrackSettings, run_track
from nvsense.storage import open_run

SECONDS = 3.0  # 300 samples at 100 Hz: enough for the 10–33 Hz band


def _track(data_dir, **settings):
    settings = {"duration": f"{SECONDS} s", "calibration_time": "0.5 s", **settings}
    bench_file = yaml.safe_load(builtin_bench_path("simulated").read_text())
    bench_file["sample"]["seed"] = 7  # the simulated bench, with reproducible noise
    with load_bench(bench_file) as bench:
        return run_track(bench, TrackSettings.parse(settings), data_dir=data_dir)


@pytest.fixture(scope="module")
def one_axis(tmp_path_factory):
    result = _track(tmp_path_factory.mktemp("one-axis"))
    assert result.status == "completed"
    return result


@pytest.fixture(scope="module")
def vector(tmp_path_factory):
    result = _track(tmp_path_factory.mktemp("vector"), axis=[0, 1, 2, 3], both_lines=True,
                    field_guess="0.4 mT, 1.1 mT, 1.9 mT")
    assert result.status == "completed"
    return result


def test_one_axis_run_floor_from_its_file_is_the_runs_own(one_axis):
    ds = open_run(one_axis.file)
    assert "field" not in ds and "field_parallel" in ds  # the layout this is about
    reported = one_axis.summary()["noise_floor_t_per_rthz"]
    assert reported == ds.attrs["result_noise_floor"]
    assert noise_floor(ds) == pytest.approx(reported, rel=1e-12)
    assert noise_floor(ds, variable="field_parallel") == pytest.approx(reported, rel=1e-12)
    assert noise_floor(one_axis.file) == pytest.approx(reported, rel=1e-12)  # the path
    assert noise_floor(str(one_axis.file)) == pytest.approx(reported, rel=1e-12)


def test_every_noise_function_takes_a_one_axis_run(one_axis):
    ds = open_run(one_axis.file)
    rate = one_axis.settings.rate
    b = ds["field_parallel"].values
    assert amplitude_spectral_density(ds).sample_rate == pytest.approx(rate)
    np.testing.assert_allclose(amplitude_spectral_density(ds).asd,
                               amplitude_spectral_density(b, rate).asd, rtol=1e-12)
    from_file, from_array = find_tones(ds), find_tones(b, rate)
    assert [t.frequency for t in from_file] == pytest.approx([t.frequency for t in from_array])
    assert [t.amplitude for t in from_file] == pytest.approx([t.amplitude for t in from_array])
    np.testing.assert_allclose(allan_deviation(ds).deviation,
                               allan_deviation(b, rate).deviation, rtol=1e-12)
    report = analyse_noise(ds)
    assert report.floor == pytest.approx(ds.attrs["result_noise_floor"], rel=1e-12)
    # D of a one-line run is NaN throughout: one clear error, not a number
    with pytest.raises(ValueError, match="missing"):
        noise_floor(ds, variable="D")


def test_shot_noise_ratio_of_a_run_is_the_ratio_the_run_reports(one_axis):
    # One convention (√2·η, a one-sided ASD) in the run and in nvsense.analysis: for one
    # locked line, which has all the time, the run's limit is shot_noise_floor of its
    # calibration, and the analysis ratio is the run's own.  (The run maps line noise to B·n
    # through the exact Jacobian: the transverse field changes dB/df by ~1e-4 here.)
    ds = open_run(one_axis.file)
    line = {"linewidth": float(ds.attrs["cal_linewidth"]),
            "contrast": float(ds.attrs["cal_contrast"]),
            "count_rate": float(ds.attrs["cal_count_rate"])}
    assert shot_noise_floor(**line) == pytest.approx(ds.attrs["shot_noise_limit"], rel=1e-3)
    ratio = shot_noise_ratio(noise_floor(ds), **line)
    assert ratio == pytest.approx(ds.attrs["result_noise_ratio"], rel=1e-3)
    assert ratio != pytest.approx(ds.attrs["result_noise_ratio"] * np.sqrt(2), rel=0.1)
    assert analyse_noise(ds, **line).shot_noise_ratio == pytest.approx(ratio, rel=1e-12)


def test_vector_run_components_by_name_give_the_runs_floors(vector):
    ds = open_run(vector.file)
    assert ds["field"].dims == ("time", "vector")  # the layout this is about
    components = vector.summary()["noise_floor_components_t_per_rthz"]
    floors = [noise_floor(ds, variable=f"field_{c}") for c in "xyz"]
    np.testing.assert_allclose(floors, components, rtol=1e-12)
    rms = float(np.sqrt(np.mean(np.square(floors))))
    assert rms == pytest.approx(ds.attrs["result_noise_floor"], rel=1e-12)
    report = analyse_noise(vector.file, variable="field_z")
    assert report.floor == pytest.approx(components[2], rel=1e-12)
    assert report.spectrum.unit == "T"


def test_vector_run_without_a_component_names_the_fix(vector):
    ds = open_run(vector.file)
    with pytest.raises(ValueError, match=r"variable='field_x'.*'field_y', 'field_z'"):
        noise_floor(ds)
    with pytest.raises(ValueError, match=r"variable='field_x'"):
        noise_floor(ds, variable="field")
    # the DataArray itself: the hint selects along the file's real dimension
    with pytest.raises(ValueError, match=r"\.sel\(vector='x'\)"):
        noise_floor(ds["field"])
    assert noise_floor(ds["field"].sel(vector="y")) == pytest.approx(
        noise_floor(ds, variable="field_y"), rel=1e-12)
    with pytest.raises(ValueError, match="no variable 'field_w'"):
        noise_floor(ds, variable="field_w")


def test_samples_out_of_lock_are_left_out_like_the_run_does(one_axis):
    ds = open_run(one_axis.file)
    locked = ds["locked"].values.copy()
    locked[40:45] = False  # a short unlock: the longest stretch is samples 45 to the end
    ds["locked"] = ("time", locked)
    expected = noise_floor(ds["field_parallel"].values[45:], one_axis.settings.rate)
    with pytest.warns(UserWarning, match=r"longest stretch in lock, 255 of 300 samples"):
        assert noise_floor(ds) == pytest.approx(expected, rel=1e-12)
    # the DataArray keeps every sample, with no warning
    every = noise_floor(ds["field_parallel"])
    assert every == pytest.approx(noise_floor(ds["field_parallel"].values,
                                              one_axis.settings.rate), rel=1e-12)
    ds["locked"] = ("time", np.zeros_like(locked))
    with pytest.raises(ValueError, match="no sample of this run is in lock"):
        noise_floor(ds)
