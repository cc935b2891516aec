"""Widefield cube fit: speed on one process and on a Dask LocalCluster, and accuracy vs truth.

A simulated 256 × 256 × 101 cube (dipole field map, the ``nvsense widefield simulate``
defaults) is fitted with two Lorentzians per pixel:

1. in this process (``workers=0``): numba uses every core; and pinned to one thread;
2. on a 2-worker ``LocalCluster`` (one thread each), started and warmed up beforehand so the
   figure is the fit, not the start-up (start-up is printed separately);
3. a ``scipy.optimize.curve_fit`` loop on a random sample of pixels, from the same seed;
4. the default's crossover: cubes of several sizes fitted in one process and on a freshly
   started 2-worker cluster (start-up included, as ``nvsense widefield fit`` pays it), next to
   what :func:`nvsense.analysis.choose_executor` picks for them on this machine.

Pixels/s are printed with their ratio to the curve_fit loop, and the field map's RMS error
against the cube's true B∥, with the median reported error bar for comparison.  Times are the
best of ``--repeat`` runs (the machine may be shared).  Usage::

    python benchmarks/widefield_fit.py [--size 256] [--points 101] [--sample 300] [--repeat 2]
        [--crossover 64,128,256]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numba
import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from nvsense.analysis import choose_executor, field_rms_error, fit_cube, simulate_cube
from nvsense.analysis.widefield_executor import available_cores
from nvsense.physics import axial_field


def two_lorentzians(f, base, c1, w1, a1, c2, w2, a2):
    return base * (1.0 - a1 / (1.0 + 4.0 * ((f - c1) / w1) ** 2)
                   - a2 / (1.0 + 4.0 * ((f - c2) / w2) ** 2))


def best_time(run, repeat):
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def curve_fit_sample(cube, seed_map, n, rng):
    """curve_fit every sampled pixel from the image-average seed; pixels/s and B∥ errors."""
    f = cube["frequency"].values
    pl = cube["pl"].values
    ny, nx = pl.shape[:2]
    pick = rng.choice(ny * nx, size=n, replace=False)
    centers = np.asarray(seed_map.attrs["seed_centers_hz"])
    widths = np.asarray(seed_map.attrs["seed_widths_hz"])
    errors = []
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        for k in pick:
            y = pl.flat[k * f.size:(k + 1) * f.size].astype(float)
            p0 = [np.percentile(y, 90), centers[0], widths[0], 0.03,
                  centers[1], widths[1], 0.03]
            try:
                p, _ = curve_fit(two_lorentzians, f, y, p0=p0, sigma=np.sqrt(np.maximum(y, 1)))
            except RuntimeError:  # no convergence: counts as a failed pixel
                continue
            b, _ = axial_field(p[1], p[4])
            errors.append(b - cube["true_field_parallel"].values.flat[k])
    elapsed = time.perf_counter() - start
    return n / elapsed, np.sqrt(np.mean(np.square(errors))), len(errors) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--points", type=int, default=101)
    parser.add_argument("--sample", type=int, default=300, help="pixels for curve_fit")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--crossover", default="64,128,256",
                        help="cube sizes for the in-process / cluster crossover ('' to skip)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    start = time.perf_counter()
    cube = simulate_cube(args.size, "dipole", points=args.points, seed=1)
    n_pix = args.size**2
    print(f"cube {args.size}×{args.size}×{args.points} (dipole map) simulated in "
          f"{time.perf_counter() - start:.1f} s; {os.cpu_count()} cores")

    fit_cube(simulate_cube(8, "dipole", points=args.points, seed=2), workers=0,
             progress=False)  # load the compiled kernels
    t_all, result = best_time(lambda: fit_cube(cube, workers=0, progress=False), args.repeat)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        t_one, _ = best_time(lambda: fit_cube(cube, workers=0, progress=False), args.repeat)
    finally:
        numba.set_num_threads(threads)

    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        small = simulate_cube(8, "dipole", points=args.points, seed=3)
        fit_cube(small, client=client, progress=False, rows_per_task=4)  # warm both workers
        t_start = time.perf_counter() - start
        t_dask, dask_result = best_time(
            lambda: fit_cube(cube, client=client, progress=False), args.repeat)
    same = np.allclose(dask_result["center"].values, result["center"].values, atol=1.0,
                       equal_nan=True)

    cf_rate, cf_rms, cf_ok = curve_fit_sample(cube, result, args.sample, rng)

    rates = {
        f"fit_cube, 1 process ({threads} numba threads)": n_pix / t_all,
        "fit_cube, 1 process, 1 thread": n_pix / t_one,
        "fit_cube, LocalCluster 2 workers × 1 thread": n_pix / t_dask,
        f"curve_fit loop ({args.sample} pixels)": cf_rate,
    }
    print(f"\n{'method':48s} {'pixels/s':>10s} {'× curve_fit':>12s}")
    for name, rate in rates.items():
        print(f"{name:48s} {rate:10.0f} {rate / cf_rate:12.1f}")
    print(f"LocalCluster start-up and warm-up: {t_start:.1f} s (not in the figure above); "
          f"same centers as in-process: {same}")

    ok = result["success"].values
    print(f"\nfield map: {ok.mean():.2%} of pixels succeeded "
          f"({int(result['reseeded'].sum())} re-seeded); RMS error vs true B∥ "
          f"{field_rms_error(result, cube) * 1e6:.2f} µT; median reported σ "
          f"{np.median(result['field_parallel_error'].values[ok]) * 1e6:.2f} µT; true B∥ spans "
          f"{np.ptp(cube['true_field_parallel'].values) * 1e6:.0f} µT")
    print(f"curve_fit sample: {cf_ok:.1%} converged, RMS error vs true B∥ {cf_rms * 1e6:.2f} µT")

    sizes = [int(v) for v in args.crossover.split(",") if v.strip()]
    if sizes:
        crossover(sizes, args.points)


def crossover(sizes, points):
    """One process against a 2-worker cluster started for the fit, as a user meets them."""
    print(f"\n{'cube':>16s} {'1 process':>10s} {'cluster (incl. start)':>22s} "
          f"{'default here':>14s}  ({available_cores()} cores)")
    for size in sizes:
        cube = simulate_cube(size, "dipole", points=points, seed=5)
        start = time.perf_counter()
        fit_cube(cube, workers=0, progress=False)
        t_one = time.perf_counter() - start
        start = time.perf_counter()
        fit_cube(cube, workers=2, progress=False)
        t_cluster = time.perf_counter() - start
        chosen = choose_executor(size * size, points)
        print(f"{size:>7d}²×{points:<4d}   {t_one:9.2f}s {t_cluster:21.2f}s {chosen.kind:>14s}")


if __name__ == "__main__":  # the LocalCluster's worker processes re-import this module
    main()
