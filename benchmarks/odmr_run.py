"""ODMR measurement speed on the simulated bench in fast mode.

Prints:
1. software overhead per sweep point (everything but the dwell: commands, counting, the
   simulated physics) for hardware-timed and software-stepped sweeps;
2. fit latency per sweep: the live analysis of one 201-point, 8-line sweep (fit + field
   vector), and of the fit alone;
3. a long run (default 10,000 sweeps of 201 points, 2 lines, every sweep fitted and written):
   sweeps/s over the first and the last 500 sweeps, and the process's memory at the start and
   the end.

Run: ``.venv/bin/python benchmarks/odmr_run.py [--sweeps N]``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from nvsense.fitting import fit_batch
from nvsense.instruments import load_bench
from nvsense.measure import SweepDone, run_odmr
from nvsense.measure.analysis import analyse_spectrum
from nvsense.measure.sweeps import make_sweeper
from nvsense.storage import Catalog


def rss_mb() -> float:
    """Resident memory now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def overhead_per_point(mode: str, sweeps: int = 20) -> float:
    """µs of CPU per point of one sweep besides the dwell (fast mode: the dwell costs
    nothing), for the sweeper the measurement uses."""
    freqs = np.linspace(2.805e9, 2.84e9, 201)
    with load_bench() as bench:
        sweeper = make_sweeper(bench.mw, bench.counter, freqs, 1e-3, -10.0, mode)
        bench.laser.on = True
        sweeper.prepare()
        bench.mw.output = True
        cost = []
        for _ in range(sweeps):
            t = time.perf_counter()
            sweeper.sweep()
            cost.append(time.perf_counter() - t)
        sweeper.finish()
    return float(np.median(cost)) / freqs.size * 1e6


def fit_latency(catalog: Catalog) -> tuple[float, float]:
    """ms per 201-point 8-line sweep: (fit only, fit + field vector), seeded like the live
    loop."""
    with load_bench() as bench:
        result = run_odmr(bench, {"sweeps": 5, "n_lines": 8,
                                  "ranges": ["2.80GHz:2.94GHz:201"]}, catalog=catalog)
        freqs = result.frequencies
        seed = result.final.fit
        with load_bench() as b2:
            sw = make_sweeper(b2.mw, b2.counter, freqs, 1e-3, -10.0, "list")
            b2.laser.on = True
            sw.prepare()
            b2.mw.output = True
            spectra = [sw.sweep() for _ in range(30)]
            sw.finish()
    fit_only, full = [], []
    for counts in spectra:
        t = time.perf_counter()
        fit_batch(freqs, counts[None], model="lorentzian", n_lines=8, sigma="poisson",
                  guess=seed.as_guess())
        fit_only.append(time.perf_counter() - t)
        t = time.perf_counter()
        analyse_spectrum(freqs, counts, model="lorentzian", n_lines=8, guess=seed,
                         field_guess=result.final.field)
        full.append(time.perf_counter() - t)
    return float(np.median(fit_only)) * 1e3, float(np.median(full)) * 1e3


def long_run(catalog: Catalog, sweeps: int) -> None:
    stamps: list[float] = []
    memory: list[float] = []

    def mark(event: object) -> None:
        if isinstance(event, SweepDone):
            stamps.append(time.perf_counter())
            if event.index % 500 == 0:
                memory.append(rss_mb())

    with load_bench() as bench:
        t0 = time.perf_counter()
        result = run_odmr(bench, {"sweeps": sweeps, "n_lines": 2,
                                  "ranges": ["2.805GHz:2.84GHz:201"]}, catalog=catalog,
                          subscribers=[mark])
        total = time.perf_counter() - t0
    window = min(500, sweeps // 4)
    first = (window - 1) / (stamps[window - 1] - stamps[0])
    last = (window - 1) / (stamps[-1] - stamps[-window])
    size = Path(result.file).stat().st_size / 1e6
    print(f"  {sweeps} sweeps in {total:.1f} s ({sweeps / total:.0f} sweeps/s overall)")
    print(f"  sweeps/s, first {window}: {first:.0f}   last {window}: {last:.0f}   "
          f"(ratio last/first {last / first:.2f})")
    samples = ", ".join(f"{m:.0f}" for m in memory[:: max(1, len(memory) // 6)])
    print(f"  memory (RSS): {memory[0]:.0f} MB after sweep 1, {memory[-1]:.0f} MB at the end "
          f"(sampled every 500 sweeps: {samples})")
    print(f"  file: {size:.1f} MB, {result.sweeps} sweeps, status {result.status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweeps", type=int, default=10_000, help="sweeps of the long run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(tmp))
        print("1. software overhead per point (1 ms dwell; simulated bench, fast mode)")
        for mode in ("list", "stepped"):
            us = overhead_per_point(mode)
            print(f"  {mode:8s}: {us:7.1f} µs per point = {us / 1000 * 100:.2f} % of the dwell")
        print("2. fit latency per sweep (201 points, 8 lines, seeded by the previous fit)")
        fit_ms, full_ms = fit_latency(catalog)
        print(f"  fit only: {fit_ms:.2f} ms   fit + field vector: {full_ms:.2f} ms "
              f"(target: fit < 5 ms)")
        print(f"3. long run: {args.sweeps} sweeps of 201 points, 2 lines fitted, every sweep "
              "written and flushed")
        long_run(catalog, args.sweeps)


if __name__ == "__main__":
    main()
