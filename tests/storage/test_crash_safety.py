"""kill -9 at random moments: every run file opens and holds every completed sweep.

Each child process writes one 120-sweep ODMR run through the catalogue with millisecond
pauses and reports each completed append on its stdout; the parent kills it (SIGKILL, as a
power cut or the OOM killer would) at a random moment - during the appends or around the
close - and compares the file with the reports.  The children run concurrently, which also
exercises several processes writing one catalogue.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import warnings

import numpy as np
import pytest

from nvsense.storage import Catalog, RunNotClosedWarning, open_run, run_metadata

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")

N_SWEEPS = 120
# (seed, moment): "append" kills a random time after the run file exists, "close" kills
# within a few milliseconds of the last append, when the run is being closed.
# "live" first reads the file while the child writes it, as the GUI or a notebook would.
TRIALS = [(1, "live"), (2, "append"), (3, "append"), (4, "close"), (5, "close")]
LIVE_AFTER = 30


def _kill_at_random(proc, moment: str, seed: int, lines: list[str], live: list) -> None:
    rng = random.Random(seed)
    wanted = {"append": "created", "live": f"appended {LIVE_AFTER - 1}"}.get(
        moment, f"appended {N_SWEEPS - 1}"
    )
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(wanted):
            break
    if moment == "live":
        path = next(line.split(maxsplit=1)[1].strip() for line in lines if "created" in line)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = open_run(path)
        live.append((ds.sizes["sweep"], run_metadata(ds).state, caught))
    time.sleep(rng.uniform(0.0, 0.25) if moment == "append" else rng.uniform(0.0, 0.02))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines += proc.stdout.readlines()


def test_kill_9_keeps_every_completed_sweep(tmp_path, child):
    procs = [child.start(tmp_path, 1, N_SWEEPS, seed) for seed, _ in TRIALS]
    reports: list[list[str]] = [[] for _ in TRIALS]
    live: list = []
    threads = [
        threading.Thread(target=_kill_at_random, args=(proc, moment, seed, report, live))
        for proc, (seed, moment), report in zip(procs, TRIALS, reports)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Read while being written: the records so far, reported as running, with a warning.
    (n_live, state, caught) = live[0]
    assert n_live >= LIVE_AFTER
    # A consistent snapshot: a completed status only ever comes with every sweep.
    assert state == "running" or (state == "completed" and n_live == N_SWEEPS), (state, n_live)
    assert any(issubclass(w.category, RunNotClosedWarning) for w in caught)
    catalog = Catalog(tmp_path)
    statuses = []
    for lines, (seed, _moment) in zip(reports, TRIALS):
        created = [
            line.split(maxsplit=1)[1].strip() for line in lines if line.startswith("created")
        ]
        assert created, f"trial {seed}: killed before the run file existed: {lines}"
        done = sum(line.startswith("appended") for line in lines)
        closed = any(line.startswith("closed") for line in lines)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunNotClosedWarning)
            ds = open_run(created[0])
        n = ds.sizes["sweep"]
        # Every reported append is in the file; at most one more finished unreported.
        assert done <= n <= done + 1, f"trial {seed}: {done} reported, {n} in the file"
        for i in range(n):
            expected = child.expected_sweep(i)
            np.testing.assert_array_equal(ds.counts[i], expected["counts"])
            np.testing.assert_array_equal(ds.line_center[i], expected["line_center"])
            np.testing.assert_array_equal(ds.field[i], expected["field"])
            assert bool(ds.fit_success[i]) == expected["fit_success"]
        info = run_metadata(ds)
        assert info.status in ("running", "completed")
        if closed:
            assert info.status == "completed" and info.results["D"] == 2.87e9
        if info.status == "running":
            assert info.state == "interrupted"  # its writer is gone
        # The catalogue has the run, with the file's status (interrupted when cut short).
        row = catalog.get(info.run_id)
        assert row["status"] == info.state
        statuses.append(info.status)
    # The random moments must have cut at least one run short: else this test tests nothing.
    assert "running" in statuses, statuses
