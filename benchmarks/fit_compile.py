"""Cold-start (JIT compile) and warm-start time of nvsense.fitting.fit_batch, per model.

Each measurement runs in a fresh Python process: the time of the first ``fit_batch`` call of a
model (compiling, or loading from numba's cache, every kernel it needs) and of a second call
(pure fitting).  "cold" points ``NUMBA_CACHE_DIR`` at an empty directory, as on a fresh clone
in CI; "warm" runs again with the cache the cold run filled, as every later process does.
The import time of ``nvsense.fitting`` is reported separately.  Usage::

    python benchmarks/fit_compile.py [--models lorentzian,hamiltonian] [--module nvsense.fitting]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

MODELS = {
    "lorentzian": ("lorentzian", 1, 101),
    "lorentzian x8": ("lorentzian", 8, 201),
    "gaussian": ("gaussian", 1, 101),
    "14n": ("14n", 1, 101),
    "15n": ("15n", 1, 101),
    "hamiltonian": ("hamiltonian", None, 201),
}

CHILD = r"""
import importlib, json, sys, time
import numpy as np
sys.path[:0] = {path!r}
t0 = time.perf_counter()
fitting = importlib.import_module({module!r})
t_import = time.perf_counter() - t0
model, n_lines, n_pts = {spec!r}
rng = np.random.default_rng(0)
if model == "hamiltonian":
    f = np.linspace(2.70e9, 3.05e9, n_pts)
    clean = fitting.hamiltonian_spectrum(f, np.array([1e-3, 3e-3, 6e-3]), 8e6,
                                         [0.015, 0.012, 0.018, 0.014], offset=1e5)
    kw = {{"guess": {{"field": [1e-3, 3e-3, 6e-3]}}}}
else:
    f = np.linspace(2.82e9, 2.92e9, n_pts)
    cs = np.linspace(2.835e9, 2.905e9, n_lines)
    w = 1e6 if model in ("14n", "15n") else 7e6
    clean = 1e5 * (1 - sum(0.03 / (1 + 4 * ((f - c) / w) ** 2) for c in cs))
    kw = {{}}
Y = rng.poisson(np.tile(clean, (100, 1))).astype(float)
t0 = time.perf_counter()
r = fitting.fit_batch(f, Y, model, n_lines, sigma="poisson", **kw)
t_first = time.perf_counter() - t0
t0 = time.perf_counter()
fitting.fit_batch(f, Y, model, n_lines, sigma="poisson", **kw)
t_second = time.perf_counter() - t0
print(json.dumps({{"import": t_import, "first": t_first, "second": t_second,
                   "success": float(r.success.mean())}}))
"""


def run_child(module: str, path: list[str], spec: tuple, cache_dir: str) -> dict[str, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    code = CHILD.format(module=module, path=path, spec=spec)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--module", default="nvsense.fitting")
    ap.add_argument("--path", action="append", default=[],
                    help="prepend to sys.path in the child (to time another copy)")
    args = ap.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    print(f"first fit_batch call (100 spectra) in a fresh process; module {args.module}; "
          f"{os.cpu_count()} CPU(s)")
    print(f"  {'model':<15s} {'cold first':>11s} {'warm first':>11s} {'2nd call':>9s} "
          f"{'import':>8s}")
    total_cold = 0.0
    with tempfile.TemporaryDirectory() as shared:
        for name in names:
            with tempfile.TemporaryDirectory() as empty:
                cold = run_child(args.module, args.path, MODELS[name], empty)
                warm = run_child(args.module, args.path, MODELS[name], empty)
            total_cold += cold["first"]
            print(f"  {name:<15s} {cold['first']:>10.2f}s {warm['first']:>10.3f}s "
                  f"{warm['second']:>8.3f}s {warm['import']:>7.2f}s")
        # every model in turn on one shared cache: what a test session compiles in total
        t0 = time.perf_counter()
        for name in names:
            run_child(args.module, args.path, MODELS[name], shared)
        t_chain = time.perf_counter() - t0
    print(f"  sum of cold first calls {total_cold:.1f} s; all models in turn on one cache "
          f"(processes included) {t_chain:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
