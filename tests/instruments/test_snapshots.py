"""Every instrument reports its read-back state (``snapshot()``), byte for byte from the
instrument, with units; the bench gathers them into one JSON-serialisable snapshot."""

import json
import shutil

import pytest

from nvsense.instruments import load_bench
from nvsense.instruments.drivers import SIM_ADDRESSES, sim_path
from nvsense.instruments.drivers.cobolt import Cobolt
from nvsense.instruments.drivers.dp800 import DP800
from nvsense.instruments.drivers.n5181b import N5181B
from nvsense.instruments.drivers.obis import OBIS
from nvsense.instruments.drivers.sg384 import SG384
from nvsense.instruments.drivers.smb100a import SMB100A
from nvsense.instruments.drivers.synthhd import SynthHD
from nvsense.instruments.drivers.testing import expected_protocol
from nvsense.instruments.protocols import LaserLimits, Snapshottable
from nvsense.instruments.snapshot import snapshot_json


def q(value, unit):
    return {"value": value, "unit": unit}


def test_sg384_snapshot_reads_back_cw_list_and_fm():
    script = [("FREQ?", "2870000000.000000"), ("AMPR?", "-10.00"), ("ENBR?", "1"),
              ("LSTE?", "0"), ("MODL?", "1"), ("TYPE?", "1"), ("FDEV?", "250000.00")]
    with expected_protocol(SG384, script) as mw:
        snap = mw.snapshot()
    assert isinstance(mw, Snapshottable)
    assert snap["identity"] == "scripted" and snap["class"].endswith("sg384.SG384")
    assert (snap["frequency"], snap["power"], snap["output"]) == (
        q(2.87e9, "Hz"), q(-10.0, "dBm"), True)
    assert snap["limits"]["frequency_max"] == q(4.05e9, "Hz")
    assert snap["list"] == {"running": False, "points": 0, "first": None, "last": None,
                            "power": None, "max_points": 2000}
    assert snap["fm"] == {"enabled": True, "deviation": q(250e3, "Hz")}
    assert snap["connection"]["timeout"] == q(2.0, "s")
    json.dumps(snap)


@pytest.mark.parametrize("driver", [SMB100A, N5181B])
def test_scpi_sources_share_the_cw_settings_and_snapshot(driver):
    script = [("FREQ?", "2.87E+09"), ("POW?", "-12.5"), ("OUTP?", "0"),
              ("FREQ:MODE?", "LIST"), ("FM:STAT?", "0"), ("FM:DEV?", "1000.0")]
    with expected_protocol(driver, script) as mw:
        snap = mw.snapshot()
    assert (snap["frequency"], snap["power"], snap["output"]) == (
        q(2.87e9, "Hz"), q(-12.5, "dBm"), False)
    assert snap["list"]["running"] is True
    assert snap["fm"] == {"enabled": False, "deviation": q(1000.0, "Hz")}


def test_the_scpi_base_writes_each_setting_with_its_decimals():
    with expected_protocol(SMB100A, [("FREQ 2870000000.123", None), ("SYST:ERR?", '0,"No error"'),
                                     ("FREQ?", "2870000000.123")]) as mw:
        mw.frequency = 2870000000.1234
    with expected_protocol(SG384, [("FREQ 2870000000.123400", None), ("LERR?", "0"),
                                   ("FREQ?", "2870000000.123400")]) as mw:
        mw.frequency = 2870000000.1234
    assert SG384.frequency.unit == "Hz" and SG384.power.unit == "dBm"
    assert SG384.power.query == "AMPR?" and N5181B.output.command == "OUTP {value}"


def test_synthhd_snapshot_selects_its_channel_then_reads():
    script = [("C1", None), ("C?", "1"), ("f?", "2870.0000000"), ("W?", "-5.00"),
              ("E?", "1"), ("r?", "1"), ("h?", "1"), ("c?", "0"), ("/?", "1"), (">?", "50000")]
    with expected_protocol(SynthHD, script, address="ASRL1::INSTR", channel=1) as mw:
        snap = mw.snapshot()
    assert snap["channel"] == 1 and snap["output"] is True
    assert snap["frequency"] == q(2.87e9, "Hz")
    assert snap["fm"] == {"enabled": True, "deviation": q(5e4, "Hz")}


def test_laser_snapshots():
    script = [("SOUR:POW:LEV:IMM:AMPL?", ["0.05000", "OK"]), ("SOUR:AM:STAT?", ["ON", "OK"]),
              ("SOUR:POW:LEV?", ["0.04980", "OK"])]
    with expected_protocol(OBIS, script, address="ASRL2::INSTR") as laser:
        laser._limits = LaserLimits(0.0005, 0.1)  # as read at connect
        snap = laser.snapshot()
    assert (snap["power"], snap["on"], snap["measured_power"]) == (
        q(0.05, "W"), True, q(0.0498, "W"))
    assert snap["limits"] == {"power_min": q(0.0005, "W"), "power_max": q(0.1, "W")}

    connect = [("sn?", "21345"), ("gmlp?", "100.000000"), ("@cobas 0", "OK"), ("l0", "OK"),
               ("l?", "0"), ("cp", "OK")]
    script = [("p?", "0.0200"), ("l?", "0"), ("pa?", "0.0001"), ("ilk?", "0"), ("f?", "0")]
    with expected_protocol(Cobolt, script, connect_script=connect, address="ASRL3::INSTR",
                           max_power="80 mW") as laser:
        snap = laser.snapshot()
    assert snap["rated_power"] == q(0.1, "W") and snap["max_power"] == q(0.08, "W")
    assert snap["limits"]["power_max"] == q(0.08, "W")
    assert (snap["interlock_closed"], snap["fault"], snap["on"]) == (True, 0, False)


def test_coil_supply_snapshot():
    script = [(":SOUR2:CURR?", "0.500"), (":OUTP? CH2", "ON"), (":MEAS:CURR? CH2", "0.498"),
              (":SOUR2:VOLT?", "12.000")]
    with expected_protocol(DP800, script, address="TCPIP0::h::inst0::INSTR", channel=2) as coil:
        coil._rating = (30.0, 3.0)  # as read at connect
        snap = coil.snapshot()
    assert (snap["current"], snap["output"], snap["voltage"]) == (q(0.5, "A"), True,
                                                                  q(12.0, "V"))
    assert snap["limits"] == {"current_min": q(0.0, "A"), "current_max": q(3.0, "A")}


def test_the_simulated_bench_snapshot_is_json_with_units():
    with load_bench() as bench:
        bench.mw.frequency = 2.9e9
        bench.mw.load_list([2.86e9, 2.87e9, 2.88e9], -12.0)
        bench.counter.configure(3, 1e-3, trigger_mw=True)
        snap = bench.snapshot()
    text = snapshot_json(snap)
    assert json.loads(text) == snap
    mw = snap["instruments"]["mw"]
    assert mw["driver"] == "simulated" and mw["identity"].startswith("nvsense,SimulatedMW")
    assert mw["frequency"] == q(2.9e9, "Hz") and mw["output"] is False
    assert mw["list"]["points"] == 3 and mw["list"]["power"] == q(-12.0, "dBm")
    assert mw["limits"]["frequency_max"] == q(4.05e9, "Hz")  # the instrument's own
    assert mw["effective_limits"]["frequency_max"] == q(3.3e9, "Hz")  # within the bench's
    assert snap["instruments"]["counter"]["configuration"] == {
        "n_bins": 3, "bin_time": q(1e-3, "s"), "trigger_mw": True}
    assert snap["instruments"]["coil"]["limits"]["current_max"] == q(3.0, "A")
    assert snap["limits"]["max_mw_power"] == q(0.0, "dBm")
    assert snap["sample"]["axes"] == [0, 1, 2, 3]
    assert snap["capabilities"]["list_sweep"] is True


def test_a_bench_of_real_drivers_on_their_sims_snapshots_what_the_instruments_hold(tmp_path):
    def entry(driver, **options):
        library = f"{shutil.copy(sim_path(driver), tmp_path)}@sim"
        return {"driver": driver, "address": SIM_ADDRESSES[driver], "visa_library": library,
                "timeout": 0.5, **options}

    bench_file = {"instruments": {"mw": entry("sg384"), "laser": entry("cobolt"),
                                  "counter": {"driver": "simulated"}, "coil": entry("dp800")}}
    with load_bench(bench_file) as bench:
        bench.mw.frequency = 2.8765e9
        bench.mw.power = -7.5
        bench.laser.power = 0.03
        bench.coil.current = 0.25
        snap = bench.snapshot()
    instruments = snap["instruments"]
    assert instruments["mw"]["frequency"] == q(2.8765e9, "Hz")
    assert instruments["mw"]["power"] == q(-7.5, "dBm")
    assert instruments["mw"]["identity"].startswith("Stanford Research Systems,SG384")
    assert instruments["laser"]["power"] == q(0.03, "W")
    assert instruments["laser"]["rated_power"] == q(0.1, "W")
    assert instruments["coil"]["current"] == q(0.25, "A")
    assert snap["warnings"] and "instruments.mw (sg384)" in snap["warnings"][0]
    json.dumps(snap)


def test_an_instrument_that_fails_is_recorded_not_raised():
    with load_bench({"sample": {"faults": {"laser_disconnect_at_time": "0 s"}}}) as bench:
        snap = bench.snapshot()
    assert "connection lost" in snap["instruments"]["laser"]["error"]
    assert snap["instruments"]["mw"]["output"] is False  # the others are all there


def test_a_snapshot_of_a_bench_not_connected_says_so():
    snap = load_bench().snapshot()
    assert snap["instruments"]["mw"] == {"driver": "simulated", "error": "not connected"}

