"""Run a measurement (or a slow bench operation) off the GUI thread.

A :class:`RunWorker` runs one callable in a plain :class:`threading.Thread` and, when it returns
or raises, posts a :class:`~nvsense.gui.bridge.RunEnded` through the
:class:`~nvsense.gui.bridge.EventBridge`, behind every event the run published.  The GUI only
talks to the worker through :meth:`RunWorker.stop` (a :class:`~nvsense.measure.RunControl`
request, honoured within one sweep) and :meth:`RunWorker.join`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..measure import STOPPED_BY_USER, RunControl
from .bridge import EventBridge, RunEnded

__all__ = ["RunWorker"]

log = logging.getLogger(__name__)

#: ``target(control, subscriber)`` runs the procedure and returns its result.
Target = Callable[[RunControl, Callable[[Any], None]], Any]


class RunWorker:
    """One measurement (``kind`` "odmr", "track") or bench task ("bench") in its own thread.

    Parameters
    ----------
    kind
        What runs, echoed in :class:`RunEnded` so the window knows which panel to update.
    target
        Called in the worker thread with the run control and the subscriber to publish to.
    bridge
        Receives the events and, last, the :class:`RunEnded`.
    """

    def __init__(self, kind: str, target: Target, bridge: EventBridge) -> None:
        self.kind = kind
        self.control = RunControl()
        self._target = target
        self._bridge = bridge
        self._thread = threading.Thread(target=self._main, name=f"nvsense-{kind}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = self._target(self.control, self._bridge)
        except BaseException as exc:  # reported to the window; the procedure made the bench safe
            error = exc
            if not isinstance(exc, Exception):
                log.error("%s worker interrupted: %r", self.kind, exc)
        self._bridge.post(RunEnded(self.kind, result, error))

    def stop(self, reason: str = STOPPED_BY_USER) -> None:
        """Ask the run to stop after the current sweep (or tracking block)."""
        self.control.stop(reason)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
