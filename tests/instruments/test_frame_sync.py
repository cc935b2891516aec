"""Frame bookkeeping: every frame lands on its trigger, or is reported; nothing shifts."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.instruments.camera import FrameBlock
from nvsense.instruments.frame_sync import (
    FrameStatus,
    FrameSync,
    FrameSyncError,
    SweepAssembler,
    SweepFrames,
    SweepPlan,
    TriggerTiming,
    entries_of,
    plan_repairs,
    reference_levels,
)

PERIOD = 0.01


def block(numbers, times=None, shape=(2, 3), value=None):
    numbers = np.asarray(numbers, np.int64)
    if times is None:
        times = numbers * PERIOD
    frames = np.empty((len(numbers), *shape), np.uint16)
    for i, k in enumerate(numbers):
        frames[i] = k if value is None else value[i]
    return FrameBlock(frames, numbers, np.asarray(times, float))


def test_exposure_output_assigns_by_frame_counter_and_reports_gaps():
    plan = SweepPlan(4)
    sync = FrameSync(plan, TriggerTiming("exposure_out", PERIOD))
    a = sync.assign(block([0, 1, 3, 3, 4, 2, 9]))
    assert list(a.status) == [FrameStatus.OK, FrameStatus.OK, FrameStatus.OK,
                              FrameStatus.DUPLICATE, FrameStatus.OK, FrameStatus.OUT_OF_ORDER,
                              FrameStatus.OK]
    assert list(a.trigger[a.ok]) == [0, 1, 3, 4, 9]
    assert list(a.sweep[a.ok]) == [0, 0, 0, 1, 2]
    assert list(a.point[a.ok]) == [0, 1, 3, 0, 1]
    r = sync.report
    assert (r.lost_in_transfer, r.duplicates, r.out_of_order) == (1 + 4, 1, 1)
    assert r.dropped_frames == 6


def test_a_timestamp_that_contradicts_the_counter_is_rejected_not_guessed():
    sync = FrameSync(SweepPlan(4), TriggerTiming("exposure_out", PERIOD))
    a = sync.assign(block([0, 1, 2, 3], times=[0.0, 0.01, 0.035, 0.03]))
    assert list(a.status) == [0, 0, FrameStatus.TIMING, 0]
    assert list(a.trigger) == [0, 1, -1, 3]


def test_external_clock_counts_missed_edges_from_timestamps():
    plan = SweepPlan(3, "every")
    sync = FrameSync(plan, TriggerTiming("external", PERIOD))
    # edges 0..9; the camera missed edges 2 and 3 (counter continues), frame 5 lost in transfer
    times = np.array([0, 1, 4, 5, 7, 8]) * PERIOD + 3e-4  # a constant delay is harmless
    a = sync.assign(block([0, 1, 2, 3, 5, 6], times=times))
    assert list(a.trigger) == [0, 1, 4, 5, 7, 8]
    assert list(a.point) == [0, 0, 2, 2, 0, 1]
    assert list(a.reference) == [False, True, False, True, True, False]
    assert list(a.sweep) == [0, 0, 0, 0, 1, 1]
    assert sync.report.missed_triggers == 2
    assert sync.report.lost_in_transfer == 1


def test_external_clock_rejects_frames_between_edges():
    sync = FrameSync(SweepPlan(4), TriggerTiming("external", PERIOD, tolerance=0.2))
    a = sync.assign(block([0, 1, 2], times=[0.0, 0.015, 0.02]))
    assert list(a.status) == [0, FrameStatus.TIMING, 0]
    assert list(a.trigger) == [0, -1, 2]


def test_a_host_side_counter_is_checked_against_timestamps():
    # Andor SDK3 numbers frames as they arrive: a frame the camera lost shows only in time
    sync = FrameSync(SweepPlan(4), TriggerTiming("exposure_out", PERIOD, counter="host"))
    a = sync.assign(block([0, 1, 2, 3], times=np.array([0, 1, 3, 4]) * PERIOD))
    assert list(a.trigger) == [0, 1, 3, 4]
    assert sync.report.lost_in_transfer == 1


def test_modes_that_cannot_be_synchronised_are_refused():
    with pytest.raises(FrameSyncError, match="exposure_out"):
        TriggerTiming("internal", PERIOD)
    with pytest.raises(FrameSyncError, match="period"):
        TriggerTiming("external")
    sync = FrameSync(SweepPlan(4), TriggerTiming("external", PERIOD))
    with pytest.raises(FrameSyncError, match="timestamps"):
        sync.assign(block([0, 1], times=[np.nan, np.nan]))


def test_the_hardware_list_interleaves_references_in_the_plans_order():
    plan = SweepPlan(3, "every", order=(2, 0, 1))
    f = np.array([10.0, 20.0, 30.0])
    np.testing.assert_array_equal(plan.hardware_list(f, 99.0), [30, 99, 10, 99, 20, 99])
    np.testing.assert_array_equal(plan.hardware_list(f, 99.0, lead=1), [99, 30, 99, 10, 99, 20])
    points, refs = plan.decode([0, 1, 2, 5])
    assert list(points) == [2, 2, 0, 1] and list(refs) == [False, True, False, True]
    assert list(entries_of([0, 2], plan)) == [2, 0]
    assert list(entries_of([0], plan, reference=True)) == [3]
    with pytest.raises(FrameSyncError, match="reference_frequency"):
        plan.hardware_list(f)
    with pytest.raises(FrameSyncError, match="permutation"):
        SweepPlan(3, order=(0, 0, 1))


def test_sweeps_are_handed_over_once_over_with_every_gap_named():
    plan = SweepPlan(3, "every")
    asm = SweepAssembler(plan, TriggerTiming("exposure_out", PERIOD), (2, 3))
    assert asm.add(block([0, 1, 2, 3])) == []  # sweep 0 still running
    done = asm.add(block([4, 5, 6, 8]))  # last entry of sweep 0 arrived; 7 lost
    assert [s.index for s in done] == [0] and done[0].complete
    np.testing.assert_array_equal(done[0].signal[:, 0, 0], [0, 2, 4])
    np.testing.assert_array_equal(done[0].reference[:, 0, 0], [1, 3, 5])
    # a long outage: sweep 2 gets no frame at all, but is handed over, empty
    done = asm.add(block([20]))
    assert [s.index for s in done] == [1, 2]
    assert done[0].missing == [(2, False), (0, True), (1, True), (2, True)]
    assert len(done[1].missing) == 6
    rest = asm.finish()
    assert [s.index for s in rest] == [3] and rest[0].signal_valid.tolist() == [False, True, False]
    np.testing.assert_array_equal(rest[0].cube()[:, :, 1], np.full((2, 3), 20))


def test_repairs_measure_a_few_frames_again_and_mark_bursts():
    sweep = SweepFrames.empty(0, 10, (2, 2), reference=True)
    for p in range(10):
        sweep.put(p, np.full((2, 2), 100, np.uint16), frame_number=p)
        sweep.put(p, np.full((2, 2), 90, np.uint16), reference=True, frame_number=p)
    sweep.signal_valid[[3, 7]] = False
    sweep.reference_valid[5] = False  # neighbours stand in for a missing reference
    plan = plan_repairs(sweep, max_remeasure=5)
    assert plan.remeasure == ((3, False), (7, False)) and plan.mark == ()
    sweep.signal_valid[:6] = False
    plan = plan_repairs(sweep, max_remeasure=5)
    assert plan.remeasure == () and plan.mark == (0, 1, 2, 3, 4, 5, 7)
    assert plan_repairs(sweep, remeasure=False).mark == plan.mark
    sweep.mark(plan.mark)
    assert sweep.valid.sum() == 3
    sweep.put(3, np.full((2, 2), 100, np.uint16))  # measured again: valid again
    assert sweep.valid[3] and sweep.frame_number[3] == -2


def test_missing_reference_levels_come_from_their_neighbours_in_list_order():
    plan = SweepPlan(4, "every", order=(3, 2, 1, 0))
    sweep = SweepFrames.empty(0, 4, (2, 2), reference=True)
    for p, level in zip(range(4), (100, 110, 120, 130)):
        sweep.put(p, np.full((2, 2), level, np.uint16), reference=True)
    sweep.reference_valid[1] = False
    levels = reference_levels(sweep, plan)
    np.testing.assert_allclose(levels, [100, 110, 120, 130])
