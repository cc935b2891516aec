"""``nvsense fit FILE``: the options and JSON keys of issue 13, exit codes, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nvsense.cli import main
from nvsense.cli.fit import JSON_KEYS

REAL = Path(__file__).parents[1] / "data" / "real"


def run(capsys, *argv):
    code = main(["fit", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_keys_and_a_real_spectrum(capsys):
    code, out, _ = run(capsys, REAL / "qudi_hira_pulsed_odmr_20220315-2050-39.dat", "--json")
    assert code == 0
    result = json.loads(out)
    assert set(JSON_KEYS) <= set(result)
    assert JSON_KEYS == ("lines_hz", "line_errors_hz", "widths_hz", "contrasts", "chi2_reduced",
                         "n_lines", "status", "success", "field_t", "field_errors_t", "d_hz")
    assert result["n_lines"] == 2 and result["success"] is True and result["status"] == "OK"
    assert result["lines_hz"][0] == pytest.approx(2.86717e9, abs=0.3e6)
    assert result["field_kind"] == "parallel" and result["d_hz"] == pytest.approx(2.8692e9,
                                                                                 abs=1e6)
    assert "strain" in result["field_message"]


def test_eight_lines_give_a_field_vector_and_the_wrong_baseline_exits_1(capsys, tmp_path):
    path = REAL / "arts_eight_dip_spectrum_01.txt"
    png = tmp_path / "fit.png"
    code, out, _ = run(capsys, path, "--baseline", "quadratic", "--lines", "auto", "--json",
                       "--plot", png)
    result = json.loads(out)
    assert code == 0 and result["n_lines"] == 8
    assert result["field_kind"] == "vector" and len(result["field_t"]) == 3
    assert 3.5e-3 < np.linalg.norm(result["field_t"]) < 4.5e-3
    assert png.stat().st_size > 10_000 and result["plot"] == str(png)
    code, out, _ = run(capsys, path, "--json", "--lines", "8")  # constant baseline: wrong
    assert code == 1 and json.loads(out)["success"] is False


def test_text_output_and_signal_option(capsys, tmp_path):
    f = np.linspace(2.86e9, 2.88e9, 201)
    u = (f - 2.8705e9) / 3e6
    y = -(32 / (3 * np.sqrt(3))) * u / (1 + 4 * u * u) ** 2 * 0.4
    y += np.random.default_rng(0).normal(size=f.size) * 0.01
    path = tmp_path / "lockin.csv"
    np.savetxt(path, np.column_stack([f / 1e6, y]), delimiter=",",
               header="frequency_MHz,lockin_X", comments="")
    code, out, _ = run(capsys, path)
    assert code == 0
    assert "derivative" in out and "2870.49" in out and "success" in out
    code, out, _ = run(capsys, path, "--signal", "derivative", "--lines", "1", "--json")
    result = json.loads(out)
    assert result["signal"] == "derivative" and result["contrasts"][0] == pytest.approx(
        0.4, rel=0.1)


def test_no_line_is_reported_not_raised(capsys, tmp_path):
    f = np.linspace(3.0e9, 3.1e9, 101)
    path = tmp_path / "noise.csv"
    np.savetxt(path, np.column_stack([f, np.random.default_rng(1).poisson(1e4, f.size)]),
               delimiter=",", header="frequency (Hz),counts", comments="")
    code, out, _ = run(capsys, path, "--json", "--sigma", "poisson")
    assert code == 1 and json.loads(out)["status"] == "NO_LINE"


@pytest.mark.parametrize(("argv", "match"), [
    (["missing.csv"], "no such file"),
    (["{real}", "--lines", "zero"], "--lines"),
    (["{real}", "--lines", "0"], "--lines"),
    (["{real}", "--frequency-unit", "furlong"], "frequency_unit"),
    (["{real}", "--signal-column", "nope"], "no such column"),
    (["{real}", "--sigma", "-3"], "--sigma"),
    (["{real}", "--n-averages", "0"], "--n-averages"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, match):
    real = REAL / "qudi_hira_pulsed_odmr_20220315-2050-39.dat"
    argv = [a.replace("{real}", str(real)) if a == "{real}" else
            (str(tmp_path / a) if a.endswith(".csv") else a) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("nvsense fit: ") and match in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
