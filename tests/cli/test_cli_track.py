"""``nvsense track``: table and JSON output, exit codes, lost locks and faults."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from nvsense.cli import main
from nvsense.instruments.config import builtin_bench_path
from nvsense.physics import GAMMA_NV_HZ_PER_T
from nvsense.storage import Catalog, open_run, run_metadata

FAST = ["--duration", "3s", "--calibration-time", "0.5s"]


def write_bench(tmp_path: Path, **sample: object) -> Path:
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["sample"].update({"seed": 2, **sample})
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(*args: str) -> int:
    return main(["track", *args])


def test_json_has_the_documented_keys(tmp_path, capsys):
    bench = write_bench(tmp_path)
    code = run_cli("--bench", str(bench), *FAST, "--both-lines", "--data-dir", str(tmp_path),
                   "--json")
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("run_id", "file", "status", "field_mean_t", "noise_floor_t_per_rthz",
                "shot_noise_limit_t_per_rthz"):
        assert key in summary
    assert summary["status"] == "completed" and summary["samples"] == 300
    # B·n of axis 0 for the field (0.4, 1.1, 1.9) mT: 3.4 mT / √3
    assert summary["field_mean_t"] == pytest.approx(3.4e-3 / math.sqrt(3), abs=0.3e-6)
    # √2·η for 1 MHz, 2 %, 1e9/s: the CW limit as a one-sided ASD
    eta = 4 / (3 * math.sqrt(3)) * 1e6 / (GAMMA_NV_HZ_PER_T * 0.02 * math.sqrt(1e9))
    assert summary["shot_noise_limit_bench_t_per_rthz"] == pytest.approx(math.sqrt(2) * eta,
                                                                         rel=1e-3)
    assert 0.7 < summary["noise_floor_t_per_rthz"] / (math.sqrt(2) * eta) < 1.5
    assert Path(summary["file"]).exists()
    assert Catalog(tmp_path).get(summary["run_id"])["status"] == "completed"


def test_table_shows_field_noise_floor_and_file(tmp_path, capsys):
    code = run_cli(*FAST, "--data-dir", str(tmp_path))
    out = capsys.readouterr().out
    assert code == 0
    for text in ("locked lines", "axis 0 lower", "mean B∥", "noise floor (10–33.3 Hz)",
                 "shot-noise limit (fit", "shot-noise limit (bench file)", "file: "):
        assert text in out
    (path,) = tmp_path.rglob("*.nc")
    assert f"file: {path}" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--axis", "7"], "axis 7 does not exist"),
    (["--rate=-3Hz"], "rate"),
    (["--duration", "soon"], "duration"),
    (["--ki", "3"], "unstable"),
    (["--bench", "no/such/bench.yaml"], "bench.yaml"),
    (["--power", "5dBm"], "power"),
])
def test_bad_input_exits_2_with_one_message(tmp_path, capsys, args, message):
    code = run_cli(*args, "--data-dir", str(tmp_path))
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.startswith("nvsense track: ")
    assert not list(tmp_path.rglob("*.nc"))  # nothing was measured


def test_instrument_fault_exits_1_and_keeps_the_run(tmp_path, capsys):
    bench = write_bench(tmp_path, faults={"counter_timeout_at_time": 2.5})
    code = run_cli("--bench", str(bench), *FAST, "--data-dir", str(tmp_path), "--json")
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 1 and summary["status"] == "aborted" and "timed out" in summary["reason"]
    assert "run aborted" in captured.err
    ds = open_run(summary["file"])
    assert run_metadata(ds).status == "aborted" and ds.sizes["time"] == summary["samples"]


def test_failed_initial_sweep_exits_1_and_keeps_the_sweep(tmp_path, capsys):
    # 3.0-3.1 GHz holds no resonance of the bench's sample; a fixed seed makes the premise
    # certain (with fresh noise, the line detector's rare false alarm once read it as a line)
    bench = write_bench(tmp_path)
    code = run_cli("--bench", str(bench), "--sweep", "3.0GHz:3.1GHz:201", "--data-dir",
                   str(tmp_path), "--json")
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 1 and "no resonance line" in summary["reason"]
    assert summary["samples"] == 0 and summary["noise_floor_t_per_rthz"] is None
    survey = json.loads(open_run(summary["file"]).attrs["calibration"])["survey"]
    assert len(survey["signal"]) == 201


def bench_with_track_defaults(tmp_path: Path, track: dict) -> Path:
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["sample"]["seed"] = 2
    config["defaults"] = {"track": track}
    path = tmp_path / "defaults.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def track_args(*argv: str):
    from nvsense.cli import build_parser

    return build_parser(["track"]).parse_args(["track", *argv])


def test_track_takes_the_bench_file_defaults_and_the_command_line_wins(tmp_path):
    from nvsense.cli.track import settings_from_args
    from nvsense.instruments import load_bench
    from nvsense.measure import TrackSettings
    from nvsense.measure.bench_defaults import track_settings_for

    bench = load_bench(bench_with_track_defaults(tmp_path, {
        "mw_power": "-20 dBm", "sweep_dwell": "2 ms", "rate": "50 Hz", "both_lines": True}))
    s = settings_from_args(track_args(), bench)
    assert (s.mw_power, s.sweep_dwell, s.rate, s.both_lines) == (-20.0, 2e-3, 50.0, True)
    # what neither gives: TrackSettings' defaults, the command line's defaults of old
    assert (s.duration, s.ki, s.line, s.sweeps) == (10.0, 0.8, "lower", 1)
    # a value typed on the command line wins, also one equal to the default
    s = settings_from_args(track_args("--power", "-10dBm", "--rate", "100Hz", "--line",
                                      "upper"), bench)
    assert (s.mw_power, s.rate, s.sweep_dwell) == (-10.0, 100.0, 2e-3)
    assert s.line == "upper" and not s.both_lines  # one line asked for: one line locked
    assert settings_from_args(track_args("--both-lines"), bench).both_lines
    # the same merge for Python callers
    assert track_settings_for(bench, {"mw_power": "-15 dBm"}).rate == 50.0
    # a bench without defaults: the settings of old
    assert settings_from_args(track_args(), load_bench()) == TrackSettings()


def test_a_track_run_measures_with_the_bench_file_defaults(tmp_path, capsys):
    bench = bench_with_track_defaults(tmp_path, {"duration": "2 s", "rate": "50 Hz",
                                                 "calibration_time": "0.5 s"})
    code = run_cli("--bench", str(bench), "--data-dir", str(tmp_path), "--json")
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["status"] == "completed"
    assert summary["rate_hz"] == 50.0 and summary["samples"] == 100  # 2 s at 50 Hz


def test_bad_track_defaults_name_the_bench_file_and_nothing_runs(tmp_path, capsys):
    bench = bench_with_track_defaults(tmp_path, {"rat": "50 Hz"})
    code = run_cli("--bench", str(bench), "--data-dir", str(tmp_path / "data"))
    err = capsys.readouterr().err
    assert code == 2 and "defaults.yaml, defaults.track: rat" in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.nc"))
