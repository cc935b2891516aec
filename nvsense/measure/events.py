"""Events a measurement publishes, and the bus that delivers them.

A procedure publishes events (run started, a sweep done with its data, fit and field, a block
of tracking samples, run finished or aborted) to subscribers: the run-file writer, the GUI, the
CLI's progress display.  Two kinds of subscriber:

- *synchronous* ones are called in the measurement thread, in order, and see every event: use
  them for anything that must not lose data (the run file).  They must be quick.
- *latest-only* ones (:class:`Mailbox`) get events on their own thread; the measurement never
  waits on them.  While one is busy, newer events replace (or merge with) older ones not yet
  delivered, so a slow display skips sweeps instead of slowing the measurement down.

This is the Bluesky pattern (documents to callbacks) without the document model: events are
small frozen dataclasses holding numpy arrays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Event",
    "EventBus",
    "Mailbox",
    "RunFinished",
    "RunStarted",
    "SweepDone",
    "TrackingBlock",
    "merge_keep_latest",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base class of every event; ``wall_time`` is the Unix time it was made."""

    run_id: str


@dataclass(frozen=True)
class RunStarted(Event):
    """A run has started: its kind, file and parameters."""

    kind: str
    file: str | None
    parameters: dict[str, Any]
    identities: dict[str, str] = field(default_factory=dict)
    wall_time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SweepDone(Event):
    """One ODMR sweep is complete (and written to the run file), fitted and turned into field.

    ``fit`` and ``average_fit`` are :class:`nvsense.measure.odmr.SweepAnalysis` objects (or
    ``None`` when fitting failed, or while ``lines_pending``: the number of lines is not known
    yet, see :mod:`nvsense.measure.odmr`); arrays are not copied, so subscribers must not modify
    them.
    """

    index: int
    frequencies: NDArray[np.float64]
    counts: NDArray[np.float64]
    average: NDArray[np.float64]
    fit: Any
    average_fit: Any
    elapsed: float
    sweeps_planned: int | None = None
    wall_time: float = field(default_factory=time.time)
    lines_pending: bool = False


@dataclass(frozen=True)
class TrackingBlock(Event):
    """A block of tracking-magnetometer samples (all arrays share their first axis)."""

    time: NDArray[np.float64]
    field: NDArray[np.float64]
    frequencies: NDArray[np.float64]
    error_signal: NDArray[np.float64]
    locked: NDArray[np.bool_]
    D: NDArray[np.float64] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    wall_time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RunFinished(Event):
    """The run has ended; ``status`` is ``"completed"`` or ``"aborted"`` (with ``reason``)."""

    status: str
    reason: str | None
    results: dict[str, Any]
    file: str | None = None
    safe_report: tuple[str, ...] = ()
    wall_time: float = field(default_factory=time.time)


Subscriber = Callable[[Event], None]


def merge_keep_latest(pending: Event | None, new: Event) -> Event:
    """Mailbox merge rule: the newest event replaces an undelivered older one of the same
    type (a display only needs the latest sweep: each carries the running average).  Tracking
    blocks are concatenated so a live trace has no gaps; run start/finish are never dropped."""
    if pending is None:
        return new
    if isinstance(pending, TrackingBlock) and isinstance(new, TrackingBlock):
        d = None
        if pending.D is not None and new.D is not None:
            d = np.concatenate([pending.D, new.D])
        return TrackingBlock(
            run_id=new.run_id,
            time=np.concatenate([pending.time, new.time]),
            field=np.concatenate([pending.field, new.field]),
            frequencies=np.concatenate([pending.frequencies, new.frequencies]),
            error_signal=np.concatenate([pending.error_signal, new.error_signal]),
            locked=np.concatenate([pending.locked, new.locked]),
            D=d,
            info=new.info,
            wall_time=new.wall_time,
        )
    return new


class Mailbox:
    """Deliver events to a slow subscriber on its own thread, never blocking the publisher.

    Parameters
    ----------
    callback
        Called with each delivered event, on the mailbox thread.
    merge
        How an undelivered event combines with a newer one of the same type.
    name
        Thread name, for debugging.

    Notes
    -----
    Events of different types are kept in arrival order (a ``RunFinished`` is never lost behind
    a ``SweepDone``); consecutive events of the same type are merged with ``merge``.
    ``delivered`` and ``merged`` count what happened, so a benchmark can show how many display
    updates were coalesced.
    """

    def __init__(self, callback: Subscriber,
                 merge: Callable[[Event | None, Event], Event] = merge_keep_latest,
                 name: str = "nvsense-mailbox") -> None:
        self._callback = callback
        self._merge = merge
        self._queue: list[Event] = []
        self._cond = threading.Condition()
        self._closed = False
        self.delivered = 0
        self.merged = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        """Accept an event (from the publisher's thread) without waiting."""
        with self._cond:
            if self._queue and type(self._queue[-1]) is type(event):
                self._queue[-1] = self._merge(self._queue[-1], event)
                self.merged += 1
            else:
                self._queue.append(event)
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue and self._closed:
                    return
                event = self._queue.pop(0)
            try:
                self._callback(event)
            except Exception:  # a broken display must not stop the mailbox
                log.exception("subscriber %r failed on %s", self._callback, type(event).__name__)
            self.delivered += 1

    def close(self, timeout: float | None = 5.0) -> None:
        """Deliver what is pending, then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)


class EventBus:
    """Publish events to subscribers (see the module docstring for the two kinds)."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it.  Wrap slow subscribers in a
        :class:`Mailbox`."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def publish(self, event: Event) -> None:
        """Call every subscriber with ``event``.  A failing subscriber is logged and skipped:
        it must not abort the measurement or starve the others."""
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("subscriber %r failed on %s", callback, type(event).__name__)
