"""``python -m nvsense.fitting.precompile``: compile the fitting kernels into numba's on-disk
cache ahead of time (``make install`` runs it), so that the first fit after installing loads
them instead of waiting for the compiler (see :mod:`nvsense.fitting.jit`).

The line models share one set of kernels and the Hamiltonian model has its own: the two
groups compile in two processes at once, and a third builds the ahead-of-time module of the
entry kernels (:mod:`nvsense.fitting.aot`), which short fits use without loading numba.  A
failure of that build (no C compiler, say) is reported and does not fail the step: the fits
then use numba's build.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from .jit import MODELS, precompile

__all__ = ["main"]

#: Models whose kernels are compiled in one process (they share them).
GROUPS = (("lorentzian", "gaussian", "14n", "15n"), ("hamiltonian",))


def main(argv: list[str] | None = None) -> int:
    """Compile the kernels of the models named (default: all); returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m nvsense.fitting.precompile",
        description="Compile nvsense's fitting kernels into numba's on-disk cache, so that "
                    "the first fit after installing does not wait for the compiler.")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                        help="models whose kernels to compile (default: all)")
    parser.add_argument("--serial", action="store_true",
                        help="compile in this process only, one model after the other")
    parser.add_argument("--no-aot", action="store_true",
                        help="do not build the ahead-of-time module (python -m "
                             "nvsense.fitting.aot)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    groups = [[m for m in group if m in args.models] for group in GROUPS]
    groups = [g for g in groups if g]
    if args.serial or (len(groups) == 1 and args.no_aot):
        for model, seconds in precompile(args.models).items():
            print(f"{model}: {seconds:.1f} s", flush=True)
        return 0

    def run(group: list[str]) -> int:
        command = [sys.executable, "-m", "nvsense.fitting.precompile", "--serial",
                   "--models", *group]
        return subprocess.run(command).returncode

    def build_aot() -> int:
        subprocess.run([sys.executable, "-m", "nvsense.fitting.aot"])
        return 0  # without it the fits use numba's build: not a failure of this step

    jobs = [partial(run, group) for group in groups]
    if not args.no_aot:
        jobs.append(build_aot)
    with ThreadPoolExecutor(len(jobs)) as pool:
        codes = list(pool.map(lambda job: job(), jobs))
    print(f"fitting kernels compiled (or found in the cache) in {time.perf_counter() - t0:.1f} s",
          flush=True)
    return max(codes)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
