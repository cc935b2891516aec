"""NI analog input (continuous, multi-channel, blocks, overflow) and the NI FM drive (a sine on
the analog input's sample clock), against the nidaqmx doubles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from nidaq_doubles import FakeDAQ, overflow_error  # tests/instruments (conftest.py)
from nidaqmx.constants import AcquisitionType, Edge, OverwriteMode, RegenerationMode, TaskMode
from nidaqmx.constants import TerminalConfiguration as TC

from nvsense.dsp import ClockReference, SoftwareLockIn
from nvsense.instruments import load_bench
from nvsense.instruments.analog_input import AnalogInputStream
from nvsense.instruments.drivers.nidaq import NIDAQAnalogInput, NIDAQFMDrive
from nvsense.instruments.errors import (
    BenchConfigError,
    CapabilityError,
    InstrumentError,
    LimitError,
)
from nvsense.instruments.fm_drive import FMDrive, whole_period_buffer
from nvsense.instruments.simulated import SimulatedMicrowave, SimulatedSample

CHANNELS = {"s0.signal": "ai0", "s0.reference": "ai1",
            "sync": {"channel": "ai2", "min": "-1 V", "max": "1 V"},
            "trigger": {"channel": "ai3", "terminal": "rse", "min": 0, "max": "5 V"}}


@pytest.fixture
def daq() -> FakeDAQ:
    return FakeDAQ()


def make_ai(daq: FakeDAQ, **options: Any) -> NIDAQAnalogInput:
    options.setdefault("channels", CHANNELS)
    return NIDAQAnalogInput("analog_input", task_factory=daq.task_factory,
                            reader_factory=daq.ai_reader_factory, **options)


def make_fm(daq: FakeDAQ, ai: Any, **options: Any) -> tuple[NIDAQFMDrive, SimulatedMicrowave]:
    mw = SimulatedMicrowave("mw", SimulatedSample())
    mw.connect()
    mw.frequency = 2.87e9
    fm = NIDAQFMDrive("fm_drive", task_factory=daq.task_factory,
                      writer_factory=daq.writer_factory, **options)
    fm.bind(mw, ai)
    return fm, mw


# --- analog input -------------------------------------------------------------------------


def test_connect_creates_every_named_channel_with_its_range(daq):
    ai = make_ai(daq, ai_terminal="diff")
    assert daq.tasks == []  # no I/O before connect
    ai.connect()
    assert isinstance(ai, AnalogInputStream)
    added = daq.events("ai", "add_ai_voltage_chan")
    assert [a["physical_channel"] for a in added] == ["Dev1/ai0", "Dev1/ai1", "Dev1/ai2",
                                                      "Dev1/ai3"]
    assert [a["terminal_config"] for a in added] == [TC.DIFF, TC.DIFF, TC.DIFF, TC.RSE]
    assert (added[2]["min_val"], added[2]["max_val"]) == (-1.0, 1.0)
    assert ai.available_channels == ("s0.signal", "s0.reference", "sync", "trigger")
    assert "PCIe-6363" in ai.identity
    assert ai.sample_clock_terminal == "/Dev1/ai/SampleClock"


def test_configure_selects_channels_in_order_on_a_continuous_clock(daq):
    ai = make_ai(daq, buffer_time="2 s")
    ai.connect()
    rate = ai.configure(["sync", "s0.signal"], 200e3, 20_000)
    assert rate == 200e3
    task = daq.task("ai")
    assert [c.physical for c in task.channels] == ["Dev1/ai2", "Dev1/ai0"]
    (timing,) = daq.events("ai", "cfg_samp_clk_timing")
    assert timing["source"] == "" and timing["active_edge"] == Edge.RISING
    assert timing["sample_mode"] == AcquisitionType.CONTINUOUS
    assert timing["samps_per_chan"] == 400_000  # 2 s of buffer
    assert {"name": "over_write", "value": OverwriteMode.DO_NOT_OVERWRITE_UNREAD_SAMPLES} in \
        daq.events("ai", "stream")
    assert [d["action"] for d in daq.events("ai", "control")] == [TaskMode.TASK_COMMIT]
    assert ai.channels == ("sync", "s0.signal") and ai.sample_rate == 200e3


def test_blocks_follow_each_other_and_report_clipping(daq):
    ai = make_ai(daq)
    ai.connect()
    ai.configure(["s0.signal", "sync"], 250e3, 1000)
    rng = np.random.default_rng(1)
    daq.ai_data = np.vstack([1.4 + 1e-3 * rng.standard_normal(3000),
                             0.9 * np.sin(np.arange(3000) / 7.0)])
    daq.ai_data[1, 1500] = 1.0  # the sync channel (±1 V range) reaches its end in block 1
    ai.start()
    blocks = [ai.read() for _ in range(3)]
    assert [b.first_sample for b in blocks] == [0, 1000, 2000]
    np.testing.assert_array_equal(np.hstack([b.data for b in blocks]), daq.ai_data[:2])
    np.testing.assert_allclose(blocks[2].time, (2000 + np.arange(1000)) / 250e3)
    assert [b.overrange for b in blocks] == [(False, False), (False, True), (False, False)]
    assert blocks[0].channel("sync").shape == (1000,)
    assert all(t > 1000 / 250e3 for _, t in daq.reads)  # the block's duration, and more
    ai.stop()
    assert not ai.running


def test_a_buffer_overflow_is_reported_with_the_sample_where_data_stop(daq):
    ai = make_ai(daq, buffer_time="1 s")
    ai.connect()
    ai.configure(["s0.signal", "s0.reference"], 200e3, 1000)
    daq.ai_data = np.zeros((2, 5000))
    ai.start()
    ai.read()
    ai.read()
    daq.failures[("ai", "read")] = overflow_error("ai")
    with pytest.raises(InstrumentError) as info:
        ai.read()
    message = str(info.value)
    assert "samples lost after sample 2000" in message and "10 ms" in message
    assert "buffer overflowed" in message and "buffer_time" in message and "-200279" in message
    assert not ai.running  # the acquisition is stopped, not silently continued
    with pytest.raises(InstrumentError, match="not started"):
        ai.read()


def test_rates_channels_and_blocks_are_checked_before_anything_is_sent(daq):
    ai = make_ai(daq, max_aggregate_rate="1 MHz")
    ai.connect()
    before = len(daq.log)
    with pytest.raises(LimitError, match="above the card's 1 MS/s aggregate"):
        ai.configure(["s0.signal", "s0.reference", "sync", "trigger"], 300e3, 1000)
    with pytest.raises(LimitError, match=r"channels must be distinct names among s0\.signal"):
        ai.configure(["s0.signal", "photodiode"], 200e3, 1000)
    with pytest.raises(LimitError, match=r"sample rate 3e\+06 S/s is outside"):
        ai.configure(["s0.signal"], 3e6, 1000)
    with pytest.raises(LimitError, match="block_size"):
        ai.configure(["s0.signal"], 200e3, 10**9)
    assert len(daq.log) == before


def test_safe_stops_and_releases_and_close_clears(daq):
    ai = make_ai(daq)
    ai.connect()
    ai.configure(["s0.signal"], 200e3, 100)
    ai.start()
    ai.safe()
    assert not daq.task("ai").running and not ai.running
    assert daq.events("ai", "control")[-1]["action"] == TaskMode.TASK_UNRESERVE
    ai.close()
    ai.close()
    assert daq.task("ai").closed


def test_bad_channel_entries_are_named(daq):
    with pytest.raises(BenchConfigError, match=r"channels\.sync\.min"):
        make_ai(daq, channels={"sync": {"channel": "ai2", "min": "one volt"}})
    with pytest.raises(BenchConfigError, match="ai0"):
        make_ai(daq, channels={"sync": "port0/line1"})


# --- FM drive -----------------------------------------------------------------------------


def test_whole_period_buffers():
    assert whole_period_buffer(10e3, 200e3) == (20, 1, 10e3)
    assert whole_period_buffer(3.3e3, 200e3) == (2000, 33, 3.3e3)
    assert whole_period_buffer(50e3, 200e3) == (4, 1, 50e3)
    n, cycles, played = whole_period_buffer(1234.5678, 200e3, max_samples=1000)
    assert n <= 1000 and played == pytest.approx(1234.5678, rel=1e-3)
    assert played == 200e3 * cycles / n


def test_the_drive_plays_a_whole_period_sine_on_the_analog_input_clock(daq):
    ai = make_ai(daq)
    ai.connect()
    fm, mw = make_fm(daq, ai, amplitude="1 V")
    fm.connect()
    assert isinstance(fm, FMDrive) and fm.shares_sample_clock
    assert daq.events("ao", "write")[-1]["data"] == 0.0  # held at 0 V
    ai.configure(["s0.signal"], 200e3, 1000)
    played = fm.start(10e3, 0.35e6, phase_deg=90.0)
    assert played == 10e3
    assert mw.sample.mw.fm_enabled and mw.sample.mw.fm_deviation == pytest.approx(0.35e6)
    assert not mw.sample.mw.fm_internal  # the external input, driven by the output
    timing = daq.events("ao", "cfg_samp_clk_timing")[-1]
    assert timing["source"] == "/Dev1/ai/SampleClock" and timing["rate"] == 200e3
    assert timing["sample_mode"] == AcquisitionType.CONTINUOUS and timing["samps_per_chan"] == 20
    assert {"name": "regen_mode", "value": RegenerationMode.ALLOW_REGENERATION} in \
        daq.events("ao", "stream")
    task, data = daq.ao_writes[-1]
    np.testing.assert_allclose(data, np.cos(2 * np.pi * np.arange(20) / 20), atol=1e-12)
    assert task.running  # armed, waiting for the analog input's clock
    # started before the analog input: the order NI needs for sample-exact phase
    assert daq.sequence("start")[-1] == ("ao", "start")
    fm.stop()
    assert not mw.sample.mw.fm_enabled and daq.events("ao", "write")[-1]["data"] == 0.0


def test_a_demodulated_block_recovers_the_phase_the_drive_was_started_with(daq):
    """The drive's sine, recorded by the analog input on the same clock, demodulates with a
    ClockReference to the phase it was started with: no sync channel needed."""
    ai = make_ai(daq)
    ai.connect()
    fm, _ = make_fm(daq, ai)
    fm.connect()
    rate = ai.configure(["sync"], 200e3, 20_000)
    f = fm.start(7e3, 0.2e6, phase_deg=30.0)
    _, played = daq.ao_writes[-1]
    daq.ai_data = np.tile(played, 20_000 // played.size + 1)[None, :20_000]  # AO -> AI loop
    ai.start()
    block = ai.read()
    lia = SoftwareLockIn(rate, ClockReference(f, rate), time_constant=2e-3, order=2,
                         scale="peak")
    out = lia.process(block.data[0])
    # sin(θ + 30°) against the reference sin θ: amplitude 1 V at +30°
    assert out.r[0, 0, -1] == pytest.approx(1.0, rel=1e-3)
    assert out.theta_deg[0, 0, -1] == pytest.approx(30.0, abs=0.1)


def test_the_drive_refuses_to_start_after_the_input_or_without_a_clock(daq):
    ai = make_ai(daq)
    ai.connect()
    fm, mw = make_fm(daq, ai)
    fm.connect()
    with pytest.raises(InstrumentError, match="configure the analog input first"):
        fm.start(10e3, 0.3e6)
    assert not mw.sample.mw.fm_enabled  # nothing left modulating
    ai.configure(["s0.signal"], 200e3, 1000)
    daq.ai_data = np.zeros((1, 1000))
    ai.start()
    with pytest.raises(InstrumentError, match="start the FM drive before the analog input"):
        fm.start(10e3, 0.3e6)
    other, _ = make_fm(daq, None)
    other.connect()
    with pytest.raises(CapabilityError, match="no analog_input"):
        other.start(10e3, 0.3e6)


def test_the_drive_checks_frequency_and_deviation_before_sending(daq):
    ai = make_ai(daq)
    ai.connect()
    ai.configure(["s0.signal"], 200e3, 1000)
    bench = load_bench({"limits": {"frequency": ["2.8 GHz", "2.9 GHz"]}})
    fm = NIDAQFMDrive("fm_drive", task_factory=daq.task_factory,
                      writer_factory=daq.writer_factory)
    with bench:
        bench.mw.frequency = 2.87e9
        fm.bind(bench.mw, ai)  # the guarded source: the bench's limits apply
        fm.connect()
        writes = len(daq.ao_writes)
        with pytest.raises(LimitError, match="modulation frequency 60000 Hz is outside"):
            fm.start(60e3, 0.3e6)  # above a quarter of 200 kS/s
        with pytest.raises(LimitError, match="upper limit of the bench"):
            fm.start(10e3, 40e6)  # 2.87 GHz + 40 MHz leaves the bench's band
        with pytest.raises(LimitError, match="deviation must be a positive"):
            fm.start(10e3, -1.0)
        assert len(daq.ao_writes) == writes
        fm.safe()


def test_safe_and_close_leave_the_output_at_zero(daq):
    ai = make_ai(daq)
    ai.connect()
    ai.configure(["s0.signal"], 200e3, 1000)
    fm, _ = make_fm(daq, ai)
    fm.connect()
    fm.start(10e3, 0.3e6)
    fm.safe()
    assert not fm.running
    assert daq.events("ao", "write")[-1]["data"] == 0.0
    fm.close()
    assert daq.task("ao").closed and daq.events("ao", "write")[-1]["data"] == 0.0
    snap = fm.snapshot()
    assert snap["amplitude"] == {"value": 1.0, "unit": "V"} and snap["running"] is False
