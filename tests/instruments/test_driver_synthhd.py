"""Windfreak SynthHD driver: exact bytes per command, read-back checks (it has no error queue),
model ranges, trigger-stepped linear sweep, FM, and a pyvisa-sim round trip."""

import shutil

import pytest

from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.instruments.drivers.synthhd import SynthHD
from nvsense.instruments.drivers.testing import TIMEOUT, expected_protocol
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.protocols import MicrowaveSource

ADDRESS = "ASRL/dev/ttyACM0::INSTR"


def setting(command, reply):
    """``X<value>`` then ``X?`` answered with ``reply``."""
    return [(command, None), (command[0] + "?", reply)]


def select(channel=0):
    return setting(f"C{channel}", str(channel))


OFF = [*setting("h0", "0"), *setting("r0", "0"), *setting("E0", "0")]
STOP = [*setting("c0", "0"), *setting("g0", "0"), *setting("w0", "0")]


def connect_script(hardware="Hardware Version 2.06", sub="HD", channel=0):
    ident = [("+", "SynthHD"), ("v1", hardware)]
    if hardware.startswith("Hardware Version 2"):
        ident.append(("v2", sub))
    return [*ident, ("-", "1287"), ("v0", "Firmware Version 3.22"), *select(channel), *OFF,
            *STOP, *setting("/0", "0")]


def test_connect_identifies_the_hardware_version_and_switches_the_channel_off():
    with expected_protocol(SynthHD, [], connect_script=connect_script(channel=1),
                           address=ADDRESS, channel=1) as mw:
        assert mw._resource.read_termination == "\n"
        assert mw._resource.baud_rate == 115200
        assert "SynthHD v2" in mw.identity and "1287" in mw.identity
        assert mw.limits.frequency_max == 15e9


@pytest.mark.parametrize("hardware, sub, top", [("Hardware Version 1.4", None, 13999.999999e6),
                                                ("Hardware Version 2.06", "HDPRO", 24e9)])
def test_ranges_follow_the_hardware_version(hardware, sub, top):
    with expected_protocol(SynthHD, [], connect_script=connect_script(hardware, sub),
                           address=ADDRESS) as mw:
        assert mw.limits.frequency_max == top


def test_other_device_on_the_port_is_refused():
    with pytest.raises(InstrumentError, match="not a Windfreak SynthHD"):
        with expected_protocol(SynthHD, [], connect_script=[("+", "LMS-103")], address=ADDRESS):
            pass


def test_silent_device_is_a_timeout_error():
    with pytest.raises(InstrumentError, match="VISA timeout"):
        with expected_protocol(SynthHD, [], connect_script=[("+", TIMEOUT)], address=ADDRESS):
            pass


def test_frequency_in_megahertz_power_and_output_sequence():
    script = [*setting("f2870.1234560", "2870.1234560"), *setting("W-5.25", "-5.25"),
              *setting("E1", "1"), *setting("r1", "1"), *setting("h1", "1"),
              ("E?", "1"), ("r?", "1"), ("h?", "1")]
    with expected_protocol(SynthHD, script, address=ADDRESS) as mw:
        mw.frequency = 2870.123456e6
        mw.power = -5.25
        mw.output = True
        assert mw.output is True


def test_ignored_command_shows_as_read_back_mismatch():
    with expected_protocol(SynthHD, setting("f2870.0000000", "2000.0000000"),
                           address=ADDRESS) as mw:
        with pytest.raises(InstrumentError, match="reads back"):
            mw.frequency = 2.87e9


def test_output_off_unmutes_last_and_mutes_first():
    with expected_protocol(SynthHD, OFF, address=ADDRESS) as mw:
        mw.output = False


def test_limits_checked_before_sending():
    with expected_protocol(SynthHD, [], address=ADDRESS, power_max=10) as mw:
        with pytest.raises(LimitError):
            mw.power = 12
        with pytest.raises(LimitError):
            mw.frequency = 5e6
        assert mw._resource.written == []


def test_linear_list_is_programmed_as_a_trigger_stepped_sweep():
    script = [*select(), *STOP, *setting("X0", "0"), *setting("^0", "0"),
              *setting("l2860.0000000", "2860.0000000"),
              *setting("u2880.0000000", "2880.0000000"), *setting("s10.0000000", "10.0000000"),
              *setting("[-5.00", "-5.00"), *setting("]-5.00", "-5.00"),
              *setting("f2880.0000000", "2880.0000000"), *setting("W-5.00", "-5.00"),
              *select(), *setting("w2", "2"), *setting("c1", "1"), *STOP]
    with expected_protocol(SynthHD, script, address=ADDRESS) as mw:
        mw.load_list([2.88e9, 2.87e9, 2.86e9], -5)  # downwards
        mw.start_list()
        mw.stop_list()


def test_unequally_spaced_list_is_refused_before_sending():
    with expected_protocol(SynthHD, [], address=ADDRESS) as mw:
        with pytest.raises(LimitError, match="equally spaced"):
            mw.load_list([2.86e9, 2.87e9, 2.89e9], -5)
        assert mw._resource.written == []


def test_internal_fm_and_no_external_fm():
    script = [*select(), *setting("<1000", "1000"), *setting(">50000", "50000"),
              *setting("/1", "1"), *setting("/0", "0")]
    with expected_protocol(SynthHD, script, address=ADDRESS) as mw:
        mw.set_fm(5e4, rate=1e3)
        mw.set_fm(5e4, enabled=False)
        with pytest.raises(NotImplementedError, match="internal FM only"):
            mw.set_fm(5e4, source="external")


def test_channel_option_is_validated():
    with pytest.raises(ValueError, match="channel"):
        SynthHD(name="mw", address=ADDRESS, channel=2)


def test_round_trip_through_pyvisa_sim(tmp_path):
    model = shutil.copy(sim_path("synthhd"), tmp_path / "synthhd.yaml")
    mw = SynthHD(name="mw", address=SIM_ADDRESSES["synthhd"],
                 visa_library=sim_library("synthhd", model), timeout=0.5)
    mw.connect()
    try:
        assert isinstance(mw, MicrowaveSource)
        assert mw.output is False
        mw.frequency = 2.8701e9
        mw.power = 3.5
        mw.output = True
        assert (mw.frequency, mw.power, mw.output) == (2.8701e9, 3.5, True)
        mw.load_list([2.86e9, 2.87e9, 2.88e9], 0)
        mw.start_list()
        mw.safe()
        assert mw.output is False
    finally:
        mw.close()
