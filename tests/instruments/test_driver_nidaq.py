"""NI-DAQ drivers against test doubles of nidaqmx's Task and stream readers.

NI-DAQmx does not install on CI, so the doubles of ``nidaq_doubles.py`` stand in for it.
Every call the driver makes on them is checked against the signature of the real nidaqmx
method (a misspelt keyword fails here as it would on the bench), and every property it sets
must exist on the real nidaqmx channel class.  The doubles also play the hardware: the input
produces samples only while both the input and the clock task run, and a read asking for more
samples than the clock produced fails with NI-DAQmx's timeout error.
"""

from __future__ import annotations

from typing import Any

import nidaqmx
import nidaqmx.errors
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nidaq_doubles import OVERFLOW, TIMEOUT, FakeDAQ  # tests/instruments (conftest.py)
from nidaqmx.constants import (
    AcquisitionType,
    CountDirection,
    Edge,
    Level,
    LineGrouping,
    TaskMode,
    TerminalConfiguration,
    TriggerType,
)

from nvsense.instruments.drivers.nidaq import NIDAQ_NOT_INSTALLED, NIDAQCounter, NIDAQGate
from nvsense.instruments.errors import BenchConfigError, InstrumentError, LimitError
from nvsense.instruments.protocols import Counter, ExternalGate, Laser, MicrowaveTrigger
from nvsense.instruments.registry import build_instrument, find_driver


@pytest.fixture
def daq() -> FakeDAQ:
    return FakeDAQ()


def make_counter(daq: FakeDAQ, **options: Any) -> NIDAQCounter:
    options.setdefault("device", "Dev1")
    return NIDAQCounter(name="counter", task_factory=daq.task_factory,
                        reader_factory=daq.reader_factory, **options)


# --- counts mode ------------------------------------------------------------------------------


def test_init_does_no_io_and_connect_creates_the_channels(daq: FakeDAQ) -> None:
    counter = make_counter(daq, counter="ctr0", clock_counter="ctr1", source_terminal="PFI0",
                           edge="falling")
    assert daq.tasks == [] and daq.log == []
    assert isinstance(counter, Counter) and counter.kind == "counts"

    counter.connect()

    (co,) = daq.events("clock", "add_co_pulse_chan_freq")
    assert co["counter"] == "Dev1/ctr1" and co["idle_state"] == Level.LOW
    (ci,) = daq.events("counts", "add_ci_count_edges_chan")
    assert ci["counter"] == "Dev1/ctr0"
    assert ci["edge"] == Edge.FALLING and ci["initial_count"] == 0
    assert ci["count_direction"] == CountDirection.COUNT_UP
    assert {"name": "ci_count_edges_term", "value": "/Dev1/PFI0"} in daq.events("counts", "set")
    assert "PCIe-6363" in counter.identity and "1F2E3D4C" in counter.identity


def test_configure_clocks_the_counter_from_the_clock_counter(daq: FakeDAQ) -> None:
    counter = make_counter(daq)
    counter.connect()
    counter.configure(100, 2e-3, trigger_mw=True)

    clock_sets = {d["name"]: d["value"] for d in daq.events("clock", "set")}
    assert clock_sets["co_pulse_freq"] == pytest.approx(500.0)  # 1 / bin time
    assert clock_sets["co_pulse_duty_cyc"] == pytest.approx(0.5)
    assert clock_sets["co_pulse_term"] == "/Dev1/PFI12"  # routed to the microwave trigger
    (implicit,) = daq.events("clock", "cfg_implicit_timing")
    assert implicit["sample_mode"] == AcquisitionType.FINITE
    assert implicit["samps_per_chan"] == 101  # one edge per bin start, plus the final edge
    (clocking,) = daq.events("counts", "cfg_samp_clk_timing")
    assert clocking["source"] == "/Dev1/Ctr1InternalOutput"
    assert clocking["active_edge"] == Edge.RISING
    assert clocking["sample_mode"] == AcquisitionType.FINITE
    assert clocking["samps_per_chan"] == 101  # C[0] reference + one value per bin end
    assert clocking["rate"] == pytest.approx(500.0)
    commits = [(r, d["action"]) for r, e, d in daq.log if e == "control"]
    assert commits == [("counts", TaskMode.TASK_COMMIT), ("clock", TaskMode.TASK_COMMIT)]


def test_without_trigger_mw_the_clock_is_not_routed_to_the_microwave(daq: FakeDAQ) -> None:
    counter = make_counter(daq)
    counter.connect()
    counter.configure(10, 1e-3, trigger_mw=True)
    counter.configure(10, 1e-3, trigger_mw=False)
    assert daq.events("clock", "reset") == [{"name": "co_pulse_term"}]
    # The committed tasks are released before their settings change, then committed again.
    actions = [(r, d["action"]) for r, e, d in daq.log if e == "control"]
    assert actions[2:] == [("counts", TaskMode.TASK_UNRESERVE), ("clock", TaskMode.TASK_UNRESERVE),
                           ("counts", TaskMode.TASK_COMMIT), ("clock", TaskMode.TASK_COMMIT)]
    assert daq.task("clock").channels[0].props["co_pulse_term"] == "/Dev1/PFI13"


def test_acquire_returns_counts_per_bin_and_orders_start_and_stop(daq: FakeDAQ) -> None:
    counts = np.array([120, 95, 0, 3000, 118])
    daq.photons(counts, before=777)  # counts before edge 0 must not appear in any bin
    counter = make_counter(daq)
    counter.connect()
    counter.configure(5, 1e-3, trigger_mw=True)

    result = counter.acquire()

    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, counts)
    assert daq.sequence("start", "stop", "wait_until_done") == [
        ("counts", "start"), ("clock", "start"),  # input armed before the first clock edge
        ("clock", "wait_until_done"),  # the final edge reaches the microwave source
        ("clock", "stop"), ("counts", "stop"),
    ]
    # A second sweep with the same configuration starts from a fresh count.
    np.testing.assert_array_equal(counter.acquire(), counts)


def test_counter_rollover_at_2_to_the_32(daq: FakeDAQ) -> None:
    counts = np.array([10, 2**31, 2**31 + 5, 7, 2**32 - 1])
    daq.photons(counts, before=2**32 - 3)
    assert (np.diff(daq.cumulative.astype(np.int64)) < 0).sum() >= 2  # it does wrap
    counter = make_counter(daq)
    counter.connect()
    counter.configure(len(counts), 1e-3)
    np.testing.assert_array_equal(counter.acquire(), counts)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=300),
    before=st.integers(0, 2**32 - 1),
    bin_time=st.sampled_from([1e-4, 1e-3, 0.013, 0.1, 0.25]),
)
def test_counts_survive_any_chunking_and_wrap(counts: list[int], before: int,
                                              bin_time: float) -> None:
    daq = FakeDAQ()
    daq.photons(np.array(counts), before=before)
    counter = make_counter(daq)
    counter.connect()
    counter.configure(len(counts), bin_time)
    np.testing.assert_array_equal(counter.acquire(), np.array(counts, dtype=np.float64))


def test_long_acquisition_is_read_in_chunks_of_a_tenth_of_a_second(daq: FakeDAQ) -> None:
    rng = np.random.default_rng(1)
    counts = rng.poisson(50, size=50_000)
    daq.photons(counts, before=12)
    counter = make_counter(daq)
    counter.connect()
    counter.configure(len(counts), 1e-4)  # 5 s of data

    np.testing.assert_array_equal(counter.acquire(), counts)

    sizes = [n for n, _ in daq.reads]
    assert sum(sizes) == len(counts) + 1
    assert max(sizes) <= 1000  # ≤ 0.1 s of bins per read
    assert len(sizes) >= 50  # about ten reads per second of data
    assert all(timeout > 0 for _, timeout in daq.reads)


def test_continuous_mode_uses_a_ring_buffer_and_refuses_trigger_mw(daq: FakeDAQ) -> None:
    counts = np.arange(30_000) % 97
    daq.photons(counts)
    counter = make_counter(daq, sample_mode="continuous")
    counter.connect()
    with pytest.raises(BenchConfigError, match="sample_mode"):
        counter.configure(100, 1e-3, trigger_mw=True)

    counter.configure(len(counts), 1e-4)
    (implicit,) = daq.events("clock", "cfg_implicit_timing")
    assert implicit["sample_mode"] == AcquisitionType.CONTINUOUS
    (clocking,) = daq.events("counts", "cfg_samp_clk_timing")
    assert clocking["sample_mode"] == AcquisitionType.CONTINUOUS
    assert clocking["samps_per_chan"] >= 10 * 1000  # ring of ≥ 10 reads
    np.testing.assert_array_equal(counter.acquire(), counts)
    assert daq.events("clock", "wait_until_done") == []
    assert max(n for n, _ in daq.reads) <= 1000


def test_read_error_becomes_instrument_error_and_tasks_stop(daq: FakeDAQ) -> None:
    daq.photons(np.full(50_000, 3))
    counter = make_counter(daq)
    counter.connect()
    counter.configure(50_000, 1e-4)

    def overflow(read_number: int) -> None:
        if read_number == 3:
            raise nidaqmx.errors.DaqReadError(
                "Attempted to read samples that are no longer available.", OVERFLOW, 0,
                task_name="x")

    daq.on_read = overflow
    with pytest.raises(InstrumentError) as info:
        counter.acquire()
    error = info.value
    assert error.instrument == "counter (Dev1)"
    assert "Dev1/ctr0" in error.command
    assert str(OVERFLOW) in error.cause and "no longer available" in error.cause
    assert not daq.task("clock").running and not daq.task("counts").running
    assert daq.sequence("stop")[-2:] == [("clock", "stop"), ("counts", "stop")]


def test_no_clock_edges_times_out_with_an_instrument_error(daq: FakeDAQ) -> None:
    daq.photons(np.ones(4))  # the card latches only 5 of the 11 values asked for
    counter = make_counter(daq)
    counter.connect()
    counter.configure(10, 1e-3)
    with pytest.raises(InstrumentError, match="timed out") as info:
        counter.acquire(timeout=0.5)
    assert str(TIMEOUT) in info.value.cause
    assert all(0 < t <= 0.5 for _, t in daq.reads)
    assert not daq.task("clock").running


def test_safe_from_another_thread_stops_a_running_acquisition(daq: FakeDAQ) -> None:
    daq.photons(np.ones(20_000))
    counter = make_counter(daq)
    counter.connect()
    counter.configure(20_000, 1e-4)
    daq.on_read = lambda n: counter.safe() if n == 2 else None  # as a GUI thread would
    with pytest.raises(InstrumentError, match="stopped by safe"):
        counter.acquire()
    assert len(daq.reads) == 2  # no further reads once stopped
    assert not daq.task("clock").running
    # safe() released the resources; the next acquisition works again.
    daq.on_read = None
    np.testing.assert_array_equal(counter.acquire(), np.ones(20_000))


def test_safe_after_a_failure_never_raises(daq: FakeDAQ) -> None:
    counter = make_counter(daq)
    counter.safe()  # not even connected
    counter.connect()
    counter.configure(10, 1e-3)
    daq.failures[("clock", "stop")] = nidaqmx.errors.DaqError("Device gone", -201003)
    daq.failures[("counts", "control")] = nidaqmx.errors.DaqError("Device gone", -201003)
    counter.safe()
    assert ("counts", "stop") in daq.sequence("stop")  # still stops the input


def test_stop_failure_is_reported_after_stopping_the_input_too(daq: FakeDAQ) -> None:
    daq.photons(np.ones(10))
    counter = make_counter(daq)
    counter.connect()
    counter.configure(10, 1e-3)
    daq.failures[("clock", "stop")] = nidaqmx.errors.DaqError("Device gone", -201003)
    with pytest.raises(InstrumentError, match="stop the bin clock") as info:
        counter.acquire()
    assert "-201003" in info.value.cause
    assert not daq.task("counts").running


def test_start_failure_names_the_operation_and_stops_both(daq: FakeDAQ) -> None:
    counter = make_counter(daq)
    counter.connect()
    counter.configure(10, 1e-3, trigger_mw=True)
    daq.failures[("clock", "start")] = nidaqmx.errors.DaqError(
        "Specified route cannot be satisfied, because it requires resources that are currently "
        "in use by another route.", -89137)
    with pytest.raises(InstrumentError, match="start the acquisition") as info:
        counter.acquire()
    assert "-89137" in info.value.cause and "PFI" in info.value.cause  # the hint
    assert ("counts", "stop") in daq.sequence("stop")


def test_connect_failure_closes_what_was_created(daq: FakeDAQ) -> None:
    daq.failures[("counts", "add_ci_count_edges_chan")] = nidaqmx.errors.DaqError(
        "Device identifier is invalid.", -200220)
    counter = make_counter(daq, device="Dev7")
    with pytest.raises(InstrumentError) as info:
        counter.connect()
    assert info.value.instrument == "counter (Dev7)"
    assert "Dev7/ctr0" in info.value.command and "-200220" in info.value.cause
    assert all(t.closed for t in daq.tasks)
    assert not counter.connected


def test_clock_terminal_on_the_clock_counters_default_output_is_refused(daq: FakeDAQ) -> None:
    counter = make_counter(daq, clock_terminal="PFI13")  # ctr1 drives PFI13 by default
    with pytest.raises(BenchConfigError, match="clock_terminal"):
        counter.connect()
    assert all(t.closed for t in daq.tasks)


def test_close_is_idempotent_and_clears_clock_first(daq: FakeDAQ) -> None:
    counter = make_counter(daq)
    counter.connect()
    counter.close()
    counter.close()
    assert daq.sequence("close") == [("clock", "close"), ("counts", "close")]
    with pytest.raises(InstrumentError, match="not connected"):
        counter.configure(10, 1e-3)


def test_out_of_range_settings_raise_before_anything_is_sent(daq: FakeDAQ) -> None:
    counter = make_counter(daq)
    counter.connect()
    before = len(daq.log)
    for n_bins, bin_time in [(0, 1e-3), (10, 1e-7), (10, 60.0), (10, float("nan")),
                             (2.5, 1e-3), (True, 1e-3)]:
        with pytest.raises(LimitError):
            counter.configure(n_bins, bin_time)  # type: ignore[arg-type]
    assert len(daq.log) == before
    with pytest.raises(InstrumentError, match="not configured"):
        counter.acquire()


def test_bench_options_accept_units_and_name_bad_keys(daq: FakeDAQ) -> None:
    counter = make_counter(daq, kind="volts", ai_min="-2 V", ai_max="2000 mV",
                           ai_max_rate="100 kHz", timeout="3 s")
    assert (counter.ai_min, counter.ai_max, counter.ai_max_rate, counter.timeout) == (
        -2.0, 2.0, 100e3, 3.0)
    with pytest.raises(BenchConfigError, match="timeout"):
        make_counter(daq, timeout="3 V")
    with pytest.raises(BenchConfigError, match="clock_counter"):
        make_counter(daq, counter="ctr1", clock_counter="ctr1")
    with pytest.raises(BenchConfigError, match="kind"):
        make_counter(daq, kind="photons")
    with pytest.raises(BenchConfigError, match="ai_min"):
        make_counter(daq, ai_min=5, ai_max=1)
    assert daq.tasks == []


# --- volts mode -------------------------------------------------------------------------------


def test_volts_mode_averages_oversampled_bins(daq: FakeDAQ) -> None:
    counter = make_counter(daq, kind="volts", ai_channel="ai3", ai_min=-1, ai_max=1,
                           ai_terminal="diff")
    assert isinstance(counter, Counter) and counter.kind == "volts"
    counter.connect()
    (ai,) = daq.events("volts", "add_ai_voltage_chan")
    assert ai["physical_channel"] == "Dev1/ai3"
    assert (ai["min_val"], ai["max_val"]) == (-1.0, 1.0)
    assert ai["terminal_config"] == TerminalConfiguration.DIFF

    n_bins, bin_time = 40, 1e-3
    counter.configure(n_bins, bin_time, trigger_mw=True)
    # 1 ms = 100 000 ticks; at ≤ 250 kS/s the largest divisor is 250 samples per bin.
    (clocking,) = daq.events("volts", "cfg_samp_clk_timing")
    assert clocking["rate"] == pytest.approx(250e3) and clocking["source"] == ""
    assert clocking["samps_per_chan"] == n_bins * 250
    (trigger,) = daq.events("volts", "cfg_dig_edge_start_trig")
    assert trigger["trigger_source"] == "/Dev1/Ctr1InternalOutput"
    assert trigger["trigger_edge"] == Edge.RISING
    (implicit,) = daq.events("clock", "cfg_implicit_timing")
    assert implicit["samps_per_chan"] == n_bins + 1  # same edges to the microwave as counts
    assert {"name": "co_pulse_term", "value": "/Dev1/PFI12"} in daq.events("clock", "set")

    levels = np.linspace(0.2, 0.3, n_bins)
    ripple = np.sin(np.linspace(0, 2 * np.pi, 250, endpoint=False))  # averages to zero
    daq.volts = (levels[:, None] + 0.05 * ripple[None, :]).ravel()
    np.testing.assert_allclose(counter.acquire(), levels, atol=1e-12)
    assert all(n % 250 == 0 for n, _ in daq.reads)  # chunks hold whole bins


def test_volts_oversample_divides_the_bin_exactly(daq: FakeDAQ) -> None:
    counter = make_counter(daq, kind="volts")
    counter.connect()
    counter.configure(10, 0.7e-3)  # 70 000 ticks; ≤ 175 samples at 250 kS/s
    (clocking,) = daq.events("volts", "cfg_samp_clk_timing")
    assert clocking["samps_per_chan"] == 10 * 175
    assert 70_000 % 175 == 0


def test_volts_one_sample_per_bin_is_taken_mid_bin_on_the_clock(daq: FakeDAQ) -> None:
    counter = make_counter(daq, kind="volts", oversample=1)
    counter.connect()
    counter.configure(20, 5e-3)
    (clocking,) = daq.events("volts", "cfg_samp_clk_timing")
    assert clocking["source"] == "/Dev1/Ctr1InternalOutput"
    assert clocking["active_edge"] == Edge.FALLING
    assert clocking["samps_per_chan"] == 20
    assert daq.events("volts", "disable_start_trig") == [{}]
    daq.volts = np.arange(20) * 0.01
    np.testing.assert_allclose(counter.acquire(), np.arange(20) * 0.01)


def test_volts_refuses_a_sample_clock_that_drifts_from_the_bins(daq: FakeDAQ) -> None:
    daq.coerce_rate = lambda rate: rate * 1.001  # what the card would give for oversample=7
    counter = make_counter(daq, kind="volts", oversample=7)
    counter.connect()
    with pytest.raises(LimitError, match="drift"):
        counter.configure(100, 1e-3)
    assert daq.events("volts", "start") == []
    with pytest.raises(InstrumentError, match="not configured"):
        counter.acquire()


# --- NI-DAQmx missing -------------------------------------------------------------------------


def _nidaqmx_installed() -> bool:
    try:
        task = nidaqmx.Task()
    except nidaqmx.errors.DaqNotFoundError:
        return False
    task.close()
    return True


@pytest.mark.skipif(_nidaqmx_installed(), reason="NI-DAQmx is installed on this computer")
@pytest.mark.parametrize("cls", [NIDAQCounter, NIDAQGate])
def test_missing_nidaqmx_says_how_to_install_it(cls: type) -> None:
    instrument = cls(name="x", device="Dev1", **({"power": 0.05} if cls is NIDAQGate else {}))
    with pytest.raises(InstrumentError) as info:
        instrument.connect()  # the real nidaqmx, no doubles
    message = str(info.value)
    assert info.value.cause == NIDAQ_NOT_INSTALLED
    assert "NI-DAQmx is not installed" in message
    assert "python -m nidaqmx installdriver" in message
    assert "simulated bench" in message
    assert isinstance(info.value.__cause__, nidaqmx.errors.DaqNotFoundError)
    instrument.safe()  # still never raises
    instrument.close()


# --- gated counting ---------------------------------------------------------------------------


def test_gated_counting_programs_a_pause_trigger_on_the_photon_counter(daq: FakeDAQ) -> None:
    counter = make_counter(daq, gate_terminal="PFI1")
    assert isinstance(counter, ExternalGate) and isinstance(counter, MicrowaveTrigger)
    counter.connect()
    counter.configure(10, 1e-3)
    assert daq.events("counts", "pause_trigger") == []  # not gated: the task's default
    counter.set_gate(True)
    counter.configure(10, 1e-3)
    assert daq.events("counts", "pause_trigger") == [
        {"name": "trig_type", "value": TriggerType.DIGITAL_LEVEL},
        {"name": "dig_lvl_src", "value": "/Dev1/PFI1"},
        {"name": "dig_lvl_when", "value": Level.LOW},  # pause while low: count while high
    ]
    assert counter.gate == {"enabled": True, "active": "high", "terminal": "PFI1"}
    counter.set_gate(True, active="low")
    counter.configure(10, 1e-3)
    assert daq.events("counts", "pause_trigger")[-1] == {"name": "dig_lvl_when",
                                                         "value": Level.HIGH}
    counter.set_gate(False)
    counter.configure(10, 1e-3)
    assert daq.events("counts", "pause_trigger")[-1] == {"name": "trig_type",
                                                         "value": TriggerType.NONE}
    assert daq.events("clock", "pause_trigger") == []  # the bin clock is never paused
    daq.photons(np.array([5, 0, 7, 1, 0, 0, 3, 2, 9, 4]))
    assert counter.acquire().tolist() == [5, 0, 7, 1, 0, 0, 3, 2, 9, 4]


def test_snapshots_report_wiring_and_the_bin_time_the_card_accepted(daq: FakeDAQ) -> None:
    counter = make_counter(daq, gate_terminal="PFI1")
    counter.connect()
    counter.configure(100, 2e-3, trigger_mw=True)
    snap = counter.snapshot()
    assert snap["configuration"] == {
        "n_bins": 100, "bin_time": {"value": 2e-3, "unit": "s"},
        "bin_time_read_back": {"value": pytest.approx(2e-3), "unit": "s"},
        "trigger_mw": True, "oversample": 1}
    assert (snap["counter"], snap["clock_terminal"], snap["gate"]["terminal"]) == (
        "ctr0", "PFI12", "PFI1")
    gate = make_gate(daq, power="50 mW")
    gate.connect()
    gate.on = True
    assert gate.snapshot()["on"] is True
    assert gate.snapshot()["power"] == {"value": 0.05, "unit": "W"}


def test_gating_needs_a_wired_gate_and_counts_mode(daq: FakeDAQ) -> None:
    with pytest.raises(BenchConfigError, match="gate_terminal"):
        make_counter(daq).set_gate(True)
    with pytest.raises(BenchConfigError, match="kind: counts"):
        make_counter(daq, kind="volts", gate_terminal="PFI1").set_gate(True)
    make_counter(daq).set_gate(False)  # switching it off is always fine


# --- digital gate -----------------------------------------------------------------------------


def make_gate(daq: FakeDAQ, **options: Any) -> NIDAQGate:
    return NIDAQGate(name="laser", device="Dev1", task_factory=daq.task_factory, **options)


def writes(daq: FakeDAQ) -> list[bool]:
    return [d["data"] for d in daq.events("gate", "write")]


def test_gate_switches_the_do_line(daq: FakeDAQ) -> None:
    gate = make_gate(daq, line="port0/line3", power="50 mW")
    assert isinstance(gate, Laser) and daq.tasks == []
    gate.connect()
    (do,) = daq.events("gate", "add_do_chan")
    assert do["lines"] == "Dev1/port0/line3"
    assert do["line_grouping"] == LineGrouping.CHAN_PER_LINE
    assert writes(daq) == [False] and gate.on is False  # connect leaves the laser off

    gate.on = True
    assert writes(daq)[-1] is True and gate.on is True
    gate.standby()
    assert writes(daq)[-1] is False and gate.on is False
    gate.on = True
    gate.safe("standby")
    assert writes(daq)[-1] is False and gate.on is False


def test_active_low_gate_inverts_the_level(daq: FakeDAQ) -> None:
    gate = make_gate(daq, power=0.02, active_low=True)
    gate.connect()
    gate.on = True
    gate.on = False
    assert writes(daq) == [True, False, True]


def test_gate_power_is_fixed(daq: FakeDAQ) -> None:
    gate = make_gate(daq, power="50 mW")
    gate.connect()
    assert gate.power == pytest.approx(0.05)
    assert (gate.limits.power_min, gate.limits.power_max) == (gate.power, gate.power)
    sent = len(daq.log)
    gate.power = 0.05  # the nominal power is accepted
    with pytest.raises(LimitError, match="fixed at 50 mW"):
        gate.power = 0.03
    assert len(daq.log) == sent  # nothing was sent either way
    with pytest.raises(BenchConfigError, match="power"):
        make_gate(daq)


def test_gate_failures_and_close(daq: FakeDAQ) -> None:
    gate = make_gate(daq, power=0.05)
    gate.connect()
    gate.on = True
    daq.failures[("gate", "write")] = nidaqmx.errors.DaqError("Device gone", -201003)
    with pytest.raises(InstrumentError) as info:
        gate.on = False
    assert info.value.instrument == "laser (Dev1)" and "-201003" in info.value.cause
    assert "Dev1/port0/line0" in info.value.command
    assert gate.on is True  # the state follows what was really written
    gate.safe()  # never raises
    del daq.failures[("gate", "write")]
    gate.close()
    gate.close()
    assert writes(daq)[-1] is False  # close leaves the laser off
    assert daq.sequence("close") == [("gate", "close")]
    with pytest.raises(InstrumentError, match="not connected"):
        gate.on = True
    gate.safe()


@pytest.mark.parametrize(("slot", "driver", "cls"), [("counter", "nidaq", NIDAQCounter),
                                                    ("laser", "nidaq_gate", NIDAQGate)])
def test_bench_registry_builds_the_drivers_without_io(slot: str, driver: str, cls: type) -> None:
    info = find_driver(slot, driver)
    assert info.load() is cls and info.description
    instrument = build_instrument(slot, driver, dict(info.example))  # no doubles: no I/O allowed
    assert isinstance(instrument, cls) and instrument.name == slot
    assert isinstance(instrument, Counter if slot == "counter" else Laser)
    with pytest.raises(BenchConfigError, match="did you mean"):
        build_instrument(slot, driver, {**info.example, "devcie": "Dev2"})
