"""A status object as the ``bluesky.protocols.Status`` protocol describes it.

nvsense's instrument calls return once the instrument has taken the value (or raise), so the
status of an action is known when the action returns: :meth:`Status.finished` and
:meth:`Status.failed` build it done, and callbacks added later run at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Status"]


class Status:
    """The outcome of one device action (``set``, ``trigger``, ``stage``...)."""

    def __init__(self, obj: Any = None) -> None:
        self.obj = obj
        self._event = threading.Event()
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Status], None]] = []
        self._lock = threading.Lock()

    @classmethod
    def finished(cls, obj: Any = None) -> Status:
        status = cls(obj)
        status.set_finished()
        return status

    @classmethod
    def failed(cls, exc: BaseException, obj: Any = None) -> Status:
        status = cls(obj)
        status.set_exception(exc)
        return status

    def set_finished(self) -> None:
        self._finish(None)

    def set_exception(self, exc: BaseException) -> None:
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        with self._lock:
            if self._event.is_set():
                raise RuntimeError("status already done")
            self._exception = exc
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def add_callback(self, callback: Callable[[Status], None]) -> None:
        """Call ``callback(self)`` when done (at once if already done)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def exception(self, timeout: float | None = 0.0) -> BaseException | None:
        if not self._event.wait(timeout):
            raise TimeoutError("status not done")
        return self._exception

    def wait(self, timeout: float | None = None) -> None:
        """Block until done; raise the failure, if any."""
        exc = self.exception(timeout)
        if exc is not None:
            raise exc

    @property
    def done(self) -> bool:
        return self._event.is_set()

    @property
    def success(self) -> bool:
        return self._event.is_set() and self._exception is None

    def __repr__(self) -> str:
        state = "pending" if not self.done else ("done" if self.success else
                                                 f"failed: {self._exception}")
        return f"<Status {getattr(self.obj, 'name', '')} {state}>"
