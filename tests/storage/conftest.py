"""Fixtures of the storage tests: small ODMR runs written the way the measurement layer does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nvsense.storage import RunWriter, odmr_schema

CHILD = Path(__file__).with_name("crash_writer.py")
FREQS = np.linspace(2.80e9, 2.94e9, 15)


def sweep(i: int) -> dict[str, object]:
    """Deterministic values of ODMR sweep ``i`` for a 15-point, 2-line, vector-field run."""
    return {
        "time": 0.5 * i,
        "counts": 1e5 + 10.0 * i + np.arange(FREQS.size),
        "line_center": [2.85e9 + 1e3 * i, 2.89e9 - 1e3 * i],
        "line_center_error": [2e4, 3e4],
        "line_width": [8e6, 8e6],
        "line_contrast": [0.02, 0.03],
        "fit_success": i % 2 == 0,
        "redchi": 1.0 + i,
        "field": [1e-3, -2e-3, 3e-4 * i],
        "field_error": [1e-6, 1e-6, 2e-6],
        "D": 2.87e9 + i,
    }


@pytest.fixture
def schema():
    return odmr_schema(FREQS, 2)


@pytest.fixture
def write_run(tmp_path, schema):
    """``write_run(n_sweeps, name="run.nc", **writer_options) -> path``: a completed run."""

    def write(n_sweeps: int = 3, name: str = "run.nc", **options) -> Path:
        path = tmp_path / name
        options.setdefault("parameters", {"power_dbm": -10.0, "dwell": 1e-3})
        options.setdefault("parameter_units", {"power_dbm": "dBm", "dwell": "s"})
        with RunWriter(path, "odmr", schema, **options) as run:
            for i in range(n_sweeps):
                run.append(**sweep(i))
            run.close("completed", results={"field_x": 1e-3, "field_x_error": 1e-6})
        return path

    return write


def start_child(data_dir: Path, n_runs: int, n_sweeps: int, seed: int) -> subprocess.Popen:
    """Start crash_writer.py; its stdout lines report what is safely written."""
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(data_dir), str(n_runs), str(n_sweeps), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def sweep_values():
    """The function giving sweep ``i``'s values (see :func:`sweep`)."""
    return sweep


class Child:
    """Runs crash_writer.py: ``start(data_dir, n_runs, n_sweeps, seed)``, and
    ``expected_sweep(i)`` for the values it writes."""

    def __init__(self) -> None:
        import importlib.util

        spec = importlib.util.spec_from_file_location("crash_writer", CHILD)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.expected_sweep = module.expected_sweep
        self.start = start_child


@pytest.fixture
def child() -> Child:
    return Child()
