"""From measurement events to Qt signals, at most ~30 display updates a second.

The measurement thread calls :class:`EventBridge` like any subscriber.  The call only files the
event in a small queue (under a lock held for microseconds) and, when the queue was empty, posts
one queued "wake" signal to the GUI thread: the measurement never waits on the window.  The GUI
thread drains the queue at most every ``min_interval`` seconds and re-emits what it finds as
typed signals.  While it waits, newer events merge with older ones of the same type:

- consecutive sweeps become one :class:`SweepBatch`: the latest sweep (which carries the running
  average and its fit) plus the raw counts of every sweep in between, so the waterfall image
  keeps every row even when the spectrum plot skips some;
- tracking blocks are concatenated (:func:`nvsense.measure.events.merge_keep_latest`), so the
  live trace has no gaps;
- consecutive :class:`~nvsense.measure.documents.Record` documents (the measurement kinds
  without a document type of their own) arrive together, as one list;
- a widefield map (:class:`~nvsense.measure.documents.WidefieldMap`) replaces the one of its
  run still waiting (only the newest is drawn); it and the other documents of their own type
  (:class:`~nvsense.measure.documents.WidefieldSweep`) come out as ``documents``;
- run start/finish and :class:`RunEnded` are never merged and keep their order.

Nothing is lost on disk either way: the run file is written by the measurement thread before an
event is published.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from ..measure.documents import Event, WidefieldMap
from ..measure.events import (
    Record,
    RunFinished,
    RunStarted,
    SweepDone,
    TrackingBlock,
    merge_keep_latest,
)

__all__ = ["DisplayStats", "EventBridge", "RunEnded", "SweepBatch"]

#: Shortest time between two display updates: ~30 updates per second.
DEFAULT_MIN_INTERVAL = 1.0 / 30.0


@dataclass(frozen=True)
class RunEnded:
    """The worker thread of a run (or bench task) has returned.

    Posted by :class:`nvsense.gui.worker.RunWorker` after the procedure returned or raised, so
    it always arrives after the run's own :class:`~nvsense.measure.events.RunFinished`.
    ``result`` is what the procedure returned, ``error`` what it raised (``None`` if nothing).
    """

    kind: str
    result: Any = None
    error: BaseException | None = None
    wall_time: float = field(default_factory=time.time)


@dataclass
class SweepBatch:
    """Sweeps that arrived since the last display update.

    Attributes
    ----------
    latest
        The newest :class:`~nvsense.measure.events.SweepDone`: plot its sweep, its running
        average and the average's fit.
    indices, rows
        Index and raw counts of every sweep in the batch, oldest first (the waterfall rows).
    first_wall_time
        When the oldest sweep of the batch was published (for the worst-case latency).
    """

    latest: SweepDone
    indices: list[int]
    rows: list[NDArray[np.float64]]
    first_wall_time: float

    @classmethod
    def of(cls, event: SweepDone) -> SweepBatch:
        return cls(event, [event.index], [event.counts], event.wall_time)

    def add(self, event: SweepDone) -> None:
        self.latest = event
        self.indices.append(event.index)
        self.rows.append(event.counts)

    @property
    def coalesced(self) -> int:
        """Sweeps in this batch that the spectrum plot will not show on their own."""
        return len(self.indices) - 1


class _Records(list):  # type: ignore[type-arg]
    """Record documents waiting together in the queue."""


@dataclass
class DisplayStats:
    """What the display did with the events of the current run (for the status bar and the
    benchmark).  Latencies are seconds from an event's publication to the end of the display
    update that showed it."""

    received: int = 0
    sweeps_received: int = 0
    blocks_received: int = 0
    updates: int = 0
    sweeps_coalesced: int = 0
    blocks_merged: int = 0
    # the latest ~1 h of display updates at 30 per second (a long run must not grow memory)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    oldest_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))

    def record(self, newest_wall_time: float, oldest_wall_time: float | None = None) -> None:
        """One display update showing events published at these times has just finished."""
        now = time.time()
        self.updates += 1
        self.latencies.append(now - newest_wall_time)
        self.oldest_latencies.append(now - (oldest_wall_time or newest_wall_time))


class EventBridge(QObject):
    """A measurement subscriber that turns events into coalesced Qt signals.

    Call it from any thread with an event; connect to the signals in the GUI thread.  Create
    it in the GUI thread (its timer and slots live there).

    Parameters
    ----------
    min_interval
        Shortest time between two deliveries, s.

    Signals
    -------
    run_started(RunStarted), sweeps(SweepBatch), tracking(TrackingBlock),
    records(list of Record), documents(Event: any other document, e.g. a widefield map),
    run_finished(RunFinished), run_ended(RunEnded)
    """

    run_started = Signal(object)
    sweeps = Signal(object)
    tracking = Signal(object)
    records = Signal(object)
    documents = Signal(object)
    run_finished = Signal(object)
    run_ended = Signal(object)
    _wake = Signal()

    def __init__(self, min_interval: float = DEFAULT_MIN_INTERVAL,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.min_interval = float(min_interval)
        self.stats = DisplayStats()
        self._lock = threading.Lock()
        self._queue: list[Any] = []
        self._wake_posted = False
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)  # a coarse timer may fire early
        self._timer.timeout.connect(self.flush)
        self._wake.connect(self._on_wake)  # queued: emitted from the measurement thread

    def reset_stats(self) -> DisplayStats:
        """Start counting afresh (at the start of a run); returns the old counts."""
        with self._lock:
            old, self.stats = self.stats, DisplayStats()
        return old

    # -- measurement thread -------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        """File ``event`` for the next display update; never blocks on the GUI."""
        with self._lock:
            stats = self.stats
            stats.received += 1
            last = self._queue[-1] if self._queue else None
            if isinstance(event, SweepDone):
                stats.sweeps_received += 1
                if isinstance(last, SweepBatch):
                    last.add(event)
                    stats.sweeps_coalesced += 1
                else:
                    self._queue.append(SweepBatch.of(event))
            elif isinstance(event, TrackingBlock):
                stats.blocks_received += 1
                if isinstance(last, TrackingBlock):
                    self._queue[-1] = merge_keep_latest(last, event)
                    stats.blocks_merged += 1
                else:
                    self._queue.append(event)
            elif isinstance(event, Record):
                if isinstance(last, _Records):
                    last.append(event)
                else:
                    self._queue.append(_Records([event]))
            elif isinstance(event, WidefieldMap):  # the newest map of the run is enough
                self._queue = [item for item in self._queue
                               if not (isinstance(item, WidefieldMap)
                                       and item.run_id == event.run_id)]
                self._queue.append(event)
            else:
                self._queue.append(event)
            post = not self._wake_posted
            self._wake_posted = True
        if post:
            self._wake.emit()

    def post(self, item: RunEnded) -> None:
        """Queue a GUI-side notice (from a worker thread) behind the run's events."""
        self(item)

    # -- GUI thread ---------------------------------------------------------------------------

    @Slot()
    def _on_wake(self) -> None:
        wait = self._last_flush + self.min_interval - time.monotonic()
        if wait <= 0:
            self.flush()
        elif not self._timer.isActive():
            self._timer.start(max(1, int(wait * 1000 + 0.5)))

    @Slot()
    def flush(self) -> None:
        """Deliver everything queued now (GUI thread)."""
        with self._lock:
            items, self._queue = self._queue, []
            self._wake_posted = False
        self._last_flush = time.monotonic()
        for item in items:
            if isinstance(item, SweepBatch):
                self.sweeps.emit(item)
            elif isinstance(item, TrackingBlock):
                self.tracking.emit(item)
            elif isinstance(item, _Records):
                self.records.emit(list(item))
            elif isinstance(item, RunStarted):
                self.run_started.emit(item)
            elif isinstance(item, RunFinished):
                self.run_finished.emit(item)
            elif isinstance(item, RunEnded):
                self.run_ended.emit(item)
            elif isinstance(item, Event):
                self.documents.emit(item)

    @property
    def pending(self) -> int:
        """Items waiting for the next display update."""
        with self._lock:
            return len(self._queue)
