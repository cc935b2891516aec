"""`nvsense widefield simulate | fit | plot`: the commands a user runs, end to end."""

import numpy as np
import pytest
import xarray as xr

from nvsense.analysis import open_cube
from nvsense.cli import main


@pytest.fixture(scope="module")
def cube_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("widefield") / "cube.zarr"
    code = main(["widefield", "simulate", "--size", "20", "--field-map", "gradient",
                 "--seed", "3", "--out", str(path)])
    assert code == 0
    return path


def test_simulate_writes_a_cube_with_its_truth(cube_path, capsys):
    cube = open_cube(cube_path)
    assert cube["pl"].shape == (20, 20, 101)
    assert cube.attrs["field_map"] == "gradient"
    assert "true_field_parallel" in cube


def test_simulate_options_reach_the_cube(tmp_path, capsys):
    path = tmp_path / "cube.nc"
    code = main(["widefield", "simulate", "--size", "6", "--points", "41",
                 "--start", "2.80 GHz", "--stop", "2.94 GHz", "--linewidth", "5 MHz",
                 "--count-rate", "2e7 /s", "--exposure", "5 ms", "--nucleus", "15N",
                 "--axes", "4", "--bias", "1 mT, 2 mT, 3 mT", "--field-map", "uniform",
                 "--illumination", "flat",
                 "--out", str(path)])
    assert code == 0
    cube = open_cube(path)
    assert cube["frequency"].values[[0, -1]] == pytest.approx([2.80e9, 2.94e9])
    assert cube.attrs["photons_per_point"] == pytest.approx(1e5)
    assert cube.attrs["linewidth_hz"] == pytest.approx(5e6)
    assert cube.attrs["nucleus"] == "15N"
    assert np.asarray(cube.attrs["axes"]).shape == (4, 3)
    np.testing.assert_allclose(cube["true_field"].values[0, 0], [1e-3, 2e-3, 3e-3])
    assert "wrote" in capsys.readouterr().out


def test_fit_and_plot_a_cube(cube_path, tmp_path, capsys):
    map_path = tmp_path / "map.nc"
    code = main(["widefield", "fit", str(cube_path), "--out", str(map_path),
                 "--model", "lorentzian", "--lines", "2", "--bin", "2", "--workers", "0",
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "error vs the cube's true field" in out
    result = xr.open_dataset(map_path, engine="h5netcdf")
    assert result.sizes["y"] == 10 and result.attrs["bin"] == 2
    assert result["success"].mean() > 0.95
    truth = open_cube(cube_path)["true_field_parallel"].coarsen(y=2, x=2).mean()
    ok = result["success"].values
    assert np.sqrt(np.mean((result["field_parallel"].values - truth.values)[ok] ** 2)) < 15e-6

    image = tmp_path / "map.png"
    assert main(["widefield", "plot", str(map_path), "--cube", str(cube_path),
                 "--out", str(image)]) == 0
    assert image.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "--out", "{tmp}/c.nc", "--linewidth", "8 mT"], "--linewidth"),
        (["simulate", "--out", "{tmp}/c.nc", "--photons", "1e5", "--count-rate", "1e8/s"],
         "not both"),
        (["simulate", "--out", "{tmp}/c.nc", "--bias", "1 mT, 2 mT"], "three components"),
        (["simulate", "--out", "{tmp}/nofolder/c.nc"], "does not exist"),
        (["fit", "{tmp}/missing.zarr", "--out", "{tmp}/m.nc"], "does not exist"),
        (["fit", "{cube}", "--out", "{tmp}/m.nc", "--window", "fast"], "--window"),
        (["fit", "{cube}", "--out", "{tmp}/m.nc", "--bin", "0", "--workers", "0"], "bin"),
        (["plot", "{tmp}/missing.nc", "--out", "{tmp}/m.png"], "cannot read map"),
    ],
)
def test_bad_input_exits_2_with_one_clear_message(argv, message, tmp_path, cube_path,
                                                   capsys):
    argv = [a.format(tmp=tmp_path, cube=cube_path) for a in argv]
    assert main(["widefield", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_widefield_without_a_subcommand_shows_help(capsys):
    assert main(["widefield"]) == 2
    assert "simulate" in capsys.readouterr().out
