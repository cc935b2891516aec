"""The shared VISA driver machinery: opening, failures, limits narrowing, and the protocol
fake itself (a protocol test must fail when the driver sends other bytes)."""

import shutil

import pytest
import pyvisa
from pyvisa import constants
from pyvisa.errors import VisaIOError

from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.instruments.drivers.sg384 import SG384
from nvsense.instruments.drivers.testing import (
    FakeResourceManager,
    ProtocolResource,
    expected_protocol,
)
from nvsense.instruments.errors import BenchConfigError, InstrumentError

IDN = "Stanford Research Systems,SG384,s/n004321,ver1.21.26"


def test_unopenable_address_is_an_instrument_error_naming_address_and_library():
    rm = FakeResourceManager(open_error=VisaIOError(constants.StatusCode.error_resource_not_found))
    mw = SG384(name="mw", address="TCPIP0::10.9.9.9::5025::SOCKET", visa_library="@py",
               resource_manager=rm)
    with pytest.raises(InstrumentError) as info:
        mw.connect()
    assert info.value.instrument == "mw"
    assert "TCPIP0::10.9.9.9::5025::SOCKET" in info.value.command
    assert "@py" in info.value.cause
    assert not mw.connected


def test_missing_sim_file_is_an_instrument_error_not_a_crash(tmp_path):
    mw = SG384(name="mw", address=SIM_ADDRESSES["sg384"],
               visa_library=f"{tmp_path / 'absent.yaml'}@sim")
    with pytest.raises(InstrumentError, match=r"absent\.yaml"):
        mw.connect()


def test_failed_identification_closes_the_resource():
    resource = ProtocolResource("TCPIP0::10.0.0.1::5025::SOCKET",
                                [("*CLS", None), ("LERR?", "0"), ("*IDN?", "ACME,SG9000,1,1")])
    mw = SG384(name="mw", address=resource.address,
               resource_manager=FakeResourceManager(resource))
    with pytest.raises(InstrumentError, match="not an SRS"):
        mw.connect()
    assert resource.closed and not mw.connected


def test_bench_limit_wider_than_the_instrument_is_refused_at_connect():
    script = [("*CLS", None), ("LERR?", "0"), ("*IDN?", IDN)]
    with pytest.raises(BenchConfigError, match="power_max"):
        with expected_protocol(SG384, [], connect_script=script, power_max=20):
            pass


def test_unparsable_reply_is_an_instrument_error():
    with expected_protocol(SG384, [("AMPR?", "OVERLOAD")]) as mw:
        with pytest.raises(InstrumentError, match="unexpected reply 'OVERLOAD'"):
            _ = mw.power


def test_io_before_connect_names_the_fix():
    mw = SG384(name="mw", address="TCPIP0::10.0.0.1::5025::SOCKET")
    with pytest.raises(InstrumentError, match=r"call connect\(\) first"):
        _ = mw.frequency
    mw.safe()  # never connected: nothing to make safe
    mw.close()


@pytest.mark.parametrize("kwargs", [{"address": ""}, {"address": "X", "timeout": 0},
                                    {"address": "X", "timeout": "slow"}])
def test_bad_connection_options_are_rejected_at_construction(kwargs):
    with pytest.raises(ValueError):
        SG384(name="mw", **kwargs)


def test_protocol_fake_rejects_other_bytes():
    with pytest.raises(AssertionError, match="the script expects 'ENBR 1'"):
        with expected_protocol(SG384, [("ENBR 1", None)]) as mw:
            mw.write("ENBR 0", check=False)


def test_protocol_fake_rejects_unsent_script_and_unread_replies():
    with pytest.raises(AssertionError, match="did not send"):
        with expected_protocol(SG384, [("ENBR 0", None)]):
            pass
    with pytest.raises(AssertionError, match="was not read"):
        with expected_protocol(SG384, [("FREQ?", "1"), ("AMPR?", "0")]) as mw:
            mw.send("FREQ?")
            mw.send("AMPR?")


def test_shipped_sims_are_package_data():
    for driver in SIM_ADDRESSES:
        assert sim_path(driver).is_file()
        assert sim_library(driver).endswith(".yaml@sim")
    with pytest.raises(KeyError, match="sg384"):
        sim_path("hp8648")


def test_closing_one_instrument_leaves_others_on_the_same_visa_library_connected(tmp_path):
    library = sim_library("sg384", shutil.copy(sim_path("sg384"), tmp_path))
    other = pyvisa.ResourceManager(library).open_resource(
        SIM_ADDRESSES["sg384"], read_termination="\r\n", write_termination="\n")
    mw = SG384(name="mw", address=SIM_ADDRESSES["sg384"], visa_library=library, timeout=0.5)
    mw.connect()
    mw.close()
    assert other.query("ENBR?") == "0"  # pyvisa shares the resource manager: it stays open
