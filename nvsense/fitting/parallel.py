"""Running the numba kernels safely from any thread, with a chosen number of threads.

numba's fallback threading layer ("workqueue", used when neither TBB nor OpenMP is available)
aborts the process if two threads launch parallel kernels at once, which happens when Dask's
threaded scheduler calls ``fit_batch`` from several workers.  Launches are therefore
serialised by a lock until the active layer is known to be thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numba

__all__ = ["run_kernel"]

_LOCK = threading.Lock()
_layer_is_threadsafe = False


def run_kernel(kernel: Callable[..., Any], *args: Any, n_threads: int | None = None) -> Any:
    """Call a parallel numba ``kernel`` with ``args``, on at most ``n_threads`` threads."""
    global _layer_is_threadsafe
    if n_threads is not None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
            raise ValueError(f"n_threads must be a positive whole number, got {n_threads!r}")
        previous = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        if _layer_is_threadsafe:
            return kernel(*args)
        with _LOCK:
            out = kernel(*args)
            _layer_is_threadsafe = numba.threading_layer() in ("tbb", "omp")
            return out
    finally:
        if n_threads is not None:
            numba.set_num_threads(previous)
