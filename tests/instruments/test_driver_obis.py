"""Coherent OBIS driver: the OK / ERR-xxx handshake on every command, power limits from the
laser, emission on/off, and a pyvisa-sim round trip."""

import shutil

import pytest

from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.instruments.drivers.obis import OBIS
from nvsense.instruments.drivers.testing import TIMEOUT, expected_protocol
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.protocols import Laser

ADDRESS = "ASRL/dev/ttyACM0::INSTR"
IDN = "Coherent, Inc - OBIS 532nm 100mW C - V1.0.1 - Dec 14 2010"


def query(command, value):
    return (command, [value, "OK"])


CONNECT = [("SYST:COMM:HAND ON", "OK"), query("*IDN?", IDN),
           query("SOUR:POW:LIM:LOW?", "0.00050"), query("SOUR:POW:LIM:HIGH?", "0.10000"),
           ("SOUR:AM:STAT OFF", "OK"), query("SOUR:AM:STAT?", "OFF"),
           ("SOUR:AM:INT CWP", "OK"), query("SOUR:AM:SOUR?", "CWP")]


def obis(script, **kwargs):
    return expected_protocol(OBIS, script, connect_script=CONNECT, address=ADDRESS, **kwargs)


def test_connect_configures_the_port_reads_the_power_range_and_stops_emission():
    with obis([]) as laser:
        resource = laser._resource
        assert (resource.read_termination, resource.write_termination) == ("\r\n", "\r\n")
        assert resource.baud_rate == 115200
        assert laser.identity == IDN
        assert (laser.limits.power_min, laser.limits.power_max) == (0.0005, 0.1)


def test_other_device_is_refused():
    script = [("SYST:COMM:HAND ON", "OK"), query("*IDN?", "Cobolt 06-MLD")]
    with pytest.raises(InstrumentError, match="not a Coherent OBIS"):
        with expected_protocol(OBIS, [], connect_script=script, address=ADDRESS):
            pass


def test_power_set_point_is_acknowledged_and_read_back():
    script = [("SOUR:POW:LEV:IMM:AMPL 0.04250", "OK"), query("SOUR:POW:LEV:IMM:AMPL?", "0.04250"),
              query("SOUR:POW:LEV?", "0.04210")]
    with obis(script) as laser:
        laser.power = 0.0425
        assert laser.measured_power == 0.0421


def test_err_reply_to_a_setting_is_an_instrument_error_with_its_meaning():
    with obis([("SOUR:POW:LEV:IMM:AMPL 0.05000", "ERR-220")]) as laser:
        with pytest.raises(InstrumentError, match="ERR-220 \\(Invalid parameter\\)") as info:
            laser.power = 0.05
    assert info.value.command == "SOUR:POW:LEV:IMM:AMPL 0.05000"


def test_err_reply_to_a_query_is_an_instrument_error():
    with obis([("SOUR:AM:STAT?", "ERR-100")]) as laser:
        with pytest.raises(InstrumentError, match="Unrecognized command"):
            _ = laser.on


def test_missing_handshake_is_an_error():
    with obis([("SOUR:AM:STAT?", ["ON", "OBIS>"])]) as laser:
        with pytest.raises(InstrumentError, match="expected OK"):
            _ = laser.on


def test_emission_on_and_standby():
    script = [("SOUR:AM:STAT ON", "OK"), query("SOUR:AM:STAT?", "ON"),
              ("SOUR:AM:STAT OFF", "OK"), query("SOUR:AM:STAT?", "OFF")]
    with obis(script) as laser:
        laser.on = True
        laser.standby()


def test_emission_that_does_not_start_reports_the_fault_code():
    script = [("SOUR:AM:STAT ON", "OK"), query("SOUR:AM:STAT?", "OFF"),
              query("SYST:FAUL?", "0x00000200")]
    with obis(script) as laser:
        with pytest.raises(InstrumentError, match="0x00000200"):
            laser.on = True


@pytest.mark.parametrize("value", [0.2, 0.0001, -0.01, float("inf")])
def test_power_outside_the_lasers_range_sends_nothing(value):
    with obis([]) as laser:
        with pytest.raises(LimitError, match="nothing was sent"):
            laser.power = value
        assert laser._resource.written == [m for m, _ in CONNECT]


def test_timeout_is_an_instrument_error():
    with obis([("SOUR:AM:STAT?", TIMEOUT)]) as laser:
        with pytest.raises(InstrumentError, match="VISA timeout"):
            _ = laser.on


def test_safe_in_both_modes_switches_emission_off():
    script = [("SOUR:AM:STAT OFF", "OK"), query("SOUR:AM:STAT?", "OFF")] * 2
    with obis(script) as laser:
        laser.safe()
        laser.safe("standby")
        with pytest.raises(ValueError):
            laser.safe("unplug")


def test_round_trip_through_pyvisa_sim(tmp_path):
    model = shutil.copy(sim_path("obis"), tmp_path / "obis.yaml")
    laser = OBIS(name="laser", address=SIM_ADDRESSES["obis"],
                 visa_library=sim_library("obis", model), timeout=0.5)
    laser.connect()
    try:
        assert isinstance(laser, Laser)
        assert laser.on is False
        laser.power = 0.05
        laser.on = True
        assert (laser.power, laser.on) == (0.05, True)
        with pytest.raises(InstrumentError, match="ERR-100"):
            laser.write("SOUR:POW:LEV:IMM:AMPLITUDE 0.01")
        laser.safe()
        assert laser.on is False
    finally:
        laser.close()
