"""The event bridge: a fast publisher in another thread, a slow display, nothing lost."""

from __future__ import annotations

import threading
import time

import numpy as np

from nvsense.gui.bridge import EventBridge, RunEnded
from nvsense.measure import RunFinished, RunStarted, SweepDone, TrackingBlock
from nvsense.measure.documents import WidefieldMap, WidefieldSweep


def sweep(i: int) -> SweepDone:
    counts = np.full(5, float(i))
    return SweepDone(run_id="r", index=i, frequencies=np.arange(5.0), counts=counts,
                     average=counts, fit=None, average_fit=None, elapsed=0.01 * i)


def block(i: int, n: int = 10) -> TrackingBlock:
    t = np.arange(i * n, (i + 1) * n) * 1e-3
    return TrackingBlock(run_id="r", time=t, field=t * 0 + 1e-3, frequencies=t * 0,
                         error_signal=t * 0, locked=np.ones(n, bool))


def record(bridge: EventBridge) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []
    for name in ("run_started", "sweeps", "tracking", "run_finished", "run_ended"):
        getattr(bridge, name).connect(lambda item, name=name: seen.append((name, item)))
    return seen


def test_fast_sweeps_are_coalesced_but_every_row_arrives_in_order(qtbot):
    bridge = EventBridge(min_interval=0.05)
    seen = record(bridge)

    def publish() -> None:
        bridge(RunStarted(run_id="r", kind="odmr", file=None, parameters={}))
        for i in range(300):
            bridge(sweep(i))
            time.sleep(0.0005)
        bridge(RunFinished(run_id="r", status="completed", reason=None, results={}))
        bridge.post(RunEnded("odmr"))

    thread = threading.Thread(target=publish)
    thread.start()
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] == "run_ended", timeout=10_000)
    thread.join()

    kinds = [name for name, _ in seen]
    assert kinds[0] == "run_started" and kinds[-2:] == ["run_finished", "run_ended"]
    batches = [item for name, item in seen if name == "sweeps"]
    assert len(batches) < 100  # the display updated far less often than sweeps came
    rows = [i for b in batches for i in b.indices]
    assert rows == list(range(300))  # ... yet the waterfall gets every sweep once, in order
    for b in batches:
        assert b.latest.index == b.indices[-1]
        assert [float(r[0]) for r in b.rows] == [float(i) for i in b.indices]
    stats = bridge.stats
    assert stats.sweeps_received == 300
    assert stats.sweeps_coalesced == 300 - len(batches)


def test_tracking_blocks_merge_without_gaps(qtbot):
    bridge = EventBridge(min_interval=0.05)
    seen = record(bridge)
    thread = threading.Thread(target=lambda: [bridge(block(i)) for i in range(50)])
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bridge.pending == 0 and bool(seen), timeout=5_000)
    times = np.concatenate([item.time for _, item in seen])
    assert np.array_equal(times, np.arange(500) * 1e-3)
    assert bridge.stats.blocks_merged == 50 - len(seen)


def test_updates_are_spaced_by_the_minimum_interval(qtbot):
    bridge = EventBridge(min_interval=0.1)
    stamps: list[float] = []
    bridge.sweeps.connect(lambda b: stamps.append(time.monotonic()))
    stop = threading.Event()

    def publish() -> None:
        i = 0
        while not stop.is_set():
            bridge(sweep(i))
            i += 1
            time.sleep(0.002)

    thread = threading.Thread(target=publish)
    thread.start()
    qtbot.waitUntil(lambda: len(stamps) >= 5, timeout=10_000)
    stop.set()
    thread.join()
    gaps = np.diff(stamps)
    assert np.all(gaps >= 0.1 - 0.01), gaps  # never more often than asked (timer granularity)


def test_record_documents_arrive_together_in_order(qtbot):
    """The kinds without their own document type publish Record documents: the display
    gets every one, in order, consecutive ones in one list per update."""
    from nvsense.measure.documents import Record

    bridge = EventBridge(min_interval=0.05)
    lists: list[list] = []
    bridge.records.connect(lists.append)
    ended: list = []
    bridge.run_ended.connect(ended.append)

    def publish() -> None:
        for i in range(200):
            bridge(Record(run_id="r", index=i, values={"x": float(i)}))
            time.sleep(0.0005)
        bridge.post(RunEnded("pulsed"))

    thread = threading.Thread(target=publish)
    thread.start()
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    thread.join()
    assert [r.index for chunk in lists for r in chunk] == list(range(200))
    assert len(lists) < 200 and all(isinstance(chunk, list) for chunk in lists)


def widefield_map(run_id: str, i: int) -> WidefieldMap:
    empty = np.zeros((2, 2))
    return WidefieldMap(run_id=run_id, index=i, n_sweeps=i + 1, binning=1,
                        frequencies=np.arange(3.0), field_parallel=empty,
                        field_parallel_error=empty, success=np.ones((2, 2), bool),
                        spectra=np.zeros((2, 2, 3), np.float32),
                        curves=np.zeros((2, 2, 3), np.float32))


def widefield_sweep(i: int) -> WidefieldSweep:
    return WidefieldSweep(run_id="w", index=i, frequencies=np.arange(3.0), elapsed=0.1 * i,
                          drift=(0.0, 0.0), shift=(0.0, 0.0), drift_confidence=10.0)


def test_widefield_documents_arrive_and_only_the_newest_map_is_drawn(qtbot):
    bridge = EventBridge(min_interval=0.05)
    documents: list[object] = []
    bridge.documents.connect(documents.append)
    # published while the display is busy: the sweeps all arrive, of the maps the newest
    for i in range(3):
        bridge(widefield_sweep(i))
        bridge(widefield_map("w", i))
    bridge(widefield_map("other run", 0))
    bridge.flush()
    assert [(type(d).__name__, d.run_id, d.index) for d in documents] == [
        ("WidefieldSweep", "w", 0), ("WidefieldSweep", "w", 1), ("WidefieldSweep", "w", 2),
        ("WidefieldMap", "w", 2), ("WidefieldMap", "other run", 0)]
