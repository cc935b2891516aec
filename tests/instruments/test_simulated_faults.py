"""Injected faults fire when the bench file says, and real-time pacing follows the wall clock."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.instruments import InstrumentError, load_bench
from nvsense.instruments.simulated import SimulatedCounter, SimulatedSample


def simulated(faults=None, **sample):
    sample = {"seed": 1, **sample}
    if faults:
        sample["faults"] = faults
    return load_bench({"sample": sample})


def sweeps(bench, n_sweeps, n_points=51, bin_time=1e-3):
    """Run hardware-timed sweeps; return (kept sweeps, errors by sweep number)."""
    freqs = np.linspace(2.8e9, 2.94e9, n_points)
    bench.mw.load_list(freqs, -10.0)
    bench.mw.start_list()
    bench.counter.configure(n_points, bin_time, trigger_mw=True)
    kept, errors = [], {}
    for number in range(1, n_sweeps + 1):
        try:
            kept.append(bench.counter.acquire())
        except InstrumentError as exc:
            errors[number] = exc
    return kept, errors


def test_counter_timeout_at_sweep_3_keeps_two_sweeps_then_recovers():
    with simulated({"counter_timeout_at_sweep": 3}) as bench:
        bench.laser.on = True
        kept, errors = sweeps(bench, 2)
        assert len(kept) == 2 and not errors
        with pytest.raises(InstrumentError, match="counter_timeout_at_sweep") as info:
            bench.counter.acquire()
        assert info.value.instrument == "counter"
        assert "timed out" in info.value.cause
        assert bench.counter.acquire().shape == (51,)  # a timeout is transient


def test_single_bin_acquisitions_are_not_sweeps():
    with simulated({"counter_timeout_at_sweep": 2}) as bench:
        bench.counter.configure(1, 1e-3)
        for _ in range(10):
            bench.counter.acquire()
        _kept, errors = sweeps(bench, 3)
        assert list(errors) == [2]


def test_counter_timeout_at_time_fires_in_the_acquisition_that_spans_it():
    with simulated({"counter_timeout_at_time": "0.25 s"}) as bench:
        kept, errors = sweeps(bench, 8, n_points=100, bin_time=1e-3)  # 0.1 s per sweep
        assert list(errors) == [3]  # the sweep from 0.2 to 0.3 s
        assert len(kept) == 7


def test_mw_disconnect_at_time_then_bench_still_makes_the_laser_safe():
    bench = simulated({"mw_disconnect_at_time": "2 s"})
    bench.connect()
    bench.laser.on = True
    bench.mw.output = True
    bench.counter.configure(1000, 1e-3)
    bench.counter.acquire()  # simulated time 1 s
    bench.mw.frequency = 2.88e9
    bench.counter.acquire()  # 2 s
    with pytest.raises(InstrumentError, match="connection lost") as info:
        bench.mw.frequency = 2.86e9
    assert "mw_disconnect_at_time" in str(info.value)
    report = bench.safe()
    assert report[0].startswith("mw: NOT made safe")
    assert "laser: off" in report and "counter: stopped" in report
    assert set(bench.safe_errors) == {"mw"}
    assert bench.laser.inner.sample.laser.on is False
    bench.close()
    bench.connect()  # reconnecting restores the link: the fault is spent
    bench.mw.frequency = 2.86e9
    bench.close()


def test_disconnect_at_sweep_counts_the_counters_sweeps():
    with simulated({"laser_disconnect_at_sweep": 2}) as bench:
        bench.laser.on = True
        sweeps(bench, 1)
        bench.laser.power = 0.2
        sweeps(bench, 1)
        with pytest.raises(InstrumentError, match="laser_disconnect_at_sweep"):
            bench.laser.power = 0.3


def test_counter_disconnect_persists_until_reconnect():
    with simulated({"counter_disconnect_at_sweep": 2}) as bench:
        kept, errors = sweeps(bench, 4)
        assert len(kept) == 1 and list(errors) == [2, 3, 4]
        assert all("connection lost" in str(e) for e in errors.values())
        bench.counter.connect()
        assert bench.counter.acquire().shape == (51,)


def test_acquire_timeout_shorter_than_the_acquisition():
    with simulated() as bench:
        bench.counter.configure(100, 0.01)
        with pytest.raises(InstrumentError, match=r"timed out after 0\.5 s"):
            bench.counter.acquire(timeout=0.5)
        assert bench.counter.acquire(timeout=2.0).shape == (100,)


class FakeClock:
    """Wall clock for pacing tests: sleeping advances it, nothing waits."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_fast_pace_costs_no_wall_time():
    clock = FakeClock()
    s = SimulatedSample({"seed": 1}, clock=clock, sleep=clock.sleep)
    counter = SimulatedCounter("counter", s)
    counter.connect()
    counter.configure(1000, 1e-3)
    counter.acquire()
    assert s.time == pytest.approx(1.0)
    assert clock.slept == []


def test_realtime_pace_waits_for_the_data_and_lets_idle_time_pass():
    clock = FakeClock()
    s = SimulatedSample({"seed": 1, "pace": "realtime"}, clock=clock, sleep=clock.sleep)
    counter = SimulatedCounter("counter", s)
    counter.connect()
    counter.configure(500, 1e-3)
    counter.acquire()
    assert sum(clock.slept) == pytest.approx(0.5)
    assert s.time == pytest.approx(0.5)
    clock.now += 3.0  # the GUI idles for 3 s: simulated time keeps up
    counter.acquire()
    assert s.time == pytest.approx(4.0)
    assert sum(clock.slept) == pytest.approx(1.0)


def test_pace_can_be_switched_by_the_gui():
    clock = FakeClock()
    s = SimulatedSample({"seed": 1}, clock=clock, sleep=clock.sleep)
    counter = SimulatedCounter("counter", s)
    counter.connect()
    counter.configure(100, 1e-3)
    counter.acquire()
    s.pace = "realtime"
    counter.acquire()
    assert s.time == pytest.approx(0.2) and sum(clock.slept) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="fast"):
        s.pace = "slow"
    assert load_bench(pace="realtime").sample.pace == "realtime"
