"""How the fitting kernels are compiled: numba, cached on disk, one signature per kernel.

Compilation is the dominant cost of a fresh process (CI runs on a fresh clone, with an empty
cache), so the kernels are built to compile little and once:

- every *entry* kernel (the ones Python calls) declares its one signature (float64
  C-contiguous arrays, int64 indices and flags) and is compiled for exactly that signature on
  its first call (:func:`ready`), then closed to further compilation: a call with other types
  is a bug and raises ``TypeError`` instead of silently compiling (and caching) a second copy;
- kernels are compiled lazily, per model: a Lorentzian fit never compiles the Hamiltonian
  kernel;
- no reference counting and no allocation inside kernels (see ``JIT_OPTIONS``);
- ``cache=True`` stores the machine code in ``__pycache__`` next to the sources (numba's index
  is keyed by the source file's modification time, so an edited file recompiles);
- no ``parallel=True`` (its parfor pass and gufunc wrapper more than doubled the compile time):
  the kernels release the GIL and :mod:`nvsense.fitting.parallel` runs them on threads.

Python callers pass arrays through :func:`as_f8` so the one signature always matches.

Compiling ahead of time
-----------------------
A cold compile of the kernels of one model takes 5-10 s, more than a whole ODMR run.
``python -m nvsense.fitting.precompile`` (which ``make install`` runs) compiles the kernels of
every model into the cache, in parallel processes, so that the first ``nvsense odmr`` after
installing loads them instead (:func:`precompile`).
Nothing compiles in the background: a run that finds the cache empty compiles what it uses,
then and there, and caches it.

Short fits without numba
------------------------
Loading even a cached kernel costs numba's one-time set-up (importing numba, which imports
SciPy's linear algebra for its BLAS check, and registering its typing and lowering tables):
about 0.6 s of CPU, more than the fits of a one-sweep ODMR run.  The same step also builds the
entry kernels into an extension module ahead of time (:mod:`nvsense.fitting.aot`, numba's
AOT compiler), which loads in a millisecond and needs no numba at run time: fits of a few
rows use it until numba's kernels are loaded anyway (:mod:`nvsense.fitting.kernels`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .kernel_layout import as_f8

__all__ = ["FAST", "JIT_OPTIONS", "MODELS", "as_f8", "entry", "helper", "precompile", "ready"]

#: The fit models whose kernels :func:`precompile` compiles by default.
MODELS = ("lorentzian", "gaussian", "14n", "15n", "hamiltonian")

#: fastmath flags for the hot loops: reassociation (vectorised sums), FMA contraction and
#: reciprocals.  No ``nnan``/``ninf``: the kernels test for NaN and inf.
FAST = {"reassoc", "contract", "nsz", "arcp"}

#: Every kernel: cached, GIL released, IEEE division (no ZeroDivisionError checks, which would
#: stop vectorisation) and no reference counting (``_nrt=False``, as numba's own allocation-
#: free helpers use): the kernels allocate nothing, Python hands them their work arrays, and
#: every array passed between kernel functions would otherwise cost two atomic operations on
#: its reference count — a third of the fitting time when measured, and contention between
#: threads that share arrays.
JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy",
                            "_nrt": False}


def helper(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Decorator for kernel helpers (typed and compiled by the entry kernel that calls them;
    no Python-callable wrapper is built for them)."""
    from numba import njit

    return njit(**{**JIT_OPTIONS, "no_cpython_wrapper": True, "no_cfunc_wrapper": True,
                   **options})


def entry(signature: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Decorator for an entry kernel with one ``signature`` (compiled on first use)."""

    def wrap(fn: Callable[..., Any]) -> Any:
        from numba import njit

        dispatcher = njit(**{**JIT_OPTIONS, **options})(fn)
        dispatcher.nvsense_signature = signature
        return dispatcher

    return wrap


def ready(kernel: Any) -> Any:
    """``kernel`` compiled (or loaded from the cache) for its one signature, and closed."""
    if getattr(kernel, "_can_compile", False):
        with _without_numba_extensions():
            kernel.compile(kernel.nvsense_signature)
        kernel.disable_compile()
    return kernel


@contextmanager
def _without_numba_extensions() -> Iterator[None]:
    """Compile or load nvsense's kernels without first loading numba's third-party
    extensions (the ``numba_extensions`` entry points).

    numba loads every installed extension before its first compilation, also when it only
    loads a kernel from the cache: awkward's, installed with some of nvsense's extras, imports
    awkward, pyarrow and fsspec — 0.3-0.6 s, the largest part of a short run's numba set-up.
    The kernels use only float64 arrays and integers, which need no extension.  numba's flag
    is restored afterwards, so the first compilation of anyone else's code in the process
    loads the extensions as usual.  (A private flag of numba: if it is ever gone, nothing is
    skipped.)
    """
    try:
        from numba.core import entrypoints
    except ImportError:  # pragma: no cover - numba's layout changed: skip nothing
        yield
        return
    if getattr(entrypoints, "_already_initialized", True):
        yield
        return
    entrypoints._already_initialized = True
    try:
        yield
    finally:
        entrypoints._already_initialized = False


def _example(model: str) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """A small spectrum with dips for ``model``: frequencies, counts, n_lines."""
    f = np.linspace(2.80e9, 2.94e9, 141)
    if model == "hamiltonian":
        from ..physics import transition_frequencies

        centers = np.ravel(transition_frequencies(np.array([0.4e-3, 1.1e-3, 1.9e-3])))
    else:
        centers = np.array([2.84e9, 2.90e9])
    dips = sum(0.02 / (1 + ((f - c) / 0.5e6) ** 2) for c in centers)
    return f, 1e5 * (1 - dips), 2


def precompile(models: tuple[str, ...] | list[str] = MODELS) -> dict[str, float]:
    """Compile (or load from the on-disk cache) every kernel the fits of ``models`` use.

    Fits a small synthetic spectrum with each model through :func:`nvsense.fitting.fit_batch`,
    so exactly the kernels a real fit needs are compiled.  Returns the seconds each model
    took (a few hundredths when the cache was warm).
    """
    import time

    from .batch import fit_batch

    took = {}
    for model in models:
        t0 = time.perf_counter()
        f, counts, n_lines = _example(model)
        fit_batch(f, counts[None, :], model=model,
                  n_lines=None if model == "hamiltonian" else n_lines, sigma="poisson")
        took[model] = time.perf_counter() - t0
    return took
