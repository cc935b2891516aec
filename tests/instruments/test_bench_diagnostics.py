"""What a bench tells its user before measuring: missing software named as such (not as a
cable problem), every instrument of ``instruments check`` reported, a mixed bench that can only
measure dark counts warned about, and the sample as the bench file declares it."""

import logging
import shutil
import sys

import pytest

from nvsense.cli import EXIT_FAULT, EXIT_OK, main
from nvsense.instruments import load_bench
from nvsense.instruments.drivers import SIM_ADDRESSES, sim_path
from nvsense.instruments.errors import BackendUnavailableError, BenchConfigError


def _sim(tmp_path, driver):
    return f"{shutil.copy(sim_path(driver), tmp_path / f'{driver}.yaml')}@sim"


def _bench(mw=None, laser=None, counter=None, **more):
    instruments = {"mw": mw or {"driver": "simulated"},
                   "laser": laser or {"driver": "simulated"},
                   "counter": counter or {"driver": "simulated"}, **more}
    return {"instruments": instruments}


# --- missing software -------------------------------------------------------------------------

def test_a_missing_visa_backend_is_named_with_its_package_not_as_a_cable_problem():
    bench = load_bench(_bench(mw={"driver": "sg384", "address": "TCPIP0::h::5025::SOCKET",
                                  "visa_library": "@nosuch"}))
    with pytest.raises(BackendUnavailableError) as info:
        bench.connect()
    message = str(info.value)
    assert "pyvisa-nosuch" in message and "is not installed" in message
    assert "switched on" not in message


def test_a_missing_pyvisa_sim_says_to_install_it(tmp_path, monkeypatch):
    import pyvisa.highlevel

    library = _sim(tmp_path, "sg384")
    bench = load_bench(_bench(mw={"driver": "sg384", "address": SIM_ADDRESSES["sg384"],
                                  "visa_library": library}))
    monkeypatch.setattr(pyvisa.highlevel, "_WRAPPERS", {})  # forget loaded backends
    monkeypatch.setitem(sys.modules, "pyvisa_sim", None)  # and make pyvisa-sim unimportable
    with pytest.raises(BackendUnavailableError) as info:
        bench.connect()
    message = str(info.value)
    assert "pyvisa-sim is not installed" in message and "pip install pyvisa-sim" in message
    assert "switched on" not in message


def test_pyvisa_sim_is_installed_with_nvsense():
    from importlib.metadata import requires

    assert any(r.split(">")[0].split(";")[0].strip() == "pyvisa-sim"
               and "extra ==" not in r for r in requires("nvsense"))


def test_an_unreadable_sim_model_is_named(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [not a model\n", encoding="utf-8")
    bench = load_bench(_bench(mw={"driver": "sg384", "address": SIM_ADDRESSES["sg384"],
                                  "visa_library": f"{broken}@sim"}))
    with pytest.raises(BackendUnavailableError, match="pyvisa-sim cannot read the model"):
        bench.connect()


# --- instruments check reports every instrument -----------------------------------------------

def test_check_reports_every_instrument_not_only_the_first_failure(tmp_path, capsys):
    path = tmp_path / "bench.yaml"
    path.write_text(f"""
instruments:
  mw: {{driver: sg384, address: "TCPIP0::h::5025::SOCKET", visa_library: "@nosuch"}}
  laser: {{driver: nidaq_gate, power: "50 mW", device: NoSuchDev}}
  counter: {{driver: simulated}}
  coil: {{driver: dp800, address: "{SIM_ADDRESSES['dp800']}",
         visa_library: "{_sim(tmp_path, 'dp800')}"}}
""", encoding="utf-8")
    assert main(["instruments", "check", str(path)]) == EXIT_FAULT
    captured = capsys.readouterr()
    assert "pyvisa-nosuch" in captured.err  # mw: a missing backend
    assert "laser (nidaq_gate at NoSuchDev)" in captured.err  # laser: reported too
    assert "nvsense,SimulatedCounter" in captured.out  # the others were still checked
    assert "DP832" in captured.out
    assert "not connected" in captured.out
    assert "Left safe: counter: stopped; coil: output off" in captured.out


# --- a mixed bench ----------------------------------------------------------------------------

def test_real_source_and_laser_with_the_simulated_counter_are_warned_about(tmp_path, caplog):
    mixed = _bench(mw={"driver": "sg384", "address": SIM_ADDRESSES["sg384"],
                       "visa_library": _sim(tmp_path, "sg384")},
                   laser={"driver": "cobolt", "address": SIM_ADDRESSES["cobolt"],
                          "visa_library": _sim(tmp_path, "cobolt")})
    with caplog.at_level(logging.WARNING, logger="nvsense.instruments"):
        bench = load_bench(mixed)
    assert bench.unseen_by_sample == ("mw", "laser")
    assert len(bench.warnings) == 2
    mw_warning, laser_warning = bench.warnings
    assert "instruments.mw (sg384)" in mw_warning and "no resonances" in mw_warning
    assert "instruments.laser (cobolt)" in laser_warning and "dark counts" in laser_warning
    assert all("Fix: use driver: simulated" in text for text in bench.warnings)
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == bench.warnings


def test_a_consistent_bench_has_no_warning():
    assert load_bench().warnings == [] and load_bench().unseen_by_sample == ()


def test_a_simulated_source_with_a_real_counter_is_warned_about_too():
    bench = load_bench(_bench(counter={"driver": "nidaq"}))
    assert bench.unseen_by_sample == ()
    assert [w.split(" is simulated")[0] for w in bench.warnings] == ["instruments.mw",
                                                                    "instruments.laser"]


def test_check_prints_the_warning_once(tmp_path, capsys):
    path = tmp_path / "bench.yaml"
    path.write_text(f"""
instruments:
  mw: {{driver: sg384, address: "{SIM_ADDRESSES['sg384']}",
       visa_library: "{_sim(tmp_path, 'sg384')}"}}
  laser: {{driver: simulated}}
  counter: {{driver: simulated}}
""", encoding="utf-8")
    assert main(["instruments", "check", str(path)]) == EXIT_OK
    captured = capsys.readouterr()
    assert "Warning: instruments.mw (sg384) is a real instrument" in " ".join(
        captured.out.split())
    assert "is a real instrument" not in captured.err


# --- the declared sample ----------------------------------------------------------------------

def test_a_real_bench_knows_only_what_its_file_declares():
    real = _bench(counter={"driver": "nidaq"},
                  mw={"driver": "sg384", "address": "TCPIP0::h::5025::SOCKET"},
                  laser={"driver": "nidaq_gate", "power": "50 mW"})
    info = load_bench(real).sample_info
    assert (info.axes, info.nucleus, info.nv, info.source) == (None, None, None, "bench file")
    declared = load_bench({**real, "sample": {"nv": "single", "axes": [2], "nucleus": "15n"}})
    info = declared.sample_info
    assert (info.axes, info.nucleus, info.nv) == ((2,), "15N", "single")
    assert info.declared == ("nv", "axes", "nucleus")
    assert declared.sample is None  # no simulator on a real bench


def test_a_simulated_bench_declares_its_simulators_sample():
    info = load_bench("single_nv").sample_info
    assert (info.axes, info.nucleus, info.nv, info.source) == (
        (0,), "14N", "single", "simulated sample")
    info = load_bench().sample_info
    assert (info.axes, info.nucleus, info.nv) == ((0, 1, 2, 3), "none", "ensemble")
    assert info.as_dict()["axes"] == [0, 1, 2, 3]


def test_a_single_nv_has_one_axis():
    with pytest.raises(BenchConfigError, match="a single NV has one axis"):
        load_bench({"sample": {"nv": "single", "axes": [0, 1]}})


def _nidaqmx_installed() -> bool:
    import nidaqmx
    import nidaqmx.errors

    try:
        nidaqmx.Task().close()
    except nidaqmx.errors.DaqNotFoundError:
        return False
    return True


@pytest.mark.skipif(_nidaqmx_installed(), reason="NI-DAQmx is installed on this computer")
def test_a_bench_without_ni_daqmx_says_to_install_it_not_to_check_cables():
    from nvsense.instruments.drivers.nidaq import NIDAQ_NOT_INSTALLED

    bench = load_bench(_bench(counter={"driver": "nidaq"}))
    with pytest.raises(BackendUnavailableError) as info:
        bench.connect()
    assert info.value.cause == NIDAQ_NOT_INSTALLED
    assert "switched on" not in str(info.value)
    assert bench.safe_report == ["mw: RF off, list stopped", "laser: off"]  # the others: safe
