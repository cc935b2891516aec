"""Running the row kernels on several threads.

The kernels (``guess_rows``, ``fit_rows_*``) release the GIL and work on rows ``i0 .. i1`` of a
chunk, so plain Python threads run them in parallel.  Rows are handed out in blocks from a
shared counter (dynamic scheduling): on a machine shared with other jobs a thread whose core
is busy simply takes fewer blocks, instead of holding up the whole chunk as an equal static
split would.  The calling thread works too, so a call never waits for an idle pool.

Unlike numba's ``parallel=True`` this needs no threading layer (the fallback "workqueue" layer
aborts when two threads launch kernels at once, e.g. under Dask's threaded scheduler) and
compiles much faster.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .kernels import resolve

__all__ = ["default_threads", "max_threads", "run_rows"]

#: Blocks per thread and chunk (more gives better balance, fewer less call overhead).
BLOCKS_PER_THREAD = 8
#: Smallest block, in rows.
MIN_BLOCK = 8
#: Largest block, in rows.
MAX_BLOCK = 256

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def max_threads() -> int:
    """numba's ``NUMBA_NUM_THREADS``: the environment variable, else the cores this process
    may run on.  Read as numba reads it, without importing numba when it is not loaded."""
    numba = sys.modules.get("numba")
    if numba is not None:
        return int(numba.config.NUMBA_NUM_THREADS)
    text = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if text:
        return max(1, int(text))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """numba's thread setting: ``numba.set_num_threads`` if the process has started numba's
    threading layer, else ``NUMBA_NUM_THREADS`` (all cores by default).  Asking numba would
    start its threading layer, which these kernels do not need."""
    numba_parallel = sys.modules.get("numba.np.ufunc.parallel")
    if numba_parallel is not None and getattr(numba_parallel, "_is_initialized", False):
        return int(sys.modules["numba"].get_num_threads())
    return max_threads()


def _executor() -> ThreadPoolExecutor:
    """The helper threads (created on first use, and again in a forked child, which inherits
    the pool object but not its threads)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=max(max_threads() - 1, 1),
                                       thread_name_prefix="nvsense-fit")
            _pool_pid = os.getpid()
        return _pool


def run_rows(kernel: Callable[..., Any], n_rows: int, *args: Any,
             scratch: Callable[[], tuple[Any, ...]] = tuple,
             n_threads: int | None = None) -> None:
    """Call ``kernel(*args, *scratch(), i0, i1)`` over blocks covering rows ``0 .. n_rows``.

    ``kernel`` is a :class:`~nvsense.fitting.kernels.KernelRef` (the build that runs is
    chosen by :func:`~nvsense.fitting.kernels.resolve`: the ahead-of-time one for a few rows
    on one thread) or a numba dispatcher.  ``scratch`` makes one thread's work arrays (each
    thread gets its own); ``n_threads`` threads at most (default :func:`default_threads`).
    numba's build is compiled (or loaded from the cache) for its one signature first.
    """
    if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, int)
                                  or n_threads < 1):
        raise ValueError(f"n_threads must be a positive whole number, got {n_threads!r}")
    threads = default_threads() if n_threads is None else n_threads
    threads = max(1, min(threads, max_threads(), math.ceil(n_rows / MIN_BLOCK)))
    kernel = resolve(kernel, n_rows, threads)
    if threads == 1:
        if n_rows > 0:
            kernel(*args, *scratch(), 0, n_rows)
        return
    block = min(MAX_BLOCK, max(MIN_BLOCK, math.ceil(n_rows / (threads * BLOCKS_PER_THREAD))))
    n_blocks = math.ceil(n_rows / block)
    counter = itertools.count()  # next() is atomic under the GIL

    def work() -> None:
        full = (*args, *scratch())
        while True:
            b = next(counter)
            if b >= n_blocks:
                return
            kernel(*full, b * block, min((b + 1) * block, n_rows))

    pool = _executor()
    helpers = [pool.submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        for f in helpers:
            f.result()
