"""The sweep pipeline of a widefield run: finished sweeps registered, written and mapped beside
the camera.

At 100 frames/s of 256 × 256 pixels the camera delivers 13 MB/s; registering a sweep, writing
its record and adding it to the cube take a good part of a second on a shared computer, and a
measurement thread doing all of it fell behind the camera (its ring buffer wrapped: frames
lost).  So the measurement thread only reads the ring buffer in blocks and assigns frames to
sweeps; each finished sweep goes through a bounded queue to the pipeline's own thread, which
processes the sweeps one at a time, in order (registration, the record written and flushed —
crash-safe from there — then the live map's cube).

- The queue is bounded (:data:`QUEUE_SWEEPS`): a writer slower than the camera for long holds
  the reader back, the ring buffer fills and its losses are counted and marked as for any
  reader that falls behind; memory never grows without bound.
- A failure in the pipeline (disk full, a file error) is kept and raised in the measurement
  thread at its next hand-over or check: the run stops with that one error and the lifecycle
  leaves the bench safe.  Sweeps still queued behind the failed one are not written (the file
  cannot take them); every sweep before it is in the file.
- :meth:`SweepPipeline.finish` (the loop's end) and :meth:`SweepPipeline.close` (a stop, an
  abort) write every sweep already handed over before the run is closed: nothing measured is
  lost, and every document of the run is published before its end document.

In fast pace (a simulated bench whose clock waits for the computer) the pipeline runs inline,
in the measurement thread (``threaded=False``): nothing gains from a thread there, and the
order of everything stays deterministic.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["QUEUE_SWEEPS", "SweepPipeline"]

#: Finished sweeps waiting for the pipeline at most (4 × 13 MB at 256 × 256 × 101 points).
QUEUE_SWEEPS = 4
#: How often a measurement thread waiting on a full queue looks for a failure, s.
_POLL = 0.2

_END = object()


class SweepPipeline:
    """Processes jobs (finished sweeps) in order, in a thread of its own or inline.

    Parameters
    ----------
    process
        Called with each job, in the order submitted; what it raises stops the pipeline and
        is raised again in the submitting thread.
    threaded
        Process in a thread of its own (real time) or inline, at :meth:`submit` (fast pace).
    depth
        Jobs waiting at most; :meth:`submit` blocks while the queue is full.
    name
        The thread's name.
    """

    def __init__(self, process: Callable[[Any], None], *, threaded: bool = True,
                 depth: int = QUEUE_SWEEPS, name: str = "nvsense-widefield-writer") -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        self._process = process
        self.threaded = threaded
        self.error: BaseException | None = None
        #: Seconds spent processing each job (registration, writing, map hand-over).
        self.busy: list[float] = []
        #: Seconds the submitting thread waited for room in the queue.
        self.waited = 0.0
        #: Most jobs waiting at once.
        self.max_waiting = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._waiting = 0  # jobs queued behind the one being processed
        self._count_lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._work, name=name, daemon=True)
            self._thread.start()

    @property
    def waiting(self) -> int:
        """Jobs handed over and not yet started (behind the one being processed)."""
        return self._waiting

    def submit(self, job: Any) -> None:
        """Hand over ``job``: processed now (inline) or queued, waiting while the queue is
        full.

        Raises
        ------
        BaseException
            What an earlier job raised (the pipeline stopped there).
        """
        self.check()
        if self._closed:
            raise RuntimeError("the sweep pipeline is closed")
        if not self.threaded:
            self._run(job)
            self.check()
            return
        start = time.perf_counter()
        with self._count_lock:
            self._waiting += 1
        while True:
            try:
                self._queue.put(job, timeout=_POLL)
                break
            except queue.Full:
                try:
                    self.check()
                except BaseException:
                    with self._count_lock:
                        self._waiting -= 1
                    raise
        self.waited += time.perf_counter() - start
        self.max_waiting = max(self.max_waiting, self._waiting)

    def check(self) -> None:
        """Raise what a job raised, if one did."""
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        """Process every job handed over, end the thread, and raise what a job raised."""
        self.close()
        self.check()

    def close(self) -> None:
        """Process every job handed over (unless one failed) and end the thread; idempotent,
        never raises."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(_END)
            self._thread.join()

    def _work(self) -> None:
        while (job := self._queue.get()) is not _END:
            with self._count_lock:
                self._waiting -= 1
            if self.error is None:  # after a failure the file takes nothing more
                self._run(job)

    def _run(self, job: Any) -> None:
        start = time.perf_counter()
        try:
            self._process(job)
        except BaseException as exc:
            self.error = exc
        finally:
            self.busy.append(time.perf_counter() - start)
