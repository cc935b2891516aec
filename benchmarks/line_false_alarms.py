"""False-alarm rate of the line detector on line-free shot noise (issue 11).

The detector is the one behind ``nvsense.measure.analysis.count_dips`` (the ODMR run's line
count) and ``fit_spectrum``'s automatic line count: ``nvsense.fitting.lines_present``.  Its
specification: at most 1 false line in 10,000 line-free sweeps at the defaults.

For each case (counts per point × points per sweep) the script draws ``--sweeps`` line-free
Poisson sweeps, counts the sweeps in which the detector reports a line, and prints the rate
with its 95 % upper confidence bound.  It then passes ``--check`` of the sweeps of the
default case through ``count_dips`` itself, to show that it decides as ``lines_present``.
Usage::

    python benchmarks/line_false_alarms.py [--sweeps 100000] [--check 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import chi2

from nvsense.fitting import NoDipFoundError, detection_threshold, lines_present
from nvsense.measure.analysis import count_dips

#: counts per point (3 to 10⁴: a single NV at short dwell to an ensemble), points per sweep
#: (the default ODMR sweep has 281)
RATES = (3.0, 30.0, 300.0, 1e4)
POINTS = (51, 101, 281, 1001)
DEFAULT = (300.0, 281)
SPEC = 1e-4


def upper_bound(k: int, n: int) -> float:
    """95 % upper confidence bound of a rate from k events in n trials (Poisson)."""
    return 0.5 * chi2.ppf(0.95, 2 * (k + 1)) / n


def run(sweeps: int, seed: int) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    total_false = total = 0
    print(f"{'counts/point':>12} {'points':>6} {'threshold':>9} {'sweeps':>8} {'false':>6} "
          f"{'rate':>9} {'95% bound':>9}")
    for lam in RATES:
        for n in POINTS:
            m = max(1, int(sweeps * min(1.0, 281 / n)))  # long sweeps: fewer (same points)
            false = 0
            for start in range(0, m, 10_000):
                block = rng.poisson(lam, size=(min(10_000, m - start), n)).astype(float)
                false += int(np.count_nonzero(lines_present(block)))
            total_false += false
            total += m
            print(f"{lam:12g} {n:6d} {detection_threshold(n):9.2f} {m:8d} {false:6d} "
                  f"{false / m:9.1e} {upper_bound(false, m):9.1e}")
    return total_false, total


def check_count_dips(n_check: int, seed: int) -> None:
    lam, n = DEFAULT
    rng = np.random.default_rng(seed + 1)
    f = np.linspace(2.8e9, 2.94e9, n)
    Y = rng.poisson(lam, size=(n_check, n)).astype(float)
    present = lines_present(Y)
    t0 = time.perf_counter()
    found = np.zeros(n_check, dtype=bool)
    for i in range(n_check):
        try:
            found[i] = count_dips(f, Y[i]) > 0
        except NoDipFoundError:
            found[i] = False
    dt = time.perf_counter() - t0
    agree = int(np.count_nonzero(found == present))
    print(f"\ncount_dips on {n_check} line-free sweeps of the default case ({lam:g} counts, {n} "
          f"points): {int(found.sum())} false line(s); agrees with lines_present on "
          f"{agree}/{n_check}; {dt / n_check * 1e3:.2f} ms per sweep")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sweeps", type=int, default=100_000)
    ap.add_argument("--check", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    false, total = run(args.sweeps, args.seed)
    bound = upper_bound(false, total)
    print(f"\nall cases: {false} false line(s) in {total} line-free sweeps: rate "
          f"{false / total:.1e}, 95 % upper bound {bound:.1e} (specification: at most "
          f"{SPEC:.0e}) -> {'meets' if bound <= SPEC else 'DOES NOT MEET'} it "
          f"[{time.perf_counter() - t0:.0f} s]")
    if args.check:
        check_count_dips(args.check, args.seed)


if __name__ == "__main__":
    main()
