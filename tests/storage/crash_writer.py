"""Child process of the storage tests: writes ODMR runs through the catalogue and reports.

Usage: ``python crash_writer.py DATA_DIR N_RUNS N_SWEEPS SEED``.  For each run it prints
``created <path>``, then ``appended <i>`` after each append has returned, then ``closed``,
each line flushed at once, so that the parent knows which records were complete when it
killed this process.  Sweep ``i`` holds the values of :func:`expected_sweep`.
"""

from __future__ import annotations

import sys
import time

import numpy as np

N_FREQ = 21
N_LINES = 2


def expected_sweep(i: int) -> dict[str, object]:
    """The values the child appends as sweep ``i``."""
    return {
        "time": 0.01 * i,
        "counts": 1000.0 * i + np.arange(N_FREQ),
        "line_center": np.array([2.85e9 + i, 2.89e9 - i]),
        "fit_success": i % 3 != 0,
        "field": np.array([1e-6 * i, 0.0, -1e-6 * i]),
    }


def main(data_dir: str, n_runs: int, n_sweeps: int, seed: int) -> None:
    from nvsense.storage import Catalog, odmr_schema

    rng = np.random.default_rng(seed)
    catalog = Catalog(data_dir)
    schema = odmr_schema(np.linspace(2.8e9, 2.9e9, N_FREQ), N_LINES)
    for run in range(n_runs):
        writer = catalog.new_run(
            "odmr",
            schema,
            parameters={"seed": seed, "run": run},
            campaign=f"child{seed}",
            campaign_point=run,
        )
        print("created", writer.path, flush=True)
        for i in range(n_sweeps):
            writer.append(**expected_sweep(i))
            print(f"appended {i}", flush=True)
            time.sleep(rng.uniform(0.0005, 0.003))
        writer.close("completed", results={"D": 2.87e9, "field_z": -1e-6 * n_sweeps})
        print("closed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
