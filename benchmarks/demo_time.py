"""Wall time of ``make demo`` (``nvsense odmr`` on the built-in simulated bench) with the
default sweep (2.80-2.94 GHz, 801 points: 5.7 points per 1 MHz line) against the former 281
points (2 per line): each in a fresh process (what the user waits for, start-up included), and
the measurement alone in this process (20 sweeps: sweeping, fitting, writing); medians of a few
runs, and what each run reports (field error, D error), to show what the finer sampling buys.

Run: ``.venv/bin/python benchmarks/demo_time.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from nvsense.instruments import load_bench
from nvsense.measure import run_odmr


def one_run(extra: list[str], data_dir: str) -> tuple[float, dict]:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nvsense", "odmr", "--no-plot", "--json",
                           "--data-dir", data_dir, *extra], capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"nvsense odmr {' '.join(extra)} failed: {done.stderr}")
    return elapsed, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        one_run([], data_dir)  # warm numba's cache: make demo runs warm after the first time
        with load_bench() as bench:
            run_odmr(bench, {"sweeps": 2}, data_dir=data_dir)  # compile in this process
        for label, extra in (("default (801 points)", []),
                             ("former default (281 points)", ["--points", "281", "--start",
                                                              "2.80GHz", "--stop", "2.94GHz"])):
            times, summaries = zip(*(one_run(extra, data_dir) for _ in range(args.repeat)),
                                   strict=True)
            error = statistics.median(max(s["field_errors_t"]) for s in summaries)
            d_error = statistics.median(s["d_error_hz"] for s in summaries)
            inside = []
            for _ in range(args.repeat):
                points = 801 if not extra else 281
                t = time.perf_counter()
                with load_bench() as bench:
                    run_odmr(bench, {"ranges": [f"2.80GHz:2.94GHz:{points}"]},
                             data_dir=data_dir)
                inside.append(time.perf_counter() - t)
            print(f"{label:28s} command {statistics.median(times):5.2f} s, measurement "
                  f"{statistics.median(inside):4.2f} s (medians of {args.repeat})  field error "
                  f"{error * 1e9:6.1f} nT  D error {d_error / 1e3:5.2f} kHz")


if __name__ == "__main__":
    main()
