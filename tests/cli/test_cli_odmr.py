"""``nvsense odmr``: output, exit codes, and what survives faults, Ctrl-C and ``kill -9``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from nvsense.cli import main
from nvsense.instruments.config import builtin_bench_path
from nvsense.storage import Catalog, open_run

SMALL = ["--range", "2.805GHz:2.84GHz:71", "--lines", "2"]  # two lines, fast sweeps


def write_bench(tmp_path: Path, **sample: object) -> Path:
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["sample"].update(sample)
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(*args: str) -> int:
    return main(["odmr", *args])


def test_default_run_prints_progress_table_and_saves_plot(tmp_path, capsys):
    code = run_cli("--sweeps", "3", "--data-dir", str(tmp_path))
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("sweep ") >= 3 and "sweep 3/3" in out
    assert "Bx" in out and "|B|" in out and "D " in out
    files = list(tmp_path.rglob("*.nc"))
    assert len(files) == 1 and files[0].with_suffix(".png").stat().st_size > 10_000
    assert f"file: {files[0]}" in out


def test_json_output_has_the_documented_keys(tmp_path, capsys):
    code = run_cli("--sweeps", "2", "--data-dir", str(tmp_path), "--json")
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("run_id", "file", "status", "lines_hz", "line_errors_hz", "field_t",
                "field_errors_t", "d_hz"):
        assert key in summary
    assert summary["status"] == "completed" and len(summary["lines_hz"]) == 8
    assert len(summary["field_t"]) == 3
    assert np.linalg.norm(summary["field_t"]) == pytest.approx(2.2316e-3, rel=1e-3)
    assert Catalog(tmp_path).get(summary["run_id"])["status"] == "completed"


def test_two_lines_report_b_parallel(tmp_path, capsys):
    code = run_cli(*SMALL, "--sweeps", "2", "--data-dir", str(tmp_path), "--json")
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["field_kind"] == "parallel"
    assert isinstance(summary["field_t"], float)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--power", "5dBm"], "max_mw_power"),
        (["--start", "2.0GHz", "--stop", "2.9GHz", "--points", "11"], "2.5 GHz"),
        (["--start", "2.8GHz"], "--start, --stop and --points go together"),
        (["--dwell", "1 Mhz"], "dwell"),
        (["--laser-power", "2 W"], "laser power 2 W is above"),
        (["--bench", "no/such/bench.yaml"], "bench.yaml"),
    ],
)
def test_bad_input_exits_2_before_anything_is_sent(tmp_path, capsys, args, message):
    code = run_cli(*args, "--data-dir", str(tmp_path))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert not list(tmp_path.rglob("*.nc"))  # nothing was measured


def test_bench_file_typo_exits_2_naming_the_key(tmp_path, capsys):
    bench = write_bench(tmp_path, linewidht="1 MHz")
    code = run_cli("--bench", str(bench), "--data-dir", str(tmp_path))
    assert code == 2
    assert "linewidht" in capsys.readouterr().err


def test_counter_timeout_exits_1_with_two_sweeps_kept(tmp_path, capsys):
    bench = write_bench(tmp_path, faults={"counter_timeout_at_sweep": 3})
    code = run_cli("--bench", str(bench), "--sweeps", "10", "--data-dir", str(tmp_path),
                   "--json")
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 1
    assert "counter" in captured.err and "timed out" in captured.err
    assert summary["status"] == "aborted" and summary["sweeps"] == 2
    ds = open_run(summary["file"])
    assert ds.sizes["sweep"] == 2 and ds.attrs["status"] == "aborted"
    assert "rf off" in ds.attrs["safe_state_report"].lower()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for_sweeps(data_dir: Path, count: int, timeout: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list(data_dir.rglob("*.nc"))
        if files:
            try:
                if open_run(files[0]).sizes["sweep"] >= count:
                    return files[0]
            except Exception:
                pass
        time.sleep(0.1)
    raise AssertionError(f"no run file with {count} sweeps in {data_dir}")


@pytest.mark.filterwarnings("ignore::nvsense.storage.RunNotClosedWarning")
def test_ctrl_c_keeps_completed_sweeps_and_exits_130(tmp_path):
    data = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-m", "nvsense", "odmr", *SMALL, "--sweeps", "1000000",
         "--data-dir", str(data), "--json", "--no-plot"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env())
    try:
        path = _wait_for_sweeps(data, 2)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "aborted" and summary["reason"] == "stopped by user"
    ds = open_run(path)
    assert ds.attrs["status"] == "aborted" and ds.attrs["abort_reason"] == "stopped by user"
    assert ds.sizes["sweep"] == summary["sweeps"] >= 2


@pytest.mark.filterwarnings("ignore::nvsense.storage.RunNotClosedWarning")
def test_kill_9_at_random_moments_keeps_every_completed_sweep(tmp_path):
    rng = random.Random(5)
    trials = []
    for k in range(3):
        data = tmp_path / f"data{k}"
        child = subprocess.Popen(
            [sys.executable, "-u", "-m", "nvsense", "odmr", *SMALL, "--sweeps", "1000000",
             "--data-dir", str(data), "--no-plot"],
            stdout=subprocess.PIPE, stderr=(tmp_path / f"stderr{k}").open("w"), text=True,
            env=_child_env())
        trials.append((child, data))
    for k, (child, data) in enumerate(trials):
        try:  # a generous wait: three children and the other test worker share two cores
            _wait_for_sweeps(data, 1, timeout=180.0)
        except AssertionError as exc:
            for other, _ in trials:
                other.kill()
            stderr = (tmp_path / f"stderr{k}").read_text()
            raise AssertionError(f"{exc}; the child's exit code {child.poll()}, its stderr:\n"
                                 f"{stderr}") from None
        time.sleep(rng.uniform(0.0, 1.5))
        child.send_signal(signal.SIGKILL)
    for child, data in trials:
        out, _ = child.communicate(timeout=30)
        # a progress line is printed after its sweep was written and flushed
        printed = sum(1 for line in out.splitlines() if line.startswith("sweep "))
        (path,) = data.rglob("*.nc")
        ds = open_run(path)
        assert ds.sizes["sweep"] >= printed >= 1
        assert np.all(np.isfinite(ds["counts"].values))  # every kept sweep is complete
        assert ds.attrs["status"] == "running"  # the run never closed
