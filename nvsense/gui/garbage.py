"""Python's cyclic garbage collector run only in the GUI thread.

A Qt object caught in a reference cycle is destroyed by whichever thread happens to trigger
the collector.  When that is a measurement thread, its ``~QObject`` takes Qt's internal mutex
and then waits for the GIL, while the GUI thread holds the GIL and waits for the same mutex:
the window and the run hang (seen in the widefield tab's tests).  So the window disables
automatic collection and collects from a timer in the GUI thread (pyqtgraph's
``GarbageCollector``, the remedy pyqtgraph documents for this).
"""

from __future__ import annotations

from typing import Any

__all__ = ["collect_in_gui_thread"]


def collect_in_gui_thread(interval_s: float = 1.0) -> Any:
    """Disable automatic garbage collection and collect every ``interval_s`` in this (the GUI)
    thread; keep the returned object alive as long as the application runs."""
    from pyqtgraph.util.garbage_collector import GarbageCollector

    return GarbageCollector(interval=interval_s)
