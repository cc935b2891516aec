"""``nvsense pulsed``: the JSON keys, bad input (exit 2, nothing sent, no run file), the
results flowing from one command to the next, and ``pulsed show``."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import yaml

from nvsense.cli import main
from nvsense.pulses import hahn_echo

BENCH = {
    "name": "cli_pulsed",
    "sample": {"field": ["0.57735 mT"] * 3, "nucleus": "none", "axes": [0],
               "contrast": 0.15, "count_rate": "3e6 /s", "mw_reference_power": "-20 dBm",
               "mw_saturation_power": "-20 dBm", "laser_reference_power": "1 mW",
               "laser_saturation_power": "1 mW"},
    "instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                    "counter": {"driver": "simulated"}, "pulser": {"driver": "simulated"},
                    "gated_counter": {"driver": "simulated",
                                      "spin": {"rabi_frequency": "8 MHz"}}},
    "limits": {"frequency": ["2.7 GHz", "3.05 GHz"], "max_mw_power": "-5 dBm"},
}
#: The ms=0 -> -1 line of the NV axis along the 1 mT field (D at 300 K minus γB).
RESONANCE = "2841.968MHz"


def _nvsense(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def bench_file(tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(BENCH))
    return str(path)


def test_json_keys_and_the_pi_pulse_flows_to_the_next_command(tmp_path, bench_file):
    data = str(tmp_path / "data")
    code, out, err = _nvsense("pulsed", "rabi", "--bench", bench_file, "--frequency", RESONANCE,
                              "--power", "-20dBm", "--tau", "0:300ns:31", "--averages", "2",
                              "--repetitions", "100000", "--data-dir", data, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert list(summary) == ["run_id", "file", "status", "protocol", "rabi_frequency_hz",
                             "rabi_frequency_hz_error", "pi_pulse_s", "pi_pulse_s_error"]
    assert summary["status"] == "completed" and summary["protocol"] == "rabi"
    assert summary["rabi_frequency_hz"] == pytest.approx(8e6, rel=0.03)
    code, out, err = _nvsense("pulsed", "echo", "--bench", bench_file, "--frequency",
                              RESONANCE, "--power", "-20dBm", "--tau", "2us:150us:16",
                              "--averages", "2", "--repetitions", "100000", "--data-dir", data,
                              "--json", "--no-plot")
    assert code == 0, err
    echo = json.loads(out)
    assert list(echo) == ["run_id", "file", "status", "protocol", "t2_s", "t2_s_error"]
    import nvsense

    ds = nvsense.open_run(echo["file"])
    pi = json.loads(ds.attrs["pulse_program"])["parameters"]["pi_pulse"]
    assert pi == pytest.approx(round(summary["pi_pulse_s"] * 1e9) * 1e-9)


def test_the_table_and_the_plot(tmp_path, bench_file):
    code, out, err = _nvsense("pulsed", "ramsey", "--bench", bench_file, "--frequency",
                              RESONANCE, "--power", "-20dBm", "--pi-pulse", "62ns",
                              "--detuning", "2MHz", "--tau", "0:3us:61", "--averages", "2",
                              "--repetitions", "100000", "--data-dir", str(tmp_path))
    assert code == 0, err
    assert "average 2/2" in out and "T2* = " in out and "detuning = " in out
    assert list(tmp_path.rglob("*.png"))


@pytest.mark.parametrize("argv, message", [
    (["rabi", "--tau", "300ns:0:31"], "--tau"),
    (["rabi", "--tau", "0:300ns"], "START:STOP:N"),
    (["rabi", "--frequency", "3.5GHz"], "frequency"),
    (["rabi", "--frequency", RESONANCE, "--tau", "0:30ns:31"], "mw_pulse"),  # 1 ns pulse
    (["rabi", "--frequency", RESONANCE, "--power", "0dBm"], "power"),
    (["rabi"], "--frequency"),
    (["echo", "--frequency", RESONANCE], "--pi-pulse"),
    (["xy8", "--frequency", RESONANCE, "--pi-pulse", "60ns", "--n-pulses", "12"],
     "multiple of 8"),
    (["rabi", "--frequency", RESONANCE, "--averages", "0"], "--averages"),
])
def test_bad_input_exits_2_before_anything_is_sent(tmp_path, bench_file, argv, message,
                                                    monkeypatch):
    from nvsense.instruments import bench as bench_module

    connects = []
    monkeypatch.setattr(bench_module.Bench, "connect",
                        lambda self, *a, **k: connects.append(self) or self)
    code, out, err = _nvsense("pulsed", *argv, "--bench", bench_file, "--data-dir",
                              str(tmp_path))
    assert code == 2, (out, err)
    assert err.startswith(f"nvsense pulsed {argv[0]}: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not connects and not list(tmp_path.rglob("*.nc"))


def test_show_draws_a_program_file_and_a_run(tmp_path, bench_file):
    program = hahn_echo(np.linspace(1e-6, 20e-6, 5), 30e-9, 60e-9)
    src = tmp_path / "echo.json"
    src.write_text(program.to_json())
    png = tmp_path / "echo.png"
    code, out, err = _nvsense("pulsed", "show", str(src), "--out", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, err = _nvsense("pulsed", "t1", "--bench", bench_file, "--frequency", RESONANCE,
                              "--tau", "1us:1ms:5", "--averages", "1", "--repetitions",
                              "100", "--data-dir", str(tmp_path), "--json", "--no-plot")
    run_file = json.loads(out)["file"]
    code, out, err = _nvsense("pulsed", "show", run_file, "--out", str(tmp_path / "t1.png"),
                              "--point", "0", "--linear")
    assert code == 0, err
    assert (tmp_path / "t1.png").stat().st_size > 1000


@pytest.mark.parametrize("make, out, message", [
    (lambda d: d / "missing.json", "x.png", "no such file"),
    (lambda d: (d / "bad.json").write_text("{") and d / "bad.json", "x.png", "invalid"),
    (lambda d: (d / "p.json").write_text(hahn_echo([1e-6], 30e-9, 60e-9).to_json())
     and d / "p.json", "x.txt", ".png"),
    (lambda d: (d / "p.json").write_text(hahn_echo([1e-6], 30e-9, 60e-9).to_json())
     and d / "p.json", "nodir/x.png", "does not exist"),
    (lambda d: (d / "r.nc").write_bytes(b"") or d / "r.nc", "x.png", "r.nc"),
])
def test_show_bad_input_exits_2(tmp_path, make, out, message):
    source = make(tmp_path)
    code, _, err = _nvsense("pulsed", "show", str(source), "--out", str(tmp_path / out))
    assert code == 2 and message in err, err
    assert err.startswith("nvsense pulsed show: ")
