"""``nvsense instruments list`` and ``nvsense instruments check``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from nvsense.cli import EXIT_BAD_INPUT, EXIT_FAULT, EXIT_OK, main
from nvsense.instruments.registry import DRIVERS


def write(tmp_path, text):
    path = tmp_path / "bench.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def wide(monkeypatch):
    """Tables wide enough that no cell wraps."""
    monkeypatch.setenv("COLUMNS", "400")


def test_list_shows_every_driver_and_what_it_drives(capsys, wide):
    assert main(["instruments", "list"]) == EXIT_OK
    out = capsys.readouterr().out
    for info in DRIVERS:
        assert info.name in out
    for kind in ("mw", "laser", "counter", "coil", "lockin", "analog_input", "fm_drive",
                 "pulser", "gated_counter", "camera"):
        assert kind in out
    assert "SG380 series" in out and "address" in out
    assert "Pulse Streamer 8/2" in out and "Time Tagger" in out and "SR860" in out


def test_list_says_which_vendor_package_a_driver_still_needs(capsys, monkeypatch, wide):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pulsestreamer" else real(name, *a))
    assert main(["instruments", "list"]) == EXIT_OK
    out = " ".join(capsys.readouterr().out.split())
    assert 'needs pulsestreamer (pip install "nvsense[pulsestreamer]")' in out


def test_check_on_the_simulated_bench(capsys):
    assert main(["instruments", "check"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Bench: simulated" in out
    assert "nvsense,SimulatedMW,0," in out and "nvsense,SimulatedCoil,0," in out
    assert "2.87 GHz, -10 dBm, RF off" in out
    assert "counts/s, laser off" in out
    assert "2.5 GHz to 3.3 GHz" in out  # the bench's frequency limit
    assert ("Left safe: mw: RF off, list stopped; laser: off; counter: stopped; coil: output off"
            in out)
    assert "All instruments answered." in out


def test_check_reaches_the_optional_instruments_and_leaves_them_safe(capsys, wide):
    assert main(["instruments", "check"]) == EXIT_OK
    out = " ".join(capsys.readouterr().out.split())
    for identity in ("SimulatedLockIn", "SimulatedAI", "SimulatedFMDrive", "SimulatedPulser",
                     "SimulatedGatedCounter", "SimulatedCamera"):
        assert f"nvsense,{identity},0," in out
    assert "τ 1 ms, 24 dB/oct" in out  # the lock-in read back
    assert "s0.signal 0 V, s0.reference 0 V" in out  # dark: the laser stays off
    assert "(test read 2000 samples at 200 kS/s)" in out
    assert "test frame mean" in out and "128×128 px" in out
    assert ("pulser: stopped, outputs low; fm_drive: stopped, output 0 V; lockin: capture "
            "stopped, sine output down; analog_input: stopped; gated_counter: stopped; camera: "
            "acquisition stopped") in out


def test_check_names_an_unreachable_optional_instrument_and_exits_1(tmp_path, capsys):
    path = write(tmp_path, """
        sample: {faults: {camera_unreachable: true}}
        """)
    assert main(["instruments", "check", str(path)]) == EXIT_FAULT
    captured = capsys.readouterr()
    assert "camera (simulated): connect failed: no response" in captured.err
    assert "lockin: capture stopped" in captured.out  # the others checked and left safe


def test_an_fm_drive_the_limits_would_never_let_start_exits_2(tmp_path, capsys):
    path = write(tmp_path, """
        limits: {max_modulation_voltage: "0.5 V"}
        """)
    assert main(["instruments", "check", str(path)]) == EXIT_BAD_INPUT
    err = " ".join(capsys.readouterr().err.split())
    assert "fm_drive: its amplitude (1 V at full deviation) is above the bench's " \
           "max_modulation_voltage (500 mV)" in err


def test_check_a_built_in_bench_by_name(capsys):
    assert main(["instruments", "check", "single_nv"]) == EXIT_OK
    assert "Bench: single_nv" in capsys.readouterr().out


def test_check_a_bad_bench_file_exits_2_naming_the_key(tmp_path, capsys):
    path = write(tmp_path, """
        sample: {linewidht: "1 MHz"}
        """)
    assert main(["instruments", "check", str(path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(path) in err and "sample.linewidht" in err and "linewidth" in err


def test_check_a_missing_bench_file_exits_2(capsys):
    assert main(["instruments", "check", "nowhere.yaml"]) == EXIT_BAD_INPUT
    assert "not found" in capsys.readouterr().err


def test_check_an_unreachable_instrument_exits_1_with_a_clear_message(tmp_path, capsys):
    path = write(tmp_path, """
        sample: {faults: {mw_unreachable: true}}
        """)
    assert main(["instruments", "check", str(path)]) == EXIT_FAULT
    err = capsys.readouterr().err
    assert "mw (simulated): connect failed: no response" in err


def test_an_instrument_failing_during_the_check_exits_1_and_leaves_the_bench_safe(tmp_path,
                                                                                  capsys):
    path = write(tmp_path, """
        sample: {faults: {counter_timeout_at_sweep: 1}}
        """)
    assert main(["instruments", "check", str(path)]) == EXIT_FAULT
    captured = capsys.readouterr()
    assert "counter_timeout_at_sweep" in captured.err
    assert "Left safe: mw: RF off, list stopped; laser: off; counter: stopped" in captured.out


def test_limits_that_leave_nothing_allowed_exit_2(tmp_path, capsys):
    path = write(tmp_path, """
        limits: {frequency: ["5 GHz", "6 GHz"]}
        """)
    assert main(["instruments", "check", str(path)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "mw frequency" in captured.err and "leave no value" in captured.err
    assert "Left safe:" in captured.out


def test_instruments_without_an_action_prints_help(capsys):
    assert main(["instruments"]) == EXIT_BAD_INPUT
    assert "check" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "code"), [(["check"], 0), (["check", "missing.yaml"], 2)])
def test_the_command_line_exit_codes(args, code):
    result = subprocess.run([sys.executable, "-m", "nvsense.cli", "instruments", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stderr


def test_check_a_bench_of_real_drivers_on_pyvisa_sim(tmp_path, capsys):
    """The registry builds the real SG384 and DP800 drivers; pyvisa-sim plays the hardware."""
    from nvsense.instruments.drivers import SIM_ADDRESSES, sim_path

    models = {}
    for driver in ("sg384", "dp800"):  # a private copy: pyvisa-sim keeps state per file
        models[driver] = tmp_path / f"{driver}.yaml"
        shutil.copy(sim_path(driver), models[driver])
    path = write(tmp_path, f"""
        instruments:
          mw: {{driver: sg384, address: "{SIM_ADDRESSES['sg384']}",
                visa_library: "{models['sg384']}@sim"}}
          laser: {{driver: simulated}}
          counter: {{driver: simulated}}
          coil: {{driver: dp800, address: "{SIM_ADDRESSES['dp800']}",
                  visa_library: "{models['dp800']}@sim"}}
        limits: {{frequency: ["2.5 GHz", "3.3 GHz"], max_mw_power: "0 dBm"}}
        """)
    assert main(["instruments", "check", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "SG384" in out and "DP832" in out
    assert "Left safe: mw: RF off, list stopped; laser: off; counter: stopped; coil: output off" \
        in out
