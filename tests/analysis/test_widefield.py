"""Widefield fits: field maps recovered from simulated cubes with a known truth."""

import numpy as np
import pytest
import xarray as xr

from nvsense.analysis import (
    field_map_error,
    field_rms_error,
    fit_cube,
    plot_field_map,
    simulate_cube,
    summarise_fit,
    write_cube,
)
from nvsense.fitting import FitInputError, FitStatus

SIZE = 24


@pytest.fixture(scope="module")
def dipole_cube():
    return simulate_cube(SIZE, "dipole", seed=11)


@pytest.fixture(scope="module")
def dipole_map(dipole_cube):
    return fit_cube(dipole_cube, workers=0, progress=False)


def test_default_cube_fits_with_two_lorentzians(dipole_map):
    assert dipole_map["success"].mean() > 0.99
    assert dipole_map.sizes == {"y": SIZE, "x": SIZE, "line": 2}
    assert dipole_map["field_parallel"].attrs["units"] == "T"
    np.testing.assert_allclose(np.median(dipole_map["D"]), 2.870e9, atol=0.1e6)


def test_field_map_matches_the_truth_within_its_reported_errors(dipole_map, dipole_cube):
    ok = dipole_map["success"].values
    error = field_map_error(dipole_map, dipole_cube).values[ok]
    sigma = dipole_map["field_parallel_error"].values[ok]
    pulls = error / sigma
    # the dipole spans 0.37 mT; shot noise limits each pixel to ~10 µT
    assert field_rms_error(dipole_map, dipole_cube) < 15e-6
    assert abs(np.mean(pulls)) < 0.2  # no bias from the axial formula at this field
    assert 0.8 < np.std(pulls) < 1.25  # the error bars are honest


def test_binning_sums_pixels_and_shrinks_the_error(dipole_cube, dipole_map):
    binned = fit_cube(dipole_cube, binning=2, workers=0, progress=False)
    assert binned.sizes["y"] == SIZE // 2 and binned.attrs["bin"] == 2
    # 4× the photons: half the noise
    ratio = (field_rms_error(binned, dipole_cube) / field_rms_error(dipole_map, dipole_cube))
    assert 0.35 < ratio < 0.7
    np.testing.assert_allclose(binned["x"].values[:2], [0.5e-6, 2.5e-6])  # bin centres


def test_chunking_does_not_change_the_result(dipole_cube, dipole_map):
    small = fit_cube(dipole_cube, workers=0, progress=False, rows_per_task=5)
    xr.testing.assert_allclose(small["field_parallel"], dipole_map["field_parallel"])
    xr.testing.assert_equal(small["status"], dipole_map["status"])


def test_dask_cluster_gives_the_in_process_result(dipole_cube, dipole_map):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        on_dask = fit_cube(dipole_cube, client=client, progress=False, rows_per_task=6)
        by_address = fit_cube(dipole_cube, scheduler=cluster.scheduler_address,
                              progress=False, rows_per_task=12)
    for result in (on_dask, by_address):
        np.testing.assert_allclose(result["center"].values, dipole_map["center"].values,
                                   rtol=0, atol=1.0)  # Hz
        xr.testing.assert_equal(result["success"], dipole_map["success"])


def test_unreachable_scheduler_is_reported(dipole_cube, monkeypatch):
    monkeypatch.setattr("nvsense.analysis.widefield.SCHEDULER_TIMEOUT", "1s")
    with pytest.raises(OSError, match="cannot reach the Dask scheduler"):
        fit_cube(dipole_cube, scheduler="tcp://127.0.0.1:9", progress=False)


def test_pixels_without_signal_are_flagged_not_fitted_into_nonsense():
    cube = simulate_cube(SIZE, "uniform", seed=5)
    rng = np.random.default_rng(0)
    pl = cube["pl"].values.copy()
    pl[4:10, 4:10] = rng.poisson(5e4, size=pl[4:10, 4:10].shape)  # no NV there: flat
    cube["pl"].values[:] = pl
    result = fit_cube(cube, workers=0, progress=False)
    failed = ~result["success"].values
    assert failed[4:10, 4:10].all()
    outside = np.ones_like(failed)
    outside[4:10, 4:10] = False
    assert failed[outside].mean() < 0.02
    assert set(np.unique(result["status"].values[4:10, 4:10])) <= {
        int(s) for s in FitStatus if s != FitStatus.OK}


def test_lines_moving_beyond_the_seed_window_are_refitted_from_their_own_dips():
    # ±34 MHz across the image: more than the 25 MHz window around the average's lines
    cube = simulate_cube(SIZE, "gradient", amplitude=1.2e-3, seed=12)
    result = fit_cube(cube, workers=0, progress=False)
    assert result["success"].mean() > 0.98
    reseeded = result["reseeded"].values
    assert reseeded.mean() > 0.1
    assert reseeded[:, [0, -1]].all()  # the image edges are the far ones
    error = field_map_error(result, cube).values
    ok = result["success"].values
    assert np.sqrt(np.mean(error[ok & reseeded] ** 2)) < 1.5 * np.median(
        result["field_parallel_error"].values[ok & reseeded])


def test_hamiltonian_model_recovers_the_field_vector_with_a_bias_guess():
    cube = simulate_cube(12, "gradient", axes=4, seed=7, points=161)
    bias = np.asarray(cube.attrs["bias_t"])
    result = fit_cube(cube, model="hamiltonian", field_guess=bias, workers=0, progress=False)
    assert result["success"].mean() > 0.95
    error = field_map_error(result, cube)
    assert error.attrs["truth_mapped_by_symmetry"] == 0  # the guess picked the true one
    ok = result["success"].values
    for i, c in enumerate("xyz"):
        sigma = np.median(result[f"field_{c}_error"].values[ok])
        assert np.sqrt(np.mean(error.values[ok, i] ** 2)) < 2 * sigma
    np.testing.assert_allclose(np.median(result["D"].values[ok]), 2.87e9, atol=0.2e6)


def test_hamiltonian_without_guess_reports_a_symmetric_equivalent():
    cube = simulate_cube(8, "uniform", axes=4, seed=8, points=161)
    result = fit_cube(cube, model="hamiltonian", workers=0, progress=False)
    fitted = np.stack([result[f"field_{c}"].values for c in "xyz"], axis=-1)[0, 0]
    truth = cube["true_field"].values[0, 0]
    # same magnitude and the same set of |components|, whatever the representative
    np.testing.assert_allclose(np.sort(np.abs(fitted)), np.sort(np.abs(truth)), atol=3e-5)
    assert field_rms_error(result, cube) < 50e-6


def test_15n_model_on_resolved_hyperfine_lines():
    cube = simulate_cube(10, "gradient", nucleus="15N", linewidth=1e6, points=401,
                         photons=3e5, seed=9)
    result = fit_cube(cube, model="15n", n_lines=2, workers=0, progress=False)
    assert result["success"].mean() > 0.95
    assert field_rms_error(result, cube) < 3 * np.median(result["field_parallel_error"])
    assert np.median(result["width"]) == pytest.approx(1e6, rel=0.1)


def test_several_line_pairs_give_one_field_per_pair():
    cube = simulate_cube(8, "uniform", axes=4, seed=10, points=201)
    result = fit_cube(cube, n_lines=8, workers=0, progress=False)
    assert result["field_parallel"].dims == ("y", "x", "pair")
    assert result.sizes["pair"] == 4
    assert field_rms_error(result, cube) < 30e-6


def test_map_is_written_as_netcdf_with_units(tmp_path, dipole_map):
    write_cube(dipole_map, tmp_path / "map.nc")
    back = xr.open_dataset(tmp_path / "map.nc", engine="h5netcdf")
    for name, unit in [("center", "Hz"), ("width", "Hz"), ("field_parallel", "T"), ("D", "Hz")]:
        assert back[name].attrs["units"] == unit
    assert back["success"].dtype == bool
    assert back.attrs["model"] == "lorentzian"


def test_summary_and_figure(dipole_map, dipole_cube, tmp_path):
    lines = summarise_fit(dipole_map, dipole_cube, elapsed=2.0)
    assert any("RMS" in line for line in lines)
    assert any("pixels/s" in line for line in lines)
    fig = plot_field_map(dipole_map, dipole_cube, tmp_path / "map.png")
    assert len(fig.axes) >= 4
    assert (tmp_path / "map.png").stat().st_size > 10_000


def test_a_cube_without_dips_cannot_be_seeded():
    cube = simulate_cube(8, "uniform", seed=1, start=3.3e9, stop=3.4e9)  # no line in range
    with pytest.raises(ValueError, match="image-average"):
        fit_cube(cube, workers=0, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"binning": 0}, "bin"),
        ({"binning": 100}, "larger than the image"),
        ({"nucleus": "14N"}, "hamiltonian"),
        ({"field_guess": [1e-3, 0, 0]}, "hamiltonian"),
        ({"window": -1.0}, "window"),
        ({"model": "voigt"}, "unknown model"),
        ({"width_bounds": (5e6, 1e6)}, "width_bounds"),
    ],
)
def test_bad_fit_options_get_one_clear_error(dipole_cube, kwargs, message):
    with pytest.raises(FitInputError, match=message):
        fit_cube(dipole_cube, workers=0, progress=False, **kwargs)


def test_seed_region_is_used(dipole_cube):
    result = fit_cube(dipole_cube, region=(slice(0, 6), slice(0, 6)), workers=0,
                      progress=False)
    assert result["success"].mean() > 0.99
    with pytest.raises(ValueError, match="holds no pixel"):
        fit_cube(dipole_cube, region=(slice(5, 5), slice(None)), workers=0, progress=False)
