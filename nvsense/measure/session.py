"""What the run lifecycle needs around a run: the bench's clock and a connected bench."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["bench_clock", "connected"]


def bench_clock(bench: Any) -> Callable[[], float]:
    """The bench's clock in s: simulated time on the simulated bench (which may run faster
    than the wall clock), else a monotonic clock."""
    sample = getattr(bench, "sample", None)
    if sample is not None:
        return lambda: float(sample.time)
    return time.monotonic


@contextmanager
def connected(bench: Any) -> Iterator[Any]:
    """The bench, connected; if it was not connected before, it is closed (made safe and
    disconnected) afterwards."""
    opened_here = not bench.connected
    if opened_here:
        bench.connect()
    try:
        yield bench
    finally:
        if opened_here:
            bench.close()
