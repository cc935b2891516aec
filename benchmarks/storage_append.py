"""Append speed of the run-file writer: a 10,000-sweep ODMR run of 201 points.

Prints appends per second over the first and the last 500 sweeps, the time to create the
file, to close the run and to open it again, and the file size.  Every append writes one
sweep (counts plus the fit results of the sweep and of the running average, about 100 values)
and flushes it twice, as a real run does.

Run: ``.venv/bin/python benchmarks/storage_append.py [n_sweeps]``
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from nvsense.storage import RunWriter, odmr_schema, open_run

N_POINTS = 201
N_LINES = 8
WINDOW = 500


def sweep_values(i: int, rng: np.random.Generator) -> dict[str, object]:
    """One sweep's worth of values, shaped like the measurement layer's."""
    lines = np.linspace(2.80e9, 2.94e9, N_LINES)
    values: dict[str, object] = {
        "time": 0.05 * i,
        "counts": rng.poisson(1e5, N_POINTS).astype(float),
        "fit_success": True,
        "redchi": 1.0,
        "field": [1e-3, 2e-3, 3e-3],
        "field_error": [1e-6, 1e-6, 1e-6],
        "D": 2.87e9,
        "D_error": 1e3,
    }
    for prefix in ("", "avg_"):
        values[f"{prefix}line_center"] = lines
        values[f"{prefix}line_center_error"] = np.full(N_LINES, 1e4)
        values[f"{prefix}line_width"] = np.full(N_LINES, 8e6)
        values[f"{prefix}line_contrast"] = np.full(N_LINES, 0.02)
    return values


def main(n_sweeps: int = 10_000) -> None:
    rng = np.random.default_rng(1)
    schema = odmr_schema(np.linspace(2.8e9, 2.94e9, N_POINTS), N_LINES)
    prepared = [sweep_values(i, rng) for i in range(min(n_sweeps, 64))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.nc"
        stamps = np.empty(n_sweeps + 1)
        t_create = time.perf_counter()
        writer = RunWriter(path, "odmr", schema, parameters={"n_sweeps": n_sweeps})
        stamps[0] = time.perf_counter()
        for i in range(n_sweeps):
            writer.append(**prepared[i % len(prepared)])
            stamps[i + 1] = time.perf_counter()
        t_close = time.perf_counter()
        writer.close("completed", results={"D": 2.87e9})
        t_closed = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ds = open_run(path)
        t_opened = time.perf_counter()
        assert ds.sizes["sweep"] == n_sweeps
        window = min(WINDOW, n_sweeps)
        first = window / (stamps[window] - stamps[0])
        last = window / (stamps[-1] - stamps[-1 - window])
        size = path.stat().st_size
        print(f"sweeps: {n_sweeps} x {N_POINTS} points, {len(schema.variables)} variables")
        print(f"appends/s, first {window} sweeps: {first:8.0f}")
        print(f"appends/s, last  {window} sweeps: {last:8.0f}")
        print(f"appends/s, whole run:            {n_sweeps / (stamps[-1] - stamps[0]):8.0f}")
        print(f"create the run file:             {1e3 * (stamps[0] - t_create):8.1f} ms")
        print(f"close (final attributes):        {1e3 * (t_closed - t_close):8.1f} ms")
        print(f"open_run (load into memory):     {1e3 * (t_opened - t_closed):8.1f} ms")
        print(
            f"file size: {size / 1e6:.1f} MB "
            f"({size / (n_sweeps * N_POINTS * 8):.2f} x the raw counts)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
