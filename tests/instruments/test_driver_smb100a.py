"""R&S SMB100A driver: exact bytes per command, SCPI error queue, limits from the installed
options, list mode on the external trigger, FM, and a pyvisa-sim round trip."""

import shutil

import pytest

from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.instruments.drivers.smb100a import SMB100A
from nvsense.instruments.drivers.testing import TIMEOUT, expected_protocol
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.protocols import MicrowaveSource

IDN = "Rohde&Schwarz,SMB100A,1406.6000k03/180123,3.1.19.15-3.50.124.73"
NO_ERROR = ("SYST:ERR?", '0,"No error"')
ADDRESS = "TCPIP0::10.0.0.12::inst0::INSTR"


def setting(command, query, reply):
    return [(command, None), NO_ERROR, (query, reply)]


def connect_script(options="SMB-B103,SMB-B20"):
    return [("*CLS", None), NO_ERROR, ("*IDN?", IDN), ("*OPT?", options),
            *setting("OUTP OFF", "OUTP?", "0"), *setting("FREQ:MODE CW", "FREQ:MODE?", "CW"),
            *setting("MOD:STAT OFF", "MOD:STAT?", "0")]


def test_connect_reads_the_frequency_option_and_leaves_rf_off():
    with expected_protocol(SMB100A, [], connect_script=connect_script(),
                           address=ADDRESS) as mw:
        assert mw._resource.read_termination == "\n"
        assert mw._resource.write_termination == "\n"
        assert mw.limits.frequency_max == 3.2e9
        assert mw.identity == IDN


def test_unknown_options_fall_back_to_the_widest_range():
    with expected_protocol(SMB100A, [], connect_script=connect_script("SMB-K22"),
                           address=ADDRESS) as mw:
        assert mw.limits.frequency_max == 40e9


def test_other_instrument_is_refused():
    script = [("*CLS", None), NO_ERROR,
              ("*IDN?", "Rohde&Schwarz,SMA100B,1419.8888K02/101234,4.70.026.xx")]
    with pytest.raises(InstrumentError, match="not an R&S SMB100A"):
        with expected_protocol(SMB100A, [], connect_script=script, address=ADDRESS):
            pass


def test_cw_settings_are_written_and_read_back():
    script = [*setting("FREQ 2870000000.500", "FREQ?", "2870000000.5"),
              *setting("POW -3.21", "POW?", "-3.21"), *setting("OUTP ON", "OUTP?", "1")]
    with expected_protocol(SMB100A, script, connect_script=connect_script(),
                           address=ADDRESS) as mw:
        mw.frequency = 2870000000.5
        mw.power = -3.21
        mw.output = True


def test_every_queued_scpi_error_is_reported():
    script = [("POW -3.00", None), ("SYST:ERR?", '-222,"Data out of range"'),
              ("SYST:ERR?", '-221,"Settings conflict"'), NO_ERROR]
    with expected_protocol(SMB100A, script) as mw:
        with pytest.raises(InstrumentError) as info:
            mw.power = -3
    assert '-222,"Data out of range"' in info.value.cause
    assert '-221,"Settings conflict"' in info.value.cause


def test_unreadable_error_queue_reply_is_an_error():
    with expected_protocol(SMB100A, [("OUTP OFF", None), ("SYST:ERR?", "garbage")]) as mw:
        with pytest.raises(InstrumentError, match="unreadable"):
            mw.output = False


def test_read_back_mismatch_is_an_error():
    script = setting("OUTP ON", "OUTP?", "0")
    with expected_protocol(SMB100A, script) as mw:
        with pytest.raises(InstrumentError, match="reads back"):
            mw.output = True


def test_timeout_is_an_instrument_error():
    with expected_protocol(SMB100A, [("POW?", TIMEOUT), NO_ERROR]) as mw:
        with pytest.raises(InstrumentError, match="VISA timeout"):
            _ = mw.power


def test_limits_are_checked_before_sending():
    with expected_protocol(SMB100A, [], connect_script=connect_script(),
                           address=ADDRESS) as mw:
        with pytest.raises(LimitError):
            mw.frequency = 3.3e9  # above the B103 option
        with pytest.raises(LimitError, match="300 kHz"):
            mw.load_list([100e3, 2.87e9], -10)
        assert mw._resource.written == [m for m, _ in connect_script()]


LOAD = [*setting("FREQ:MODE CW", "FREQ:MODE?", "CW"), ("LIST:SEL 'nvsense'", None), NO_ERROR,
        ("LIST:FREQ 2860000000.000,2870000000.000", None), NO_ERROR,
        ("LIST:POW -10.00,-10.00", None), NO_ERROR,
        ("LIST:FREQ?", "2860000000,2870000000"), ("LIST:POW?", "-10,-10"),
        *setting("LIST:MODE STEP", "LIST:MODE?", "STEP"),
        *setting("LIST:TRIG:SOUR EXT", "LIST:TRIG:SOUR?", "EXT"),
        *setting("INP:TRIG:SLOP NEG", "INP:TRIG:SLOP?", "NEG"),
        *setting("FREQ 2860000000.000", "FREQ?", "2860000000"),
        *setting("POW -10.00", "POW?", "-10")]


def test_list_steps_on_the_external_trigger():
    script = [*LOAD, *setting("FREQ:MODE LIST", "FREQ:MODE?", "LIST"), ("LIST:RES", None),
              NO_ERROR, *setting("FREQ:MODE CW", "FREQ:MODE?", "CW")]
    with expected_protocol(SMB100A, script, trigger_slope="negative") as mw:
        mw.load_list([2.86e9, 2.87e9], -10)
        mw.start_list()
        mw.stop_list()


def test_list_that_reads_back_differently_is_an_error():
    script = LOAD[:10]
    script[9] = ("LIST:FREQ?", "2860000000")
    with expected_protocol(SMB100A, script, trigger_slope="negative") as mw:
        with pytest.raises(InstrumentError, match="differ"):
            mw.load_list([2.86e9, 2.87e9], -10)


def test_fm_internal_and_external():
    script = [*setting("FM:SOUR INT", "FM:SOUR?", "INT"),
              *setting("LFO:FREQ 1000.000", "LFO:FREQ?", "1000"),
              *setting("FM:DEV 500000.000", "FM:DEV?", "500000"),
              *setting("FM:STAT ON", "FM:STAT?", "1"), *setting("MOD:STAT ON", "MOD:STAT?", "1"),
              *setting("FM:SOUR EXT", "FM:SOUR?", "EXT"),
              *setting("FM:EXT:COUP DC", "FM:EXT:COUP?", "DC"),
              *setting("FM:DEV 500000.000", "FM:DEV?", "500000"),
              *setting("FM:STAT ON", "FM:STAT?", "1"), *setting("MOD:STAT ON", "MOD:STAT?", "1"),
              *setting("FM:STAT OFF", "FM:STAT?", "0")]
    with expected_protocol(SMB100A, script) as mw:
        mw.set_fm(5e5, rate=1e3)
        mw.set_fm(5e5, source="external")
        mw.set_fm(5e5, enabled=False)


def test_options_are_validated():
    with pytest.raises(ValueError, match="trigger_slope"):
        SMB100A(name="mw", address=ADDRESS, trigger_slope="up")
    with pytest.raises(ValueError, match="list_name"):
        SMB100A(name="mw", address=ADDRESS, list_name="../etc")


def test_round_trip_through_pyvisa_sim(tmp_path):
    model = shutil.copy(sim_path("smb100a"), tmp_path / "smb100a.yaml")
    mw = SMB100A(name="mw", address=SIM_ADDRESSES["smb100a"],
                 visa_library=sim_library("smb100a", model), timeout=0.5)
    mw.connect()
    try:
        assert isinstance(mw, MicrowaveSource)
        assert mw.output is False and mw.limits.frequency_max == 3.2e9
        mw.frequency = 2.87e9
        mw.power = -10
        mw.load_list([2.86e9, 2.87e9, 2.88e9], -12)
        mw.start_list()
        mw.set_fm(2e6, source="external")
        with pytest.raises(InstrumentError, match="-113"):
            mw.write("FREQUENCY:CW 1")
        mw.safe()
        assert mw.output is False
    finally:
        mw.close()
