"""Where `fit_cube` and `nvsense widefield fit` run by default (issue 12, item 14)."""

import json

import pytest

import nvsense.analysis.widefield as widefield
import nvsense.analysis.widefield_executor as executor_module
from nvsense.analysis import choose_executor, fit_cube, simulate_cube, write_cube
from nvsense.analysis.widefield_executor import (
    LOCAL_CLUSTER_MIN_CORES,
    LOCAL_CLUSTER_MIN_SAMPLES,
)
from nvsense.cli import main
from nvsense.fitting import FitInputError


@pytest.mark.parametrize("cores", [1, 2])
def test_two_cores_or_fewer_fit_in_process_at_any_size(cores):
    chosen = choose_executor(4096 * 4096, 201, cores=cores)
    assert (chosen.kind, chosen.workers) == ("in-process", 0)
    assert f"{cores} core" in chosen.reason


def test_many_cores_use_a_cluster_only_for_big_cubes():
    small_pixels = LOCAL_CLUSTER_MIN_SAMPLES // 101 - 1
    small = choose_executor(small_pixels, 101, cores=16)
    assert small.kind == "in-process" and "below" in small.reason
    big = choose_executor(small_pixels + 2, 101, cores=16)
    assert (big.kind, big.workers) == ("local-cluster", 16)
    assert LOCAL_CLUSTER_MIN_CORES == 3
    assert choose_executor(10**9, 101, cores=3).kind == "local-cluster"


def test_an_explicit_choice_wins_over_the_default():
    assert choose_executor(10, 101, workers=0, cores=64).kind == "in-process"
    chosen = choose_executor(10, 101, workers=3, cores=2)
    assert (chosen.kind, chosen.workers, chosen.reason) == ("local-cluster", 3,
                                                            "workers=3 given")
    assert choose_executor(10, 101, scheduler="tcp://h:8786").kind == "scheduler"
    assert choose_executor(10, 101, client=object()).kind == "client"
    assert "in this process" in choose_executor(10, 101, cores=2).describe()


@pytest.fixture(scope="module")
def small_cube():
    return simulate_cube(16, "dipole", seed=4)


def test_fit_cube_default_on_two_cores_starts_no_cluster(small_cube, monkeypatch):
    monkeypatch.setattr(executor_module, "available_cores", lambda: 2)

    def no_cluster(*args):
        raise AssertionError("a Dask cluster was started")

    monkeypatch.setattr(widefield, "_client", no_cluster)
    result = fit_cube(small_cube, progress=False)
    assert result.attrs["executor"] == "in-process"
    assert result.attrs["executor_workers"] == 0
    assert "2 cores" in result.attrs["executor_reason"]
    assert result["success"].mean() > 0.95


def test_fit_cube_default_on_a_big_machine_and_cube_asks_for_one_worker_per_core(
        small_cube, monkeypatch):
    monkeypatch.setattr(executor_module, "available_cores", lambda: 8)
    monkeypatch.setattr(executor_module, "LOCAL_CLUSTER_MIN_SAMPLES", 1000)
    asked = []

    class Stop(Exception):
        pass

    def record(workers, scheduler, client):
        asked.append((workers, scheduler, client))
        raise Stop

    monkeypatch.setattr(widefield, "_client", record)
    with pytest.raises(Stop):
        fit_cube(small_cube, progress=False)
    assert asked == [(8, None, None)]


@pytest.mark.parametrize("workers", [-1, 1.5, True])
def test_bad_workers_are_refused_before_anything_runs(small_cube, workers):
    with pytest.raises(FitInputError, match="workers"):
        fit_cube(small_cube, workers=workers, progress=False)


def test_workers_and_scheduler_together_are_refused(small_cube):
    with pytest.raises(FitInputError, match="not both"):
        fit_cube(small_cube, workers=2, scheduler="tcp://localhost:1", progress=False)


def test_cli_says_where_the_fit_ran(small_cube, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(executor_module, "available_cores", lambda: 2)
    cube = tmp_path / "cube.zarr"
    write_cube(small_cube, cube)
    out_map = tmp_path / "map.nc"
    assert main(["widefield", "fit", str(cube), "--out", str(out_map), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "ran in this process (2 cores" in text

    assert main(["widefield", "fit", str(cube), "--out", str(out_map), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["executor"] == "in-process" and summary["workers"] == 0
    assert "2 cores" in summary["executor_reason"]
    assert summary["pixels"] == 256 and summary["shape"] == [16, 16]
    assert summary["success_fraction"] > 0.95
    assert summary["field_rms_error_t"] < 20e-6
    assert summary["map"] == str(out_map)
