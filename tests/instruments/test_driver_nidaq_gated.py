"""The NI counter gated by the pulser, as the pulsed read-out protocol: one value per window,
several windows per pass, summed over passes (against the nidaqmx doubles)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nidaq_doubles import FakeDAQ, overflow_error  # tests/instruments (conftest.py)
from nidaqmx.constants import AcquisitionType, Edge, Level, OverwriteMode, TaskMode, TriggerType

from nvsense.instruments.drivers.nidaq import NIDAQGatedCounter
from nvsense.instruments.errors import BenchConfigError, InstrumentError, LimitError
from nvsense.instruments.gated_counter import GatedCounter
from nvsense.pulses import rabi


class Clock:
    """A clock that moves only when the driver sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def make(daq: FakeDAQ, clock: Clock | None = None, **options: Any) -> NIDAQGatedCounter:
    clock = clock or Clock()
    return NIDAQGatedCounter("gated_counter", task_factory=daq.task_factory,
                             reader_factory=daq.reader_factory, sleep=clock.sleep, clock=clock,
                             **options)


def latches(window_counts: np.ndarray) -> np.ndarray:
    """What the counter latches at the end of each window: the running total (32 bits)."""
    return (np.cumsum(np.asarray(window_counts, np.int64)) % 2**32).astype(np.uint32)


def test_the_gate_pauses_the_counter_and_latches_it_at_each_windows_end():
    daq = FakeDAQ()
    counter = make(daq, counter="ctr2", source_terminal="PFI0", gate_terminal="PFI5",
                   edge="falling")
    counter.connect()
    assert isinstance(counter, GatedCounter)
    (ci,) = daq.events("gated", "add_ci_count_edges_chan")
    assert ci["counter"] == "Dev1/ctr2" and ci["edge"] == Edge.FALLING and ci["initial_count"] == 0
    assert {"name": "ci_count_edges_term", "value": "/Dev1/PFI0"} in daq.events("gated", "set")
    counter.configure(6, 1000)
    (timing,) = daq.events("gated", "cfg_samp_clk_timing")
    assert timing["source"] == "/Dev1/PFI5" and timing["active_edge"] == Edge.FALLING
    assert timing["sample_mode"] == AcquisitionType.CONTINUOUS
    pause = {d["name"]: d["value"] for d in daq.events("gated", "pause_trigger")}
    assert pause == {"trig_type": TriggerType.DIGITAL_LEVEL, "dig_lvl_src": "/Dev1/PFI5",
                     "dig_lvl_when": Level.LOW}
    assert {"name": "over_write", "value": OverwriteMode.DO_NOT_OVERWRITE_UNREAD_SAMPLES} in \
        daq.events("gated", "stream")
    assert daq.events("gated", "control")[-1]["action"] == TaskMode.TASK_COMMIT
    assert counter.configuration == {"windows_per_pass": 6, "passes": 1000}


def test_windows_are_summed_per_window_over_passes_with_register_wrap():
    daq = FakeDAQ()
    rng = np.random.default_rng(2)
    windows, passes = 5, 400
    counts = rng.poisson([30, 10, 30, 12, 29], size=(passes, windows))
    counts[17, 3], counts[200, 1] = 2**31, 2**31 + 5  # the 32-bit register wraps
    daq.cumulative = latches(counts.ravel())
    assert (np.diff(daq.cumulative.astype(np.int64)) < 0).any()
    counter = make(daq)
    counter.connect()
    counter.configure(windows, passes)
    counter.arm()
    sums = counter.read(timeout=10)
    np.testing.assert_array_equal(sums, counts.sum(axis=0))
    assert sums.dtype == np.float64
    assert not daq.task("gated").running  # stopped, ready to arm again
    # the same configuration counts again from zero
    counter.arm()
    np.testing.assert_array_equal(counter.read(timeout=10), counts.sum(axis=0))


@settings(max_examples=40, deadline=None)
@given(windows=st.integers(1, 7), passes=st.integers(1, 30), seed=st.integers(0, 2**16),
       arrivals=st.lists(st.integers(1, 50), min_size=1, max_size=8))
def test_any_arrival_pattern_gives_the_same_sums(windows, passes, seed, arrivals):
    """Windows arrive in any bursts (the driver reads what is there); the sums do not depend
    on how they were cut."""
    daq = FakeDAQ()
    counts = np.random.default_rng(seed).integers(0, 2**20, size=(passes, windows))
    daq.cumulative = latches(counts.ravel())
    steps = iter(np.cumsum(arrivals * (counts.size // len(arrivals) + 2)))
    clock = Clock()
    daq.arrived = 0

    def more(seconds: float) -> None:  # time passes: the next burst of windows arrives
        clock.now += seconds
        daq.arrived = int(next(steps, counts.size))

    counter = NIDAQGatedCounter("gated_counter", task_factory=daq.task_factory,
                                reader_factory=daq.reader_factory, sleep=more, clock=clock)
    counter.connect()
    counter.configure(windows, passes)
    counter.arm()
    np.testing.assert_array_equal(counter.read(), counts.sum(axis=0))


def test_a_pulse_program_arranges_the_sums_as_points_and_readouts():
    program = rabi(np.arange(0, 100e-9, 20e-9), references=("ref0",))
    windows = program.windows_per_pass
    daq = FakeDAQ()
    per_window = np.arange(1, windows + 1)
    daq.cumulative = latches(np.tile(per_window, 3))
    counter = make(daq)
    counter.connect()
    counter.configure(windows, 3)
    counter.arm()
    table = program.by_point(counter.read(timeout=1))
    assert table.shape == (program.n_points, len(program.readouts))
    assert table.sum() == 3 * per_window.sum()


def test_a_pulser_that_stops_is_a_timeout_naming_the_windows_counted():
    daq = FakeDAQ()
    daq.cumulative = latches(np.ones(30, dtype=np.int64))  # 30 of 50 windows ever come
    counter = make(daq, timeout="2 s", gate_terminal="PFI3")
    counter.connect()
    counter.configure(5, 10)
    counter.arm()
    with pytest.raises(InstrumentError) as info:
        counter.read()
    message = str(info.value)
    assert "timed out after 2 s with 30 of 50 windows counted" in message
    assert "PFI3" in message
    with pytest.raises(InstrumentError, match="not armed"):
        counter.read()


def test_lost_windows_are_reported():
    daq = FakeDAQ()
    daq.cumulative = latches(np.ones(100, dtype=np.int64))
    counter = make(daq)
    counter.connect()
    counter.configure(10, 10)
    counter.arm()
    daq.failures[("gated", "read")] = overflow_error("gated")
    with pytest.raises(InstrumentError, match="windows lost after 0 of 100: the buffer "
                                              "overflowed"):
        counter.read(timeout=1)


def test_configuration_checks_and_safe():
    daq = FakeDAQ()
    counter = make(daq)
    with pytest.raises(InstrumentError, match="not connected"):
        counter.configure(2, 2)
    counter.connect()
    for bad in ((0, 5), (3, 0), (2.5, 4), (True, 3)):
        with pytest.raises(LimitError):
            counter.configure(*bad)
    with pytest.raises(InstrumentError, match="not configured"):
        counter.arm()
    counter.configure(2, 2)
    counter.arm()
    counter.safe()
    assert not daq.task("gated").running
    assert daq.events("gated", "control")[-1]["action"] == TaskMode.TASK_UNRESERVE
    snap = counter.snapshot()
    assert snap["gate_terminal"] == "PFI1" and snap["configuration"]["passes"] == 2
    counter.close()
    counter.close()
    with pytest.raises(BenchConfigError, match="need two lines"):
        make(daq, source_terminal="PFI1", gate_terminal="pfi1")
