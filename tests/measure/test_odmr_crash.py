"""kill -9 during ``nvsense odmr`` without ``--lines``: every sweep the run reported is in the
file that ``nvsense.open_run`` opens, from the first sweep on.

The run writes each sweep raw while it still looks for the number of lines, then adds the fits
of those sweeps (the file is replaced atomically) and writes the later sweeps with their fits.
The child runs on a simulated bench paced in real time, with lines weak enough that finding
them takes several sweeps, and prints a progress line after each sweep is in the file; the
parent kills it (SIGKILL, as a power cut would) at seeded random moments, from 0.5 s after
the start (often still importing) to well after the fits were added.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from nvsense.instruments.config import builtin_bench_path
from nvsense.storage import RunNotClosedWarning, open_run, run_metadata

pytestmark = [pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL"), pytest.mark.slow]

#: (seed, anchor): "start" kills a seeded moment 0.5-3 s after the process started (often
#: before the run began); "first" a seeded moment up to 0.6 s after the child reported its
#: first sweep (while the lines are being found, or while their fits are added); "fitted" up
#: to 0.6 s after the first sweep reported with fits.  Anchoring on the reports keeps the
#: phases covered however long the start-up (or a cold numba cache) takes.
TRIALS = [(1, "start"), (2, "first"), (3, "first"), (4, "first"), (5, "fitted"), (6, "fitted")]
SWEEP = re.compile(r"^sweep (\d+)/\d+\s+t =\s*([0-9.]+) s")


def _bench(tmp_path: Path) -> Path:
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    # weak lines: the running average shows its dips only after a few sweeps
    config["sample"].update({"contrast": 0.01, "count_rate": "2e7 /s", "seed": 5,
                             "pace": "realtime"})
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run_and_kill(bench: Path, data_dir: Path, seed: int, anchor: str, out: dict) -> None:
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nvsense", "odmr", "--bench", str(bench), "--sweeps", "40",
         "--dwell", "0.5ms", "--no-plot", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    if anchor == "start":
        deadline = started + rng.uniform(0.5, 3.0)
    else:
        for line in proc.stdout:
            lines.append(line)
            if SWEEP.match(line) and (anchor == "first" or "finding the lines" not in line):
                break
        deadline = time.monotonic() + rng.uniform(0.0, 0.6)
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    time.sleep(max(0.0, deadline - time.monotonic()))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    out.update(lines=lines, code=proc.returncode, stderr=proc.stderr.read())
    proc.stdout.close()
    proc.stderr.close()


def test_kill_9_keeps_every_reported_sweep_from_the_first(tmp_path):
    bench = _bench(tmp_path)
    results: dict[int, dict] = {seed: {} for seed, _ in TRIALS}
    threads = [threading.Thread(target=_run_and_kill,
                                args=(bench, tmp_path / f"data{seed}", seed, anchor,
                                      results[seed]))
               for seed, anchor in TRIALS]
    for i in range(0, len(threads), 3):  # three at a time: they mostly wait on the pacing
        for thread in threads[i:i + 3]:
            thread.start()
        for thread in threads[i:i + 3]:
            thread.join(timeout=120)
    phases = set()
    for seed, _anchor in TRIALS:
        result = results[seed]
        assert result["code"] == -signal.SIGKILL, (seed, result.get("stderr"))
        reported = [(int(m[1]), float(m[2])) for m in map(SWEEP.match, result["lines"]) if m]
        pending = sum("finding the lines" in line for line in result["lines"])
        files = sorted((tmp_path / f"data{seed}").rglob("*.nc"))
        files = [f for f in files if not any(p.startswith(".") for p in f.parts)]
        if not reported:
            phases.add("before the first sweep")
            assert len(files) <= 1  # killed before or after creating the file: both fine
            if files:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RunNotClosedWarning)
                    assert open_run(files[0]).sizes["sweep"] <= 1
            continue
        assert len(files) == 1, (seed, files)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunNotClosedWarning)
            ds = open_run(files[0])
        n = ds.sizes["sweep"]
        # every reported sweep is in the file (one more may have finished unreported)
        assert len(reported) <= n <= len(reported) + 1, (seed, len(reported), n)
        for index, elapsed in reported:
            assert ds["time"].values[index - 1] == pytest.approx(elapsed, abs=0.006)
        assert np.all(np.isfinite(ds["counts"].values)) and np.all(ds["counts"].values > 0)
        assert run_metadata(ds).state == "interrupted"
        if "line" in ds.sizes:
            # the fits were added: they cover every sweep, the early ones too
            phases.add("after the fits were added")
            assert ds["avg_line_center"].shape == (n, ds.sizes["line"])
            assert ds["avg_fit_success"].shape == (n,)
            assert ds.attrs["param_n_lines"] == ds.sizes["line"]
        else:
            phases.add("while finding the lines")
            assert pending >= len(reported) - 1
    # the seeded moments must cut runs short in both phases, else this tests too little
    assert {"while finding the lines", "after the fits were added"} <= phases, phases
