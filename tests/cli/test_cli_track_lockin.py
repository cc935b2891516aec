"""``nvsense track --detection lockin``: JSON keys, the table, refused options, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from nvsense.cli import main

ROOT = Path(__file__).resolve().parents[2]
GRADIOMETER = str(ROOT / "examples" / "benches" / "gradiometer.yaml")
LOCKIN_KEYS = ("noise_floor_t_per_rthz", "shot_noise_limit_t_per_rthz", "rin_suppression_db",
               "modulation_frequency_hz", "bandwidth_hz")
GRADIOMETER_KEYS = ("common_mode_rejection_db", "gradient_noise_floor_t_per_rthz")


def test_json_adds_the_lockin_figures(tmp_path, capsys):
    code = main(["track", "--detection", "lockin", "--duration", "0.5s", "--deviation",
                 "0.4MHz", "--data-dir", str(tmp_path), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("run_id", "file", "status", *LOCKIN_KEYS):
        assert key in summary, key
    assert not any(key in summary for key in GRADIOMETER_KEYS)  # not a gradiometer
    assert summary["modulation_frequency_hz"] == 10e3
    assert summary["bandwidth_hz"] >= 100
    assert summary["noise_floor_t_per_rthz"] < 1.5 * summary["shot_noise_limit_t_per_rthz"]
    assert Path(summary["file"]).exists()


def test_gradiometer_json_and_table(tmp_path, capsys):
    code = main(["track", "--detection", "lockin", "--gradiometer", "--bench", GRADIOMETER,
                 "--duration", "0.4s", "--deviation", "0.5MHz", "--modulation-frequency",
                 "12kHz", "--data-dir", str(tmp_path), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in (*LOCKIN_KEYS, *GRADIOMETER_KEYS):
        assert key in summary, key
    assert summary["modulation_frequency_hz"] == 12e3
    assert summary["common_mode_rejection_db"] > 30


def test_table_output(tmp_path, capsys):
    code = main(["track", "--detection", "lockin", "--duration", "0.2s", "--deviation",
                 "0.4MHz", "--dual-resonance", "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "shot-noise limit of the scheme" in out and "dual-resonance gain" in out
    assert "file:" in out


def test_refused_options_exit_2_and_send_nothing(tmp_path, capsys):
    for argv, words in (
            (["--dual-resonance"], "only with --detection lockin"),
            (["--detection", "lockin", "--ki", "0.5"], "--bandwidth"),
            (["--detection", "lockin", "--rate", "10Hz"], "--lockin-rate"),
            (["--detection", "lockin", "--axis", "0,1,2"], "--axis"),
            (["--detection", "lockin", "--gradiometer"], "gradiometer"),
            (["--detection", "lockin", "--hyperfine-drive"], "14N"),
            (["--detection", "lockin", "--bandwidth", "10kHz"], "--bandwidth"),
            (["--detection", "lockin", "--modulation-frequency", "1kHz"],
             "--modulation-frequency")):
        code = main(["track", *argv, "--data-dir", str(tmp_path)])
        err = capsys.readouterr().err
        assert code == 2, argv
        assert words in err, (argv, err)
        assert err.count("nvsense track:") == 1
    assert not list(tmp_path.rglob("*.nc"))
