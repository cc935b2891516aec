"""SRS SR860 lock-in driver: exact bytes per command, *ESR? errors, limits checked before
anything is sent, the buffered capture read as IEEE binary blocks, and a pyvisa-sim round
trip."""

import shutil
import struct
from contextlib import contextmanager

import numpy as np
import pytest
from pyvisa import util

from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.instruments.drivers.sr860 import SENSITIVITIES_V, SR860, TIME_CONSTANTS_S
from nvsense.instruments.drivers.testing import (
    LOST,
    TIMEOUT,
    FakeResourceManager,
    ProtocolResource,
)
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.lockin import LockIn

IDN = "Stanford_Research_Systems,SR860,003594,v1.47"


class BinaryProtocolResource(ProtocolResource):
    """The scripted resource, plus binary-block queries answered with scripted bytes."""

    def query_binary_values(self, message, datatype="f", is_big_endian=False,
                            container=list, expect_termination=True, **_):
        self.write(message)
        reply = self._replies.popleft()
        assert isinstance(reply, bytes), f"the script answers {message!r} with text"
        return util.from_ieee_block(reply, datatype, is_big_endian, container)


@contextmanager
def scripted(script, *, connect_script=None, **options):
    steps = list(connect_script or ()) + list(script)
    resource = BinaryProtocolResource("TCPIP0::10.0.0.21::inst0::INSTR", steps)
    clock = {"t": 0.0}

    def sleep(seconds):
        clock["t"] += seconds

    lockin = SR860(name="dut", address="TCPIP0::10.0.0.21::inst0::INSTR",
                   resource_manager=FakeResourceManager(resource),
                   clock=lambda: clock["t"], sleep=sleep, **options)
    if connect_script is None:
        lockin._resource = resource
        lockin._identity = "scripted"
    else:
        lockin.connect()
    yield lockin
    resource.assert_done()


def ok(command):
    return [(command, None), ("*ESR?", "0")]


def setting(command, query, reply):
    return [*ok(command), (query, reply)]


def block(values):
    """An IEEE 488.2 definite-length block of little-endian float32, as CAPTUREGET? sends."""
    payload = struct.pack(f"<{len(values)}f", *values)
    size = str(len(payload)).encode()
    return b"#" + str(len(size)).encode() + size + payload


CONNECT = [*ok("*CLS"), ("*IDN?", IDN), *ok("CAPTURESTOP"), ("IVMD?", "0")]


def test_connect_identifies_stops_any_capture_and_reads_the_input_mode():
    with scripted([], connect_script=CONNECT, timeout=1.5) as lia:
        assert lia._resource.read_termination == "\n"
        assert lia._resource.timeout == 1500
        assert lia.identity == IDN
        assert lia.limits.frequency_max == 500e3
        assert lia.limits.sensitivity_unit == "V"
    # every member of the protocol exists (isinstance would query each property)
    members = [n for n in dir(LockIn) if not n.startswith("_")]
    assert members and all(hasattr(SR860, n) for n in members)


def test_another_instrument_is_refused():
    script = [*ok("*CLS"), ("*IDN?", "Stanford Research Systems,SG384,s/n1,ver1")]
    with pytest.raises(InstrumentError, match="not an SRS SR860"):
        with scripted([], connect_script=script):
            pass


def test_time_constant_and_slope_by_index():
    script = [*setting("OFLT 7", "OFLT?", "7"), ("OFLT?", "7"),
              *setting("OFSL 3", "OFSL?", "3"), ("OFSL?", "3")]
    with scripted(script) as lia:
        lia.time_constant = 3e-3
        assert lia.time_constant == 3e-3
        lia.filter_order = 4
        assert lia.filter_order == 4


def test_time_constant_not_offered_names_the_nearest_and_sends_nothing():
    with scripted([]) as lia:
        with pytest.raises(LimitError, match=r"nearest: 1 ms, 3 ms; nothing was sent"):
            lia.time_constant = 2e-3
        with pytest.raises(LimitError, match="outside"):
            lia.time_constant = 1e5
        with pytest.raises(LimitError, match="1 to 4"):
            lia.filter_order = 5
        assert lia._resource.written == []


def test_sensitivity_index_counts_down_from_one_volt():
    script = [*setting("SCAL 0", "SCAL?", "0"), *setting("SCAL 27", "SCAL?", "27"),
              *setting("SCAL 11", "SCAL?", "11"), ("SCAL?", "11")]
    with scripted(script) as lia:
        lia.sensitivity = 1.0
        lia.sensitivity = 1e-9
        lia.sensitivity = 2e-4
        assert lia.sensitivity == pytest.approx(2e-4)
        with pytest.raises(LimitError, match="nearest: 200 µV, 500 µV"):
            lia.sensitivity = 3e-4
    assert sorted(SENSITIVITIES_V)[0] == pytest.approx(1e-9)
    assert len(TIME_CONSTANTS_S) == 22


def test_reference_frequency_checks_harmonic_and_source_then_reads_back():
    script = [("HARM?", "2"), ("RSRC?", "0"),
              *setting("FREQ 12345.678000", "FREQ?", "12345.678000")]
    with scripted(script) as lia:
        lia.reference_frequency = 12345.678


def test_frequency_times_harmonic_above_500_khz_is_refused():
    with scripted([("HARM?", "2")]) as lia:
        with pytest.raises(LimitError, match="lower the harmonic"):
            lia.reference_frequency = 300e3
    with scripted([]) as lia:
        with pytest.raises(LimitError, match="outside"):
            lia.reference_frequency = 600e3


def test_frequency_is_not_set_while_the_reference_is_external():
    with scripted([("HARM?", "1"), ("RSRC?", "1")]) as lia:
        with pytest.raises(InstrumentError, match="reference_source = 'internal'"):
            lia.reference_frequency = 10e3


def test_reference_source_phase_harmonic_and_sine_out():
    script = [*setting("RSRC 1", "RSRC?", "1"), ("RSRC?", "1"),
              *ok("PHAS 190.0000000"), ("PHAS?", "-170.0000000"),
              ("FREQ?", "10000.000000"), *setting("HARM 2", "HARM?", "2"),
              *setting("SLVL 0.176776695", "SLVL?", "0.176776695")]
    with scripted(script) as lia:
        lia.reference_source = "external"
        assert lia.reference_source == "external"
        lia.reference_phase = 190.0  # reads back wrapped: accepted
        lia.harmonic = 2
        lia.sine_amplitude = 0.25  # peak volts: SLVL is in Vrms


def test_dual_reference_mode_is_reported_not_guessed():
    with scripted([("RSRC?", "2")]) as lia:
        with pytest.raises(InstrumentError, match="dual or chop"):
            _ = lia.reference_source


def test_execution_error_bit_becomes_an_instrument_error():
    with scripted([("HARM?", "1"), ("RSRC?", "0"), ("FREQ 1000.000000", None),
                   ("*ESR?", "16")]) as lia:
        with pytest.raises(InstrumentError, match="execution error") as info:
            lia.reference_frequency = 1e3
    assert info.value.command == "FREQ 1000.000000"


def test_snap_reads_x_and_y_together():
    with scripted([("SNAP? 0,1", "1.25e-06,-3.5e-07")]) as lia:
        assert lia.read_xy() == (1.25e-06, -3.5e-07)


def test_timeout_and_lost_connection():
    with scripted([("SNAP? 0,1", TIMEOUT), ("*ESR?", "0")]) as lia:
        with pytest.raises(InstrumentError, match="VISA timeout"):
            lia.read_xy()
    with scripted([("OFLT?", LOST)]) as lia:
        with pytest.raises(InstrumentError, match="CONN_LOST"):
            _ = lia.time_constant


CONFIGURE = [("CAPTURERATEMAX?", "78125"), *ok("CAPTURESTOP"),
             *setting("CAPTURECFG 1", "CAPTURECFG?", "1"),
             *setting("CAPTURELEN 2", "CAPTURELEN?", "2"),
             *ok("CAPTURERATE 4"), ("CAPTURERATE?", "4882.8125")]


def test_capture_configures_waits_stops_and_reads_binary_floats():
    xs = np.linspace(-1e-6, 1e-6, 100)
    ys = np.linspace(2e-7, 3e-7, 100)
    data = np.empty(512)  # CAPTUREGET? 0,2 returns 2 kB: 256 (X, Y) pairs, zero-filled
    data[:] = 0.0
    data[0:200:2], data[1:200:2] = xs, ys
    script = [*CONFIGURE, *ok("CAPTURESTART ONE, IMM"),
              ("CAPTUREBYTES?", "400"), ("CAPTUREBYTES?", "800"),
              *ok("CAPTURESTOP"), ("CAPTUREGET? 0,1", block(data[:256]))]
    with scripted(script) as lia:
        rate = lia.configure_capture(100, 78125 / 16)
        assert rate == 4882.8125
        lia.start_capture()
        capture = lia.read_capture()
    assert capture.complete
    assert capture.x == pytest.approx(xs.astype(np.float32))
    assert capture.y == pytest.approx(ys.astype(np.float32))
    assert capture.time[1] == pytest.approx(1 / rate)


def test_long_capture_is_read_in_64_kb_pieces():
    n = 10000  # 80000 bytes: 79 kB -> pieces of 64 and 15 kB
    values = np.arange(2 * n, dtype=np.float32)
    first, second = values[:64 * 256], np.zeros(15 * 256, dtype=np.float32)
    second[: 2 * n - 64 * 256] = values[64 * 256:]
    script = [("CAPTURERATEMAX?", "78125"), *ok("CAPTURESTOP"),
              *setting("CAPTURECFG 1", "CAPTURECFG?", "1"),
              *setting("CAPTURELEN 80", "CAPTURELEN?", "80"),
              *ok("CAPTURERATE 0"), ("CAPTURERATE?", "78125"),
              *ok("CAPTURESTART ONE, IMM"), ("CAPTUREBYTES?", "80000"), *ok("CAPTURESTOP"),
              ("CAPTUREGET? 0,64", block(first)), ("CAPTUREGET? 64,15", block(second))]
    with scripted(script) as lia:
        lia.configure_capture(n, 78125)
        lia.start_capture()
        capture = lia.read_capture()
    assert capture.x == pytest.approx(values[0::2])
    assert capture.y == pytest.approx(values[1::2])


def test_capture_rate_not_offered_names_the_nearest_ones():
    with scripted([("CAPTURERATEMAX?", "78125")]) as lia:
        with pytest.raises(LimitError, match=r"nearest: 39062.5 Hz, 78125 Hz"):
            lia.configure_capture(100, 60000)
        with pytest.raises(LimitError, match="1 to 524288"):
            lia.configure_capture(600000, 1000)


def test_capture_that_never_completes_times_out_and_is_stopped():
    script = [*CONFIGURE, *ok("CAPTURESTART ONE, TRIG"),
              *[("CAPTUREBYTES?", "0")] * 4, *ok("CAPTURESTOP")]
    with scripted(script, capture_trigger="external") as lia:
        lia.configure_capture(100, 4882.8125)
        lia.start_capture()
        with pytest.raises(InstrumentError, match="check TRIG IN"):
            lia.read_capture(timeout=0.05)  # polls at 0, 20, 41, 61 ms of the fake clock


def test_a_short_binary_block_is_an_error():
    script = [*CONFIGURE, *ok("CAPTURESTART ONE, IMM"), ("CAPTUREBYTES?", "800"),
              *ok("CAPTURESTOP"), ("CAPTUREGET? 0,1", block([1.0, 2.0]))]
    with scripted(script) as lia:
        lia.configure_capture(100, 4882.8125)
        lia.start_capture()
        with pytest.raises(InstrumentError, match="holds 2 values"):
            lia.read_capture()


def test_read_capture_without_start_is_a_clear_error():
    with scripted([]) as lia:
        with pytest.raises(InstrumentError, match="start_capture"):
            lia.read_capture()


def test_safe_stops_the_capture_and_turns_the_sine_output_down():
    script = [*ok("CAPTURESTOP"), *setting("SLVL 0.000000001", "SLVL?", "0.000000001")]
    with scripted(script) as lia:
        lia.safe()


def test_against_the_shipped_pyvisa_sim_model(tmp_path):
    library = sim_library("sr860", shutil.copy(sim_path("sr860"), tmp_path))
    lia = SR860(name="lockin", address=SIM_ADDRESSES["sr860"], visa_library=library,
                timeout=0.5)
    lia.connect()
    try:
        lia.time_constant = 1e-3
        lia.filter_order = 4
        lia.sensitivity = 0.01
        lia.reference_source = "internal"
        lia.reference_frequency = 12.5e3
        lia.harmonic = 2
        lia.reference_phase = -45.0
        lia.sine_amplitude = 0.1
        assert (lia.time_constant, lia.filter_order, lia.sensitivity) == (1e-3, 4, 0.01)
        assert (lia.reference_frequency, lia.harmonic, lia.reference_phase) == \
            (12.5e3, 2, -45.0)
        assert lia.sine_amplitude == pytest.approx(0.1, abs=2e-9)
        assert lia.read_xy() == (0.0, 0.0)
        assert lia.configure_capture(1000, 1.25e6) == 1.25e6
        lia.safe()
        assert lia.sine_amplitude == pytest.approx(1e-9 * np.sqrt(2))
    finally:
        lia.close()
