"""Rigol DP800 coil supply driver: per-channel commands, ratings per model and channel, SCPI
errors, and a pyvisa-sim round trip."""

import shutil

import pytest

from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.instruments.drivers.dp800 import DP800
from nvsense.instruments.drivers.testing import expected_protocol
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.protocols import CoilLimits, CoilSupply

ADDRESS = "TCPIP0::10.0.0.14::inst0::INSTR"
NO_ERROR = ("SYST:ERR?", '0,"No error"')
DP832 = "RIGOL TECHNOLOGIES,DP832,DP8C000000001,00.01.14"


def setting(command, query, reply):
    return [(command, None), NO_ERROR, (query, reply)]


def connect_script(idn=DP832, channel=2, voltage=True):
    script = [("*CLS", None), NO_ERROR, ("*IDN?", idn),
              *setting(f":OUTP CH{channel},OFF", f":OUTP? CH{channel}", "OFF")]
    if voltage:
        script += setting(f":SOUR{channel}:VOLT 12.000", f":SOUR{channel}:VOLT?", "12.000")
    return script


def supply(script, **kwargs):
    kwargs.setdefault("channel", 2)
    kwargs.setdefault("voltage", "12 V")
    return expected_protocol(DP800, script, address=ADDRESS,
                             connect_script=connect_script(channel=kwargs["channel"],
                                                           voltage=kwargs["voltage"] is not None),
                             **kwargs)


def test_connect_switches_the_channel_off_and_sets_the_compliance_voltage():
    with supply([]) as coil:
        assert coil.limits == CoilLimits(0.0, 3.0)
        assert coil.identity == DP832


def test_current_and_output_are_channel_addressed_and_read_back():
    script = [*setting(":SOUR2:CURR 1.235", ":SOUR2:CURR?", "1.2350"),
              *setting(":OUTP CH2,ON", ":OUTP? CH2", "ON"), (":MEAS:CURR? CH2", "1.2338")]
    with supply(script) as coil:
        coil.current = 1.235
        coil.output = True
        assert coil.measured_current == 1.2338


def test_current_read_back_mismatch_is_an_error():
    with supply(setting(":SOUR2:CURR 1.000", ":SOUR2:CURR?", "0.5000")) as coil:
        with pytest.raises(InstrumentError, match="reads back"):
            coil.current = 1.0


def test_scpi_error_is_an_instrument_error():
    script = [(":SOUR2:CURR 2.000", None), ("SYST:ERR?", '-221,"Settings conflict"'), NO_ERROR]
    with supply(script) as coil:
        with pytest.raises(InstrumentError, match="Settings conflict"):
            coil.current = 2.0


@pytest.mark.parametrize("value", [3.1, -0.1, float("nan")])
def test_current_outside_the_channel_rating_sends_nothing(value):
    with supply([]) as coil:
        with pytest.raises(LimitError):
            coil.current = value
        assert len(coil._resource.written) == len(connect_script())


def test_bench_current_max_narrows_the_rating():
    with supply([], current_max="0.5 A") as coil:
        with pytest.raises(LimitError):
            coil.current = 0.6


def test_channel_the_model_lacks_is_refused():
    idn = "RIGOL TECHNOLOGIES,DP821,DP8B000000001,00.01.14"
    script = [("*CLS", None), NO_ERROR, ("*IDN?", idn)]
    with pytest.raises(InstrumentError, match="no channel 3"):
        with expected_protocol(DP800, [], address=ADDRESS, connect_script=script, channel=3):
            pass


def test_compliance_voltage_above_the_channel_rating_is_refused():
    script = [("*CLS", None), NO_ERROR, ("*IDN?", DP832)]
    with pytest.raises(InstrumentError, match=r"5\.0 V"):
        with expected_protocol(DP800, [], address=ADDRESS, connect_script=script, channel=3,
                               voltage=12):
            pass


def test_safe_switches_the_output_off():
    with supply(setting(":OUTP CH2,OFF", ":OUTP? CH2", "OFF")) as coil:
        coil.safe()


def test_round_trip_through_pyvisa_sim(tmp_path):
    model = shutil.copy(sim_path("dp800"), tmp_path / "dp800.yaml")
    coil = DP800(name="coil", address=SIM_ADDRESSES["dp800"], channel=1, voltage=10,
                 visa_library=sim_library("dp800", model), timeout=0.5)
    coil.connect()
    try:
        assert isinstance(coil, CoilSupply)
        assert coil.output is False
        coil.current = 0.75
        coil.output = True
        assert (coil.current, coil.output) == (0.75, True)
        coil.safe()
        assert coil.output is False
    finally:
        coil.close()
