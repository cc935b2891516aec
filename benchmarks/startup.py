"""Start-up time of the ``nvsense`` command, each run in a fresh process.

Targets (issue 11): ``nvsense --help`` and ``nvsense runs`` ≤ 0.3 s; ``nvsense odmr --sweeps 1``
≤ 1.5 s warm and ≤ 5 s on the first run after installing.

Prints, in seconds, the wall time (median of ``--repeat`` runs, and the fastest) and the CPU
time (user + system, median) of each; on a shared machine the CPU time is what the wall time
would be on an idle one (start-up is single-threaded), so the targets are read against both:

1. ``nvsense --help``, ``nvsense runs`` (a data folder with a few runs) and ``python -c
   pass`` (the interpreter alone, for scale);
2. ``nvsense odmr --sweeps 1`` (the default simulated bench, 8 lines found from the first
   sweeps, the PNG saved), with numba's cache in a temporary folder (``NUMBA_CACHE_DIR``):

   - *no cache*: the cache empty and no ahead-of-time kernels (``NVSENSE_AOT_DIR`` is an
     empty temporary folder), every kernel the run uses is compiled by numba (a fresh clone
     that skipped ``make install``'s precompile step, or ``pip install`` without it);
   - *install step*: ``python -m nvsense.fitting.precompile``, as ``make install`` runs it
     (numba's cache of every model, and the ahead-of-time modules of
     :mod:`nvsense.fitting.aot`, in three processes);
   - *first run after install*: the first run with the cache that step filled;
   - *warm*: later runs.

   and the same warm run with ``--no-plot``, which shows the cost of the figure, and with
   ``NVSENSE_AOT=0`` (numba's build of the kernels, as before the ahead-of-time modules: its
   set-up costs ≈ 0.6 s of CPU in every process).

   The PNG is drawn by a second process (``nvsense.measure.figures.FigureProcess``) that
   imports matplotlib on the other core while the run measures: the CPU column counts both
   processes (it includes that process's interpreter, numpy and matplotlib), while on an idle
   2-core machine the wall time is about the ``--no-plot`` run plus the drawing itself.

Run: ``.venv/bin/python benchmarks/startup.py [--repeat 5]``.  The machine's load moves these
figures; compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NVSENSE = [sys.executable, "-m", "nvsense"]
# the console script does the same with one less module lookup; use it when installed
_SCRIPT = Path(sys.executable).with_name("nvsense")
if _SCRIPT.exists():
    NVSENSE = [str(_SCRIPT)]


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the process and its children) of one run of
    ``command`` in a fresh process (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def series(command: list[str], repeat: int,
           env: dict[str, str] | None = None) -> list[tuple[float, float]]:
    return [timed(command, env) for _ in range(repeat)]


def row(name: str, runs: list[tuple[float, float]], target: str = "") -> None:
    wall = [w for w, _ in runs]
    cpu = [c for _, c in runs]
    print(f"  {name:<48} wall {statistics.median(wall):6.2f} s (fastest {min(wall):5.2f})"
          f"   CPU {statistics.median(cpu):6.2f} s   {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        cache = Path(tmp) / "numba-cache"
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "NVSENSE_DATA_DIR": str(data),
               "NVSENSE_AOT_DIR": str(Path(tmp) / "aot")}
        # as in a user's shell: Python writes the bytecode of nvsense's modules once and
        # reads it afterwards (with PYTHONDONTWRITEBYTECODE set, as in some sandboxes and CI
        # runners, every run compiles ~100 modules again: +0.3 s)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        print("nvsense start-up, each run in a fresh process")
        row("python -c pass (the interpreter)", series([sys.executable, "-c", "pass"],
                                                        args.repeat))
        row("nvsense --help", series([*NVSENSE, "--help"], args.repeat, env), "target ≤ 0.3 s")

        odmr = [*NVSENSE, "odmr", "--sweeps", "1"]
        print("nvsense odmr --sweeps 1 (default bench; numba cache in a temporary folder)")
        row("no cache: compiles what the run uses", [timed(odmr, env)])
        shutil.rmtree(cache)
        install = [sys.executable, "-m", "nvsense.fitting.precompile"]
        row("install step: python -m nvsense.fitting.precompile", [timed(install, env)])
        row("first run after install", [timed(odmr, env)], "target ≤ 5 s")
        row("warm", series(odmr, args.repeat, env), "target ≤ 1.5 s")
        row("warm, --no-plot", series([*odmr, "--no-plot"], args.repeat, env))
        jit_only = {**env, "NVSENSE_AOT": "0"}
        row("warm, numba's build only (NVSENSE_AOT=0)", series(odmr, args.repeat, jit_only))

        runs = [*NVSENSE, "runs"]
        print(f"nvsense runs ({len(list(data.rglob('*.nc')))} runs in the catalogue)")
        row("nvsense runs", series(runs, args.repeat, env), "target ≤ 0.3 s")
        row("nvsense runs --json", series([*runs, "--json"], args.repeat, env))


if __name__ == "__main__":
    main()
