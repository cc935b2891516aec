"""Cobolt driver: every command answered (OK / value / error text), the rated power read from
the laser (``gmlp?``, mW) with the bench's ``max_power`` as a further limit, interlock and
fault checks before emission, 06-01 vs 04-01 start-up, and a pyvisa-sim round trip."""

import shutil

import pytest

from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.instruments.drivers.cobolt import Cobolt
from nvsense.instruments.drivers.testing import LOST, expected_protocol
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.protocols import Laser

ADDRESS = "ASRL/dev/ttyUSB1::INSTR"
RATING = [("sn?", "21345"), ("gmlp?", "100.000000")]
START_0601 = [("@cobas 0", "OK"), ("l0", "OK"), ("l?", "0"), ("cp", "OK")]
CONNECT_0601 = RATING + START_0601
CONNECT_0401 = [*RATING, ("@cobas 0", "OK"), ("l0", "OK"), ("l?", "0")]
SYNTAX = "Syntax error: illegal command"


def cobolt(script, connect=CONNECT_0601, **kwargs):
    return expected_protocol(Cobolt, script, connect_script=connect, address=ADDRESS, **kwargs)


def test_connect_disables_autostart_stops_emission_and_selects_constant_power():
    with cobolt([]) as laser:
        resource = laser._resource
        assert (resource.read_termination, resource.write_termination) == ("\r\n", "\r")
        assert resource.baud_rate == 115200
        assert laser.identity == "Cobolt 06-01 laser, s/n 21345"
        assert laser.limits.power_max == pytest.approx(0.1)


def test_the_rated_power_comes_from_the_laser_and_max_power_lowers_it():
    with cobolt([], max_power="80 mW") as laser:
        assert laser.rated_power == pytest.approx(0.1)
        assert laser.limits.power_max == pytest.approx(0.08)
        with pytest.raises(LimitError):
            laser.power = 0.09
    with cobolt([], max_power="150 mW") as laser:  # a limit above the rating: the rating
        assert laser.limits.power_max == pytest.approx(0.1)


def test_without_connecting_only_a_bench_limit_is_known():
    assert Cobolt(name="laser", address=ADDRESS, max_power="50 mW").limits.power_max == 0.05
    with pytest.raises(InstrumentError, match="not connected"):
        _ = Cobolt(name="laser", address=ADDRESS).limits


def test_a_laser_without_gmlp_needs_max_power():
    old = [("sn?", "21345"), ("gmlp?", SYNTAX)]
    with pytest.raises(InstrumentError, match=r'rated power.*max_power: "100 mW"') as info:
        with cobolt([], connect=old):
            pass
    assert info.value.command == "gmlp?"
    with cobolt([], connect=old + START_0601, max_power="40 mW") as laser:
        assert laser.rated_power is None
        assert laser.limits.power_max == pytest.approx(0.04)


def test_an_implausible_rating_is_not_taken():
    with pytest.raises(InstrumentError, match="does not report its rated power"):
        with cobolt([], connect=[("sn?", "21345"), ("gmlp?", "0.000000")]):
            pass


def test_04_01_series_has_no_modulation_modes_so_no_cp():
    with cobolt([], connect=CONNECT_0401, series="04-01") as laser:
        assert laser.series == "04-01"


def test_other_device_is_refused():
    with pytest.raises(InstrumentError, match="not a Cobolt"):
        with cobolt([], connect=[("sn?", SYNTAX)]):
            pass


def test_power_set_point_and_measured_power():
    script = [("p 0.0425", "OK"), ("p?", "0.0425"), ("pa?", "0.0421")]
    with cobolt(script) as laser:
        laser.power = 0.0425
        assert laser.measured_power == 0.0421


def test_error_text_instead_of_ok_is_an_instrument_error():
    with cobolt([("p 0.0500", "Error: value out of range")]) as laser:
        with pytest.raises(InstrumentError, match="out of range") as info:
            laser.power = 0.05
    assert info.value.command == "p 0.0500"


def test_error_text_to_a_query_is_an_instrument_error():
    with cobolt([("pa?", SYNTAX)]) as laser:
        with pytest.raises(InstrumentError, match="illegal command"):
            _ = laser.measured_power


def test_emission_checks_interlock_and_faults_first():
    script = [("ilk?", "0"), ("f?", "0"), ("l1", "OK"), ("l?", "1")]
    with cobolt(script) as laser:
        laser.on = True


def test_open_interlock_blocks_emission_without_sending_l1():
    with cobolt([("ilk?", "1")]) as laser:
        with pytest.raises(InstrumentError, match="interlock is open"):
            laser.on = True


def test_latched_fault_is_named_and_can_be_cleared():
    script = [("ilk?", "0"), ("f?", "3"), ("cf", "OK")]
    with cobolt(script) as laser:
        with pytest.raises(InstrumentError, match="fault 3 \\(interlock error\\)"):
            laser.on = True
        laser.clear_fault()


def test_emission_that_does_not_follow_is_an_error():
    with cobolt([("l0", "OK"), ("l?", "1")]) as laser:
        with pytest.raises(InstrumentError, match="may still be on"):
            laser.safe()


def test_power_above_the_rating_sends_nothing():
    with cobolt([]) as laser:
        with pytest.raises(LimitError):
            laser.power = 0.11
        assert laser._resource.written == [m for m, _ in CONNECT_0601]


def test_lost_connection_is_an_instrument_error():
    with cobolt([("l?", LOST)]) as laser:
        with pytest.raises(InstrumentError, match="CONN_LOST"):
            _ = laser.on


@pytest.mark.parametrize("kwargs", [{"max_power": 0}, {"max_power": "fast"},
                                    {"max_power": 0.1, "series": "08-01"}])
def test_options_are_validated(kwargs):
    with pytest.raises(ValueError):
        Cobolt(name="laser", address=ADDRESS, **kwargs)


def test_round_trip_through_pyvisa_sim(tmp_path):
    model = shutil.copy(sim_path("cobolt"), tmp_path / "cobolt.yaml")
    laser = Cobolt(name="laser", address=SIM_ADDRESSES["cobolt"],
                   visa_library=sim_library("cobolt", model), timeout=0.5)
    laser.connect()
    try:
        assert isinstance(laser, Laser)
        assert laser.limits.power_max == pytest.approx(0.1)  # gmlp? of the model: 100 mW
        assert laser.on is False
        laser.power = 0.06
        laser.on = True
        assert (laser.power, laser.on) == (0.06, True)
        with pytest.raises(InstrumentError, match="illegal command"):
            laser.write("slmp 50")
        laser.safe("standby")
        assert laser.on is False
    finally:
        laser.close()
