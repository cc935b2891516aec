"""SRS SG384 driver: exact bytes per command, errors, limits, list mode, FM, and a pyvisa-sim
round trip."""

import shutil

import pytest
from pyvisa import constants

from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.instruments.drivers.sg384 import SG384
from nvsense.instruments.drivers.testing import LOST, TIMEOUT, expected_protocol
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.protocols import MicrowaveSource

IDN = "Stanford Research Systems,SG384,s/n004321,ver1.21.26"


def setting(command, query, reply):
    """A command, its empty LERR? check and the read-back."""
    return [(command, None), ("LERR?", "0"), (query, reply)]


CONNECT = [("*CLS", None), ("LERR?", "0"), ("*IDN?", IDN),
           *setting("ENBR 0", "ENBR?", "0"), *setting("ENBL 0", "ENBL?", "0"),
           *setting("LSTE 0", "LSTE?", "0"), *setting("MODL 0", "MODL?", "0")]


def test_connect_sets_terminations_identifies_and_switches_every_output_off():
    with expected_protocol(SG384, [], connect_script=CONNECT, timeout=1.5) as mw:
        resource = mw._resource
        assert resource.read_termination == "\r\n"
        assert resource.write_termination == "\n"
        assert resource.timeout == 1500
        assert mw.identity == IDN
        assert mw.limits.frequency_max == 4.05e9


def test_connect_over_rs232_applies_the_manuals_serial_settings():
    with expected_protocol(SG384, [], connect_script=CONNECT,
                           address="ASRL/dev/ttyUSB0::INSTR") as mw:
        resource = mw._resource
        assert resource.baud_rate == 115200
        assert resource.data_bits == 8
        assert resource.parity == constants.Parity.none
        assert resource.stop_bits == constants.StopBits.one
        assert resource.flow_control == constants.ControlFlow.rts_cts


def test_connect_to_another_instrument_is_a_clear_error_and_releases_it():
    script = [("*CLS", None), ("LERR?", "0"),
              ("*IDN?", "Stanford_Research_Systems,SR830,s/n12345,ver1.07")]
    with pytest.raises(InstrumentError, match="SR830") as info:
        with expected_protocol(SG384, [], connect_script=script):
            pass
    assert info.value.command == "*IDN?"


def test_expected_model_mismatch_is_refused():
    script = [("*CLS", None), ("LERR?", "0"), ("*IDN?", IDN)]
    with pytest.raises(InstrumentError, match="expected an SG386"):
        with expected_protocol(SG384, [], connect_script=script, model="SG386"):
            pass


def test_frequency_is_written_with_microhertz_resolution_and_read_back():
    script = setting("FREQ 2870123456.789000", "FREQ?", "2870123456.789000")
    with expected_protocol(SG384, script) as mw:
        mw.frequency = 2870123456.789


def test_power_and_output_commands():
    script = [*setting("AMPR -12.35", "AMPR?", "-12.35"), *setting("ENBR 1", "ENBR?", "1"),
              ("AMPR?", "-12.35"), ("ENBR?", "1"), ("FREQ?", "2870000000.000000")]
    with expected_protocol(SG384, script) as mw:
        mw.power = -12.345
        mw.output = True
        assert mw.power == -12.35
        assert mw.output is True
        assert mw.frequency == 2.87e9


def test_read_back_that_disagrees_raises_naming_the_command():
    script = setting("FREQ 2870000000.000000", "FREQ?", "2869000000.000000")
    with expected_protocol(SG384, script) as mw:
        with pytest.raises(InstrumentError, match="reads back") as info:
            mw.frequency = 2.87e9
    assert info.value.command == "FREQ 2870000000.000000"
    assert info.value.instrument == "dut"


def test_error_buffer_entries_become_an_instrument_error():
    script = [("AMPR -10.00", None), ("LERR?", "10"), ("LERR?", "111"), ("LERR?", "0")]
    with expected_protocol(SG384, script) as mw:
        with pytest.raises(InstrumentError) as info:
            mw.power = -10
    assert info.value.command == "AMPR -10.00"
    assert "10 Illegal Value" in info.value.cause
    assert "111 Undefined Command" in info.value.cause


@pytest.mark.parametrize("attribute, value", [("frequency", 4.1e9), ("frequency", 900e3),
                                              ("power", 16.6), ("power", float("nan"))])
def test_values_outside_the_limits_send_nothing(attribute, value):
    with expected_protocol(SG384, []) as mw:
        with pytest.raises(LimitError, match="nothing was sent"):
            setattr(mw, attribute, value)
        assert mw._resource.written == []


def test_bench_limits_narrow_the_instrument_range():
    with expected_protocol(SG384, [], power_max="0 dBm", frequency_max="3 GHz") as mw:
        assert mw.limits.power_max == 0.0
        assert mw.limits.frequency_max == 3e9
        with pytest.raises(LimitError):
            mw.power = 1.0


def test_timeout_becomes_instrument_error_and_reads_the_error_buffer():
    script = [("FREQ?", TIMEOUT), ("LERR?", "112"), ("LERR?", "0")]
    with expected_protocol(SG384, script) as mw:
        with pytest.raises(InstrumentError) as info:
            _ = mw.frequency
    assert info.value.command == "FREQ?"
    assert "VISA timeout" in info.value.cause and "112 Illegal Query" in info.value.cause


def test_lost_connection_becomes_instrument_error():
    with expected_protocol(SG384, [("ENBR?", LOST)]) as mw:
        with pytest.raises(InstrumentError, match="CONN_LOST"):
            _ = mw.output


LIST_POINT = "LSTP {},{:.6f},N,N,N,-10.00,N,N,N,N,N,N,N,N,N,N"
LOAD = [*setting("LSTE 0", "LSTE?", "0"), ("LSTD", None), ("LERR?", "0"), ("LSTC? 3", "1"),
        (LIST_POINT.format(0, 2.86e9), None), (LIST_POINT.format(1, 2.87e9), None),
        (LIST_POINT.format(2, 2.88e9), None), ("LERR?", "0"), ("LSTS?", "3"),
        *setting("FREQ 2860000000.000000", "FREQ?", "2860000000.000000"),
        *setting("AMPR -10.00", "AMPR?", "-10.00")]
START = [*setting("LSTE 0", "LSTE?", "0"),
         *setting("FREQ 2860000000.000000", "FREQ?", "2860000000.000000"),
         *setting("LSTE 1", "LSTE?", "1"), ("LSTR", None), ("LERR?", "0"),
         ("FREQ?", "2860000000.000000")]


def test_list_is_written_point_by_point_then_armed_and_stopped():
    script = [*LOAD, *START, *setting("LSTE 0", "LSTE?", "0")]
    with expected_protocol(SG384, script) as mw:
        assert mw.supports_list
        mw.load_list([2.86e9, 2.87e9, 2.88e9], -10)
        mw.start_list()
        mw.stop_list()


def test_list_the_instrument_cannot_create_is_an_error():
    script = [*setting("LSTE 0", "LSTE?", "0"), ("LSTD", None), ("LERR?", "0"),
              ("LSTC? 3", "0")]
    with expected_protocol(SG384, script) as mw:
        with pytest.raises(InstrumentError, match="could not create"):
            mw.load_list([2.86e9, 2.87e9, 2.88e9], -10)


@pytest.mark.parametrize("frequencies, power", [([2.87e9, 5e9], -10), ([], -10),
                                                ([2.87e9] * 2001, -10), ([2.87e9], 20.0)])
def test_invalid_lists_send_nothing(frequencies, power):
    with expected_protocol(SG384, []) as mw:
        with pytest.raises(LimitError):
            mw.load_list(frequencies, power)
        assert mw._resource.written == []


def test_start_list_without_a_list_is_a_usage_error():
    with expected_protocol(SG384, []) as mw:
        with pytest.raises(RuntimeError, match="load_list"):
            mw.start_list()


def test_internal_fm_sets_type_function_rate_deviation_then_enables():
    script = [*setting("TYPE 1", "TYPE?", "1"), *setting("MFNC 0", "MFNC?", "0"),
              *setting("RATE 1000.000000", "RATE?", "1000.000000"),
              *setting("FDEV 2500000.00", "FDEV?", "2500000.00"),
              *setting("MODL 1", "MODL?", "1")]
    with expected_protocol(SG384, script) as mw:
        mw.set_fm(2.5e6, rate=1e3)


def test_external_fm_uses_the_dc_coupled_external_input():
    script = [*setting("TYPE 1", "TYPE?", "1"), *setting("MFNC 5", "MFNC?", "5"),
              *setting("COUP 1", "COUP?", "1"), *setting("FDEV 100000.00", "FDEV?", "100000.00"),
              *setting("MODL 1", "MODL?", "1"), *setting("MODL 0", "MODL?", "0")]
    with expected_protocol(SG384, script) as mw:
        mw.set_fm(1e5, source="external")
        mw.set_fm(1e5, enabled=False)


@pytest.mark.parametrize("kwargs", [{"deviation": 0, "rate": 1e3},
                                    {"deviation": 1e6},
                                    {"deviation": 1e6, "rate": 1e6},
                                    {"deviation": 1e6, "source": "rear"}])
def test_invalid_fm_sends_nothing(kwargs):
    with expected_protocol(SG384, []) as mw:
        with pytest.raises(LimitError):
            mw.set_fm(**kwargs)


def test_safe_turns_rf_off_even_when_leaving_list_mode_fails():
    script = [("LSTE 0", None), ("LERR?", "12"), ("LERR?", "0"),
              *setting("ENBR 0", "ENBR?", "0")]
    with expected_protocol(SG384, script) as mw:
        mw.safe()


def test_safe_raises_when_rf_cannot_be_confirmed_off():
    script = [*setting("LSTE 0", "LSTE?", "0"), ("ENBR 0", None), ("LERR?", "0"),
              ("ENBR?", "1")]
    with expected_protocol(SG384, script) as mw:
        with pytest.raises(InstrumentError, match="may still be on"):
            mw.safe()


def test_close_is_idempotent_and_later_io_is_an_instrument_error():
    with expected_protocol(SG384, []) as mw:
        resource = mw._resource
        mw.close()
        mw.close()
        assert resource.closed
        mw.safe()  # nothing to make safe on a closed connection
        with pytest.raises(InstrumentError, match="not connected"):
            _ = mw.frequency


def test_construction_does_no_io_and_checks_its_options():
    mw = SG384(name="mw", address="TCPIP0::10.0.0.11::5025::SOCKET", visa_library="@py",
               timeout=2.0)
    assert not mw.connected
    with pytest.raises(ValueError, match="model"):
        SG384(name="mw", address="TCPIP0::10.0.0.11::5025::SOCKET", model="SMB100A")
    with pytest.raises(ValueError, match="frequency_max"):
        SG384(name="mw", address="TCPIP0::10.0.0.11::5025::SOCKET", frequency_max="fast")


def test_round_trip_through_pyvisa_sim(tmp_path):
    model = shutil.copy(sim_path("sg384"), tmp_path / "sg384.yaml")
    mw = SG384(name="mw", address=SIM_ADDRESSES["sg384"],
               visa_library=sim_library("sg384", model), timeout=0.5)
    mw.connect()
    try:
        assert isinstance(mw, MicrowaveSource)
        assert mw.output is False  # the model starts with RF on; connect switched it off
        mw.frequency = 2.8712e9
        mw.power = -7.5
        mw.output = True
        assert (mw.frequency, mw.power, mw.output) == (2.8712e9, -7.5, True)
        mw.load_list([2.86e9, 2.87e9, 2.88e9], -12)
        mw.start_list()
        assert mw.frequency == 2.86e9
        mw.set_fm(1e6, rate=100)
        with pytest.raises(InstrumentError, match="111 Undefined Command"):
            mw.write("FREQ:CW 1")  # SCPI long forms are not SG384 commands
        mw.safe()
        assert mw.output is False
    finally:
        mw.close()
