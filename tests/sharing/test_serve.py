"""``nvsense serve``: Tiled's real client lists the runs and reads one as an xarray Dataset;
runs still being written are served as they grow; nothing outside the data folder, no
writes; an API key when one is set; nvsense's run pages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx
import numpy as np
import pytest
import xarray as xr
from tiled.client import from_uri

from nvsense.serve.app import is_local, plan_server
from nvsense.storage import Catalog, open_run, tracking_schema

from .conftest import make_runs
from .server import free_port, running_server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    runs = make_runs(tmp_path_factory.mktemp("served") / "nvsense-data")
    with running_server(runs.data_dir) as plan:
        yield runs, plan


def test_client_lists_runs_and_reads_one_as_xarray(served):
    runs, plan = served
    client = from_uri(plan.url)
    assert list(client) == sorted(runs.ids().values())
    for path in (runs.odmr, runs.track):
        node = client[path.stem]
        ds = node.read()
        source = open_run(path)
        assert isinstance(ds, xr.Dataset)
        assert set(ds.variables) == set(source.variables)
        for name, var in source.variables.items():
            assert ds[name].dims == var.dims
            if var.dtype.kind == "O":
                assert ds[name].values.tolist() == var.values.tolist()
            else:
                np.testing.assert_array_equal(ds[name].values, var.values)
                assert ds[name].dtype == var.dtype
            assert ds[name].attrs == var.attrs
        assert set(ds.coords) == set(source.coords)
        assert ds.attrs["run_id"] == path.stem
        assert ds.attrs["parameters"] == source.attrs["parameters"]
        meta = node.metadata["nvsense"]
        assert meta["kind"] == source.attrs["kind"]
        assert meta["state"] == "completed"
        assert meta["results"] == pytest.approx(dict(node.metadata["nvsense"]["results"]))
    assert client[runs.odmr.stem].metadata["nvsense"]["results"]["field_x"] == 4e-4
    assert client[runs.odmr.stem].metadata["nvsense"]["parameter_units"]["power_dbm"] == "dBm"


def test_a_run_being_written_is_served_as_it_grows(tmp_path):
    data_dir = tmp_path / "nvsense-data"
    data_dir.mkdir()
    catalog = Catalog(data_dir)
    with running_server(data_dir) as plan:
        client = from_uri(plan.url)
        assert list(client) == []
        writer = catalog.new_run("track", tracking_schema(1, field="parallel"))
        try:
            writer.append(time=0.0, field_parallel=1e-6, D=2.87e9, frequency_locked=[2.8e9],
                          error_signal=[0.0], locked=True)
            client = from_uri(plan.url)
            assert list(client) == [writer.run_id]
            node = client[writer.run_id]
            assert node.metadata["nvsense"]["status"] == "running"
            assert node.read().sizes["time"] == 1
            writer.append(time=0.001, field_parallel=2e-6, D=2.87e9,
                          frequency_locked=[2.8e9], error_signal=[0.0], locked=True)
            again = from_uri(plan.url)[writer.run_id].read()
            np.testing.assert_array_equal(again.field_parallel.values, [1e-6, 2e-6])
        finally:
            writer.close("completed")
        assert from_uri(plan.url)[writer.run_id].metadata["nvsense"]["status"] == "completed"


def test_no_writes_and_nothing_outside_the_data_folder(served, tmp_path):
    runs, plan = served
    client = from_uri(plan.url)
    with pytest.raises(Exception):  # noqa: B017 - whatever Tiled raises, nothing is written
        client.write_array(np.arange(3), key="intruder")
    assert "intruder" not in list(from_uri(plan.url))
    # a catalogue row pointing outside the folder is not served
    outside = tmp_path / "elsewhere" / "2026-11-28"
    outside.mkdir(parents=True)
    copy = outside / "20261128-150000-odmr-beef.nc"
    shutil.copy(runs.odmr, copy)
    # a copy with another run id, indexed into the served catalogue from outside the folder
    import h5py

    with h5py.File(copy, "r+") as f:
        f.attrs["run_id"] = np.bytes_(b"20261128-150000-odmr-beef")
    Catalog(runs.data_dir).index_file(copy)
    try:
        assert "20261128-150000-odmr-beef" not in list(from_uri(plan.url))
        response = httpx.get(f"{plan.url}/api/v1/metadata/20261128-150000-odmr-beef")
        assert response.status_code == 404
        # nor any path of the machine
        for path in ("/api/v1/metadata/..%2F..%2Fetc%2Fpasswd", "/runs/..%2Fcatalog.sqlite"):
            assert httpx.get(plan.url + path).status_code == 404
    finally:
        import sqlite3

        with sqlite3.connect(runs.data_dir / "catalog.sqlite") as db:
            db.execute("DELETE FROM runs WHERE id = ?", ("20261128-150000-odmr-beef",))


def test_api_key_required_when_set(tmp_path):
    runs = make_runs(tmp_path / "nvsense-data")
    with running_server(runs.data_dir, api_key="secretkey123") as plan:
        with pytest.raises(Exception, match=r"401|[Uu]nauthori|credentials|API key"):
            list(from_uri(plan.url))
        assert httpx.get(f"{plan.url}/runs").status_code == 401
        client = from_uri(plan.url, api_key="secretkey123")
        assert runs.odmr.stem in list(client)
        assert client[runs.track.stem].read().sizes["time"] == 400
        assert httpx.get(f"{plan.url}/runs?api_key=secretkey123").status_code == 200
        assert httpx.get(f"{plan.url}/runs?api_key=wrongkey1").status_code == 401


def test_network_address_gets_a_key_localhost_does_not(tmp_path):
    assert is_local("127.0.0.1") and is_local("localhost") and is_local("::1")
    assert not is_local("0.0.0.0") and not is_local("192.0.2.7")
    local = plan_server(tmp_path, host="127.0.0.1")
    assert local.api_key is None
    exposed = plan_server(tmp_path, host="0.0.0.0")
    assert exposed.api_key and len(exposed.api_key) >= 32
    assert exposed.api_key in exposed.banner(3)
    assert "read-only" in exposed.banner(3)
    with pytest.raises(FileNotFoundError, match="no such data folder"):
        plan_server(tmp_path / "missing")
    with pytest.raises(ValueError, match="--api-key"):
        plan_server(tmp_path, api_key="short")


def test_run_pages(served):
    runs, plan = served
    listing = httpx.get(f"{plan.url}/runs")
    assert listing.status_code == 200
    for run_id in runs.ids().values():
        assert f"/runs/{run_id}" in listing.text
    page = httpx.get(f"{plan.url}/runs/{runs.odmr.stem}")
    assert page.status_code == 200
    assert "completed" in page.text and "<svg" in page.text and "dBm" in page.text
    assert httpx.get(f"{plan.url}/runs/20990101-000000-odmr-0000").status_code == 404


def test_cli_serve_says_what_it_serves_and_serves(shared_runs):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "nvsense", "serve",
                             str(shared_runs.data_dir), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert "4 run(s)" in first and "read-only" in first
        assert "no file outside the data folder" in first
        banner = "".join(proc.stdout.readline() for _ in range(3))
        assert f"http://127.0.0.1:{port}" in banner
        assert "no API key needed" in banner
        for _ in range(200):
            try:
                client = from_uri(f"http://127.0.0.1:{port}")
                break
            except Exception:
                import time

                time.sleep(0.05)
        assert shared_runs.track.stem in list(client)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
