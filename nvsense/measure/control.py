"""Run control: asking a running measurement to stop, from any thread or a signal handler."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STOPPED_BY_USER", "RunControl", "stop_on_sigint"]

#: The abort reason recorded when a user stops a run (Ctrl-C, the GUI's Stop button).
STOPPED_BY_USER = "stopped by user"


class RunControl:
    """A stop request shared between a measurement and whoever may stop it.

    The measurement checks :attr:`stop_requested` between sweeps (or tracking blocks), so a
    stop is honoured within one sweep; the run then ends with status ``aborted`` and the
    reason given here.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None
        self.requested_at: float | None = None

    def stop(self, reason: str = STOPPED_BY_USER) -> None:
        """Ask the measurement to stop after the current sweep."""
        if not self._event.is_set():
            self.reason = reason
            self.requested_at = time.monotonic()
            self._event.set()

    @property
    def stop_requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` s; return early (True) when a stop is requested."""
        return self._event.wait(timeout)


@contextmanager
def stop_on_sigint(control: RunControl) -> Iterator[RunControl]:
    """Turn the first Ctrl-C into a clean stop after the current sweep.

    A second Ctrl-C raises ``KeyboardInterrupt`` at once (the bench is still made safe by the
    measurement's ``finally``).  Only installs the handler in the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield control
        return

    def handler(signum: int, frame: object) -> None:
        if control.stop_requested:
            raise KeyboardInterrupt
        control.stop(STOPPED_BY_USER)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield control
    finally:
        signal.signal(signal.SIGINT, previous)
