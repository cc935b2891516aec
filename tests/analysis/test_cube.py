"""Widefield cubes: the simulator's physics and field maps, the file format, binning."""

import numpy as np
import pytest
import xarray as xr

from nvsense.analysis import (
    CubeError,
    bin_pixels,
    check_cube,
    field_map,
    open_cube,
    simulate_cube,
    simulated_spectra,
    write_cube,
)
from nvsense.physics import NV_AXES

BIAS = 2e-3 * NV_AXES[0]


def test_simulated_lines_sit_at_the_reference_frequencies():
    # REFERENCES.md: 1 mT on axis, D = 2870 MHz, E = 0 → 2841.968 and 2898.032 MHz.
    f = np.array([2841.968e6, 2870e6, 2898.032e6, 2950e6])
    spectrum = simulated_spectra(1e-3 * NV_AXES[0], f, contrast=0.03, linewidth=1e6)
    np.testing.assert_allclose(spectrum[[0, 2]], 1 - 0.03, atol=2e-4)  # full depth on the lines
    assert spectrum[1] > 0.999 and spectrum[3] > 0.999


def test_hyperfine_lines_share_the_transition_depth():
    f0 = 2841.968e6
    f = f0 + np.array([-2.16e6, 0.0, 2.16e6, -1.08e6])
    spectrum = simulated_spectra(1e-3 * NV_AXES[0], f, contrast=0.03, linewidth=0.05e6,
                                 nucleus="14N")
    np.testing.assert_allclose(spectrum[:3], 1 - 0.01, atol=1e-4)
    assert spectrum[3] > 0.999  # between the hyperfine lines


def test_four_axes_give_eight_dips():
    f = np.linspace(2.70e9, 3.05e9, 3501)
    spectrum = simulated_spectra(np.array([4e-3, 1e-3, 2e-3]), f, axes=NV_AXES,
                                 linewidth=2e6, contrast=0.02)
    is_min = (spectrum[1:-1] < spectrum[:-2]) & (spectrum[1:-1] < spectrum[2:])
    assert np.count_nonzero(is_min & (spectrum[1:-1] < 0.99)) == 8


def test_uniform_map_is_the_bias_everywhere():
    b = field_map("uniform", 8, bias=BIAS)
    assert b.shape == (8, 8, 3)
    np.testing.assert_array_equal(b, np.broadcast_to(BIAS, b.shape))


def test_gradient_map_ramps_along_x_and_the_bias_direction():
    b = field_map("gradient", (4, 9), bias=BIAS, amplitude=0.4e-3)
    along = (b - BIAS) @ NV_AXES[0]
    np.testing.assert_allclose(along[:, 0], -0.4e-3)
    np.testing.assert_allclose(along[:, -1], 0.4e-3)
    np.testing.assert_allclose(np.diff(along, axis=1), 0.1e-3)  # linear
    np.testing.assert_allclose(np.diff(along, axis=0), 0.0, atol=1e-15)  # no change along y


def test_dipole_map_peaks_at_the_amplitude_above_the_dipole():
    n = 33
    b = field_map("dipole", n, bias=np.zeros(3), amplitude=0.5e-3)
    norm = np.linalg.norm(b, axis=-1)
    assert norm.max() == pytest.approx(0.5e-3)
    centre = b[n // 2, n // 2]
    # straight above a z-dipole the field is along +z and the strongest
    assert np.argmax(norm) == (n // 2) * n + n // 2
    np.testing.assert_allclose(centre[:2], 0.0, atol=1e-12)
    assert centre[2] > 0
    # B_z of a z-dipole is symmetric under a half turn about the centre
    np.testing.assert_allclose(b[..., 2], b[::-1, ::-1, 2], atol=1e-12)


def test_unknown_field_map_is_refused():
    with pytest.raises(ValueError, match="dipole, uniform, gradient"):
        field_map("vortex", 8, bias=BIAS)


def test_simulated_cube_layout_and_truth():
    cube = simulate_cube(16, "gradient", seed=0)
    assert cube["pl"].dims == ("y", "x", "frequency")
    assert cube["frequency"].attrs["units"] == "Hz"
    truth = cube["true_field"].values
    np.testing.assert_allclose(cube["true_field_parallel"].values, truth @ NV_AXES[0])
    # the default sweep covers every true line with room to spare
    f = cube["frequency"].values
    assert f[0] < 2870e6 - 2.803e10 * truth.max() - 20e6
    assert f[-1] > 2870e6 + 2.803e10 * truth.max() + 20e6


def test_shot_noise_is_poisson():
    cube = simulate_cube(64, "uniform", photons=1e4, illumination="flat", seed=1,
                         start=3.2e9, stop=3.3e9, points=8)  # far from any line
    counts = cube["pl"].values.astype(float)
    assert counts.mean() == pytest.approx(1e4, rel=2e-3)
    assert counts.var() / counts.mean() == pytest.approx(1.0, rel=0.05)


def test_the_seed_makes_the_noise_reproducible():
    a = simulate_cube(8, seed=3)
    b = simulate_cube(8, seed=3)
    c = simulate_cube(8, seed=4)
    np.testing.assert_array_equal(a["pl"].values, b["pl"].values)
    assert not np.array_equal(a["pl"].values, c["pl"].values)


def test_gaussian_illumination_dims_the_corners():
    cube = simulate_cube(32, "uniform", seed=0)
    brightness = cube["brightness"].values
    assert brightness.max() == pytest.approx(1.0, abs=0.01)
    assert 0.2 < brightness[0, 0] < 0.4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"photons": -1}, "photons"),
        ({"contrast": 1.5}, "contrast"),
        ({"points": 4}, "points"),
        ({"start": 3e9, "stop": 2.8e9}, "go up"),
        ({"axes": 5}, "1 to 4"),
    ],
)
def test_bad_simulation_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_cube(8, **kwargs)


@pytest.mark.parametrize("name", ["cube.zarr", "cube.nc"])
def test_cube_round_trips_through_zarr_and_netcdf(tmp_path, name):
    cube = simulate_cube(12, "dipole", seed=2)
    write_cube(cube, tmp_path / name)
    back = open_cube(tmp_path / name)
    np.testing.assert_array_equal(back["pl"].values, cube["pl"].values)
    np.testing.assert_allclose(back["true_field"].values, cube["true_field"].values)
    assert list(back["vector"].values) == ["x", "y", "z"]
    assert back.attrs["field_map"] == "dipole"


def test_open_cube_explains_a_missing_file(tmp_path):
    with pytest.raises(CubeError, match=r"does not exist.*simulate"):
        open_cube(tmp_path / "none.nc")


def test_write_cube_wants_a_known_suffix(tmp_path):
    with pytest.raises(CubeError, match=r"\*\.nc"):
        write_cube(simulate_cube(8, seed=0), tmp_path / "cube.txt")


def _bare_cube(**changes):
    f = np.linspace(2.8e9, 2.94e9, 20)
    ds = xr.Dataset({"pl": (("y", "x", "frequency"), np.ones((3, 4, 20)))},
                    coords={"frequency": ("frequency", f, {"units": "Hz"})})
    return ds.assign(**changes) if changes else ds


def test_check_cube_accepts_other_dimension_order_and_frequency_units():
    ds = _bare_cube()
    ds = ds.transpose("frequency", "x", "y")
    ds = ds.assign_coords(frequency=("frequency", ds["frequency"].values / 1e9,
                                     {"units": "GHz"}))
    checked = check_cube(ds)
    assert checked["pl"].dims == ("y", "x", "frequency")
    assert checked["frequency"].values[0] == pytest.approx(2.8e9)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _bare_cube().rename(pl="counts"), "no variable 'pl'"),
        (lambda: _bare_cube().rename(x="col"), "dimensions"),
        (lambda: _bare_cube().isel(frequency=slice(None, None, -1)), "increasing"),
        (lambda: _bare_cube().assign_coords(frequency=("frequency", np.arange(20.0),
                                                      {"units": "mT"})), "not a frequency"),
    ],
)
def test_check_cube_names_what_is_wrong(make, message):
    with pytest.raises(CubeError, match=message):
        check_cube(make())


def test_bin_pixels_sums_counts_and_drops_partial_bins():
    block = np.arange(5 * 7 * 2, dtype=float).reshape(5, 7, 2)
    binned = bin_pixels(block, 2)
    assert binned.shape == (2, 3, 2)
    np.testing.assert_array_equal(binned[0, 0], block[:2, :2].sum(axis=(0, 1)))
    np.testing.assert_array_equal(binned[1, 2], block[2:4, 4:6].sum(axis=(0, 1)))
    assert bin_pixels(block, 1) is block
