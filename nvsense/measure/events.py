"""The bus that delivers a run's documents (events) to its subscribers.

A run publishes documents (:mod:`nvsense.measure.documents`: run started with its declared
variables, a sweep or a block of samples, run finished) to subscribers: the run-file writer,
the GUI, the CLI's progress display.  Three kinds of subscriber:

- the *primary* one (the run-file writer, :class:`nvsense.measure.run_file.RunFileWriter`) is
  called first, in the measurement thread; if it fails, the publisher hears of it (a record
  that cannot be stored ends the run), and the others never see a document that is not on
  disk;
- *synchronous* ones are called next, in the measurement thread, in order, and see every
  document.  They must be quick; their failures are logged and skipped;
- *latest-only* ones (:class:`Mailbox`) get documents on their own thread; the measurement
  never waits on them.  While one is busy, newer documents replace (or merge with) older ones
  not yet delivered, so a slow display skips sweeps instead of slowing the measurement down.

This is the Bluesky pattern: documents to callbacks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from .documents import (
    Event,
    Record,
    RunFinished,
    RunStarted,
    SweepDone,
    TrackingBlock,
    VariablesAdded,
)

__all__ = [
    "Event",
    "EventBus",
    "Mailbox",
    "Record",
    "RunFinished",
    "RunStarted",
    "SweepDone",
    "TrackingBlock",
    "VariablesAdded",
    "merge_keep_latest",
]

log = logging.getLogger(__name__)


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
            values=_concatenate_values(pending.values, new.values),
        )
    return new


def _concatenate_values(a: dict, b: dict) -> dict:
    """Two blocks' records as one block (the keys both have)."""
    return {k: np.concatenate([np.asarray(a[k]), np.asarray(b[k])]) for k in b if k in a}


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
    """Publish documents to subscribers (see the module docstring for the three kinds).

    Parameters
    ----------
    primary
        Called first with every document; its exceptions propagate to the publisher.
    """

    def __init__(self, primary: Subscriber | None = None) -> None:
        self._subscribers: list[Subscriber] = []
        self.primary = primary

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it.  Wrap slow subscribers in a
        :class:`Mailbox`."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def publish(self, event: Event) -> None:
        """Call the primary subscriber, then every other one, with ``event``.  A failing
        (non-primary) subscriber is logged and skipped: it must not abort the measurement or
        starve the others."""
        if self.primary is not None:
            self.primary(event)
        self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Call every subscriber but the primary one with ``event`` (failures logged)."""
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("subscriber %r failed on %s", callback, type(event).__name__)
