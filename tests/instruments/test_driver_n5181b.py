"""Keysight MXG (N5181B/N5183B) driver: exact bytes per command, SCPI errors, limits from
*OPT?, point-triggered list sweep, FM, and a pyvisa-sim round trip."""

import shutil

import pytest

from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.instruments.drivers.n5181b import N5181B
from nvsense.instruments.drivers.testing import LOST, expected_protocol
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.protocols import MicrowaveSource

NO_ERROR = ("SYST:ERR?", '+0,"No error"')
ADDRESS = "TCPIP0::10.0.0.13::inst0::INSTR"


def setting(command, query, reply):
    return [(command, None), NO_ERROR, (query, reply)]


STOP = [*setting("INIT:CONT OFF", "INIT:CONT?", "0"), ("ABOR", None), NO_ERROR,
        *setting("FREQ:MODE CW", "FREQ:MODE?", "CW")]


def connect_script(idn="Keysight Technologies, N5181B, MY53050123, B.01.86",
                   options='"506,UNT"'):
    return [("*CLS", None), NO_ERROR, ("*IDN?", idn), ("*OPT?", options),
            *setting("OUTP OFF", "OUTP?", "0"), *STOP,
            *setting("OUTP:MOD OFF", "OUTP:MOD?", "0")]


def test_connect_reads_options_and_leaves_rf_and_modulation_off():
    with expected_protocol(N5181B, [], connect_script=connect_script(),
                           address=ADDRESS) as mw:
        assert mw.limits.frequency_max == 6e9
        assert mw._resource.read_termination == "\n"


def test_agilent_branded_n5183b_with_20_ghz_option():
    idn = "Agilent Technologies, N5183B, MY12345678, B.01.55"
    with expected_protocol(N5181B, [], connect_script=connect_script(idn, "520,UNT"),
                           address=ADDRESS) as mw:
        assert (mw.limits.frequency_min, mw.limits.frequency_max) == (100e3, 20e9)


def test_expected_model_mismatch_is_refused():
    script = [("*CLS", None), NO_ERROR,
              ("*IDN?", "Keysight Technologies, N5183B, MY1, B.01.55")]
    with pytest.raises(InstrumentError, match="expected an N5181B"):
        with expected_protocol(N5181B, [], connect_script=script, model="N5181B"):
            pass


def test_cw_settings_and_read_back():
    script = [*setting("FREQ 2870000000.000", "FREQ?", "+2.8700000000000E+09"),
              *setting("POW 5.00", "POW?", "+5.00000000E+00"), *setting("OUTP ON", "OUTP?", "1")]
    with expected_protocol(N5181B, script) as mw:
        mw.frequency = 2.87e9
        mw.power = 5
        mw.output = True


def test_power_read_back_off_by_more_than_the_resolution_is_an_error():
    script = setting("POW 5.00", "POW?", "+4.98000000E+00")
    with expected_protocol(N5181B, script) as mw:
        with pytest.raises(InstrumentError, match="reads back"):
            mw.power = 5


def test_scpi_error_is_reported_with_its_command():
    script = [("OUTP ON", None), ("SYST:ERR?", '-241,"Hardware missing"'), NO_ERROR]
    with expected_protocol(N5181B, script) as mw:
        with pytest.raises(InstrumentError, match="Hardware missing") as info:
            mw.output = True
    assert info.value.command == "OUTP ON"


def test_lost_connection_is_an_instrument_error():
    with expected_protocol(N5181B, [("OUTP?", LOST)]) as mw:
        with pytest.raises(InstrumentError, match="CONN_LOST"):
            _ = mw.output


def test_out_of_range_sends_nothing():
    with expected_protocol(N5181B, []) as mw:
        for attribute, value in (("frequency", 7e9), ("power", 31)):
            with pytest.raises(LimitError):
                setattr(mw, attribute, value)
        with pytest.raises(LimitError, match="3201"):
            mw.load_list([2.87e9] * 3202, 0)
        assert mw._resource.written == []


LOAD = [*STOP, *setting("LIST:TYPE LIST", "LIST:TYPE?", "LIST"),
        ("LIST:FREQ 2860000000.000,2880000000.000", None), NO_ERROR,
        ("LIST:FREQ?", "+2.8600000000000E+09,+2.8800000000000E+09"),
        *setting("LIST:DWEL:TYPE STEP", "LIST:DWEL:TYPE?", "STEP"),
        *setting("POW:MODE FIX", "POW:MODE?", "FIX"),
        *setting("TRIG:SOUR IMM", "TRIG:SOUR?", "IMM"),
        *setting("LIST:TRIG:SOUR EXT", "LIST:TRIG:SOUR?", "EXT"),
        *setting("LIST:TRIG:EXT:SOUR TRIG2", "LIST:TRIG:EXT:SOUR?", "TRIGGER2"),
        *setting("LIST:TRIG:SLOP POS", "LIST:TRIG:SLOP?", "POS"),
        *setting("FREQ 2860000000.000", "FREQ?", "+2.8600000000000E+09"),
        *setting("POW -8.00", "POW?", "-8.00000000E+00")]


def test_list_is_stepped_by_the_chosen_point_trigger_input():
    script = [*LOAD, *setting("FREQ:MODE LIST", "FREQ:MODE?", "LIST"),
              *setting("INIT:CONT ON", "INIT:CONT?", "1"), ("ABOR", None), NO_ERROR, *STOP]
    with expected_protocol(N5181B, script, trigger_input="TRIG2") as mw:
        mw.load_list([2.86e9, 2.88e9], -8)
        mw.start_list()
        mw.stop_list()


def test_fm_internal_then_external():
    script = [*setting("FM:SOUR INT", "FM:SOUR?", "INT"),
              *setting("FM:INT:FREQ 400.000", "FM:INT:FREQ?", "+4.00000000E+02"),
              *setting("FM:DEV 1000000.000", "FM:DEV?", "+1.00000000E+06"),
              *setting("FM:STAT ON", "FM:STAT?", "1"), *setting("OUTP:MOD ON", "OUTP:MOD?", "1"),
              *setting("FM:SOUR EXT1", "FM:SOUR?", "EXT1"),
              *setting("FM:EXT1:COUP DC", "FM:EXT1:COUP?", "DC"),
              *setting("FM:DEV 1000000.000", "FM:DEV?", "+1.00000000E+06"),
              *setting("FM:STAT ON", "FM:STAT?", "1"), *setting("OUTP:MOD ON", "OUTP:MOD?", "1")]
    with expected_protocol(N5181B, script) as mw:
        mw.set_fm(1e6, rate=400)
        mw.set_fm(1e6, source="external")


def test_options_are_validated():
    with pytest.raises(ValueError, match="trigger_input"):
        N5181B(name="mw", address=ADDRESS, trigger_input="TRIG3")


def test_round_trip_through_pyvisa_sim(tmp_path):
    model = shutil.copy(sim_path("n5181b"), tmp_path / "n5181b.yaml")
    mw = N5181B(name="mw", address=SIM_ADDRESSES["n5181b"],
                visa_library=sim_library("n5181b", model), timeout=0.5)
    mw.connect()
    try:
        assert isinstance(mw, MicrowaveSource)
        assert mw.output is False
        mw.frequency = 3.1234e9
        mw.power = -20
        assert (mw.frequency, mw.power) == (3.1234e9, -20)
        mw.load_list([2.86e9, 2.87e9, 2.88e9], -12)
        mw.start_list()
        mw.set_fm(5e5, rate=1e3)
        mw.safe()
        assert mw.output is False
    finally:
        mw.close()
