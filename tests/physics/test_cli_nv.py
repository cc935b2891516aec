"""The ``nvsense nv`` calculator: printed numbers, JSON, and exit code 2 for bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from nv_reference import lines

from nvsense.cli import main

REFERENCE_LINES_MHZ = [2773.726, 2808.838, 2842.801, 2873.828, 2877.656, 2907.591, 2938.279,
                       2967.918]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["nv", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_lines_table_shows_the_published_lines(capsys):
    code, out, err = run(capsys, "lines", "--field", "1 mT, 2 mT, 3 mT")
    assert code == 0 and err == ""
    for value in REFERENCE_LINES_MHZ:
        assert f"{value:.3f}" in out
    assert "|B| = 3.7417 mT" in out
    # NV axes are numbered from 0, as in bench files (axes: [0]) and track --axis
    assert "0 [111]" in out and "3 [-1-11]" in out and "4 [" not in out


def test_lines_json(capsys):
    code, out, _ = run(capsys, "lines", "--field", "1, 2, 3 mT", "--json")
    assert code == 0
    doc = json.loads(out)
    np.testing.assert_allclose(np.array(doc["lines_Hz"]) / 1e6, REFERENCE_LINES_MHZ, atol=1e-3)
    assert doc["field_T"] == pytest.approx([1e-3, 2e-3, 3e-3])
    axis1 = doc["axes"][0]
    assert axis1["label"] == "[111]"
    assert axis1["B_parallel_T"] == pytest.approx(6e-3 / np.sqrt(3))
    np.testing.assert_allclose(axis1["lines_Hz"], lines([1e-3, 2e-3, 3e-3])[0], atol=1e-3)


def test_lines_with_temperature_strain_axes_and_nucleus(capsys):
    code, out, _ = run(capsys, "lines", "--field", "0 G, 0 G, 0 G", "--temperature", "310 K",
                       "--E", "5 MHz", "--axes", "1,111", "--nucleus", "14n", "--json")
    assert code == 0
    doc = json.loads(out)
    d = 2.870e9 - 10 * 74.2e3
    assert doc["D_Hz"] == pytest.approx(d)
    assert [a["axis"] for a in doc["axes"]] == [1, 0]
    assert [a["label"] for a in doc["axes"]] == ["[1-1-1]", "[111]"]
    assert doc["nucleus"] == "14N"
    np.testing.assert_allclose(doc["axes"][0]["hyperfine_lines_Hz"][0],
                               [d - 5e6 - 2.16e6, d - 5e6, d - 5e6 + 2.16e6], atol=1e-3)
    assert len(doc["lines_Hz"]) == 12


def test_lines_in_a_lab_frame(capsys):
    """--cut: the field is in the lab frame of the plate; (111) puts axis 1 along lab z."""
    code, out, _ = run(capsys, "lines", "--field", "0, 0, 2 mT", "--cut", "111", "--json")
    assert code == 0
    doc = json.loads(out)
    np.testing.assert_allclose(doc["field_crystal_T"], np.full(3, 2e-3 / np.sqrt(3)), atol=1e-15)
    np.testing.assert_allclose(doc["axes"][0]["lines_Hz"], lines(doc["field_crystal_T"])[0],
                               atol=1e-3)
    assert doc["axes"][0]["angle_deg"] == pytest.approx(0.0, abs=1e-6)


def test_field_from_unassigned_lines(capsys):
    args = [f"{v}MHz" for v in REFERENCE_LINES_MHZ]
    code, out, err = run(capsys, "field", *args, "--guess", "1 mT, 2 mT, 3 mT", "--sigma",
                         "1 kHz")
    assert code == 0, err
    for name, value in (("Bx", 1.0), ("By", 2.0), ("Bz", 3.0)):
        found = re.search(rf"{name} = ([-+\d.]+) ± ([\d.]+) mT", out)
        assert found, out
        assert float(found[1]) == pytest.approx(value, abs=3 * float(found[2]))
    assert "48 fields give these lines" in out and "nearest to --guess" in out
    found = re.search(r"D = ([\d.]+) ± ([\d.]+) MHz  \(T ≈ ([\d.]+)", out)
    assert found, out
    assert float(found[1]) == pytest.approx(2870.0, abs=max(3 * float(found[2]), 1e-4))
    assert float(found[3]) == pytest.approx(300.0, abs=0.1)


def test_field_json_round_trip(capsys):
    truth = np.array([-4e-3, 1.5e-3, 2.5e-3])
    lines_hz = lines(truth, D=2.8695e9)
    code, out, _ = run(capsys, "field", *(f"{v:.1f}" for v in lines_hz.ravel()), "--assigned",
                       "--sigma", "0.1 kHz", "--guess", "-4, 1, 2 mT", "--json")
    assert code == 0
    doc = json.loads(out)
    np.testing.assert_allclose(doc["field_T"], truth, atol=1e-8)
    assert doc["D_Hz"] == pytest.approx(2.8695e9, abs=100)
    assert doc["temperature_K"] == pytest.approx(300 + 0.5e6 / 74.2e3, abs=0.01)
    assert doc["assigned"] is True and len(doc["equivalent_fields_T"]) == 2
    assert all(len(m) == 1 for m in doc["matched_to"])
    assert doc["field_errors_T"][0] > 0


def test_field_with_fixed_d_and_cut(capsys):
    crystal = np.array([1e-3, 2e-3, 3e-3])
    code, out, _ = run(capsys, "field", *(f"{v / 1e6:.4f} MHz" for v in lines(crystal).ravel()),
                       "--D", "2870 MHz", "--cut", "100", "--guess", "3.5355, 0.7071, 1 mT",
                       "--json")
    assert code == 0
    doc = json.loads(out)
    # lab frame of the (100) plate: x ∥ [011], y ∥ [0-11], z ∥ [100]
    lab = np.array([(2 + 3) / np.sqrt(2), (-2 + 3) / np.sqrt(2), 1.0]) * 1e-3
    np.testing.assert_allclose(doc["field_T"], lab, atol=1e-7)
    assert doc["D_fitted"] is False and doc["temperature_K"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lines", "--field", "1 mT, 2 mT"], "three components"),
        (["lines", "--field", "1 mT, 2 mT, 3 Hz"], "--field (z)"),
        (["lines", "--field", "1, 2, 3 mT", "--D", "fast"], "--D"),
        (["lines", "--field", "1, 2, 3 mT", "--axes", "5"], "--axes"),
        (["lines", "--field", "1, 2, 3 mT", "--cut", "123"], "--cut"),
        (["lines", "--field", "1, 2, 3 mT", "--D", "2.87 GHz", "--temperature", "300 K"],
         "not both"),
        (["lines", "--field", "1, 2, 3 mT", "--temperature", "900 K"], "5-700 K"),
        (["field", "2773.726", "2808.838"], "far below"),
        (["field", "2.8 GHz", "2.9 GHz", "--axes", "1"], "axis_field_components"),
        (["field", "2.7GHz", "2.8GHz", "2.9GHz", "3.5GHz", "--D", "2.87GHz"], "no field"),
        (["field", "2.7GHz", "2.8GHz", "2.9GHz", "--assigned"], "--assigned"),
        (["field", "2.7GHz", "2.8GHz", "--sigma", "-1 kHz"], "sigma"),
        (["zfs", "1000 K"], "outside"),
        (["temperature", "2.7 GHz"], "outside"),
        (["sensitivity", "--linewidth", "1 MHz", "--contrast", "0", "--rate", "1e12/s"],
         "contrast"),
    ],
)
def test_bad_input_exits_2_with_one_message(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("nvsense nv: ") and message in err
    assert err.count("\n") == 1


def test_temperature_zfs_and_sensitivity(capsys):
    code, out, _ = run(capsys, "temperature", "2869.258 MHz", "--json")
    assert code == 0 and json.loads(out)["temperature_K"] == pytest.approx(310.0)
    code, out, _ = run(capsys, "zfs", "450 K", "--json")
    doc = json.loads(out)
    assert doc["model"] == "toyli2012" and doc["D_Hz"] == pytest.approx(2853.91625e6)
    code, out, _ = run(capsys, "sensitivity", "--linewidth", "1 MHz", "--contrast", "1 %",
                       "--rate", "1e12 /s")
    assert code == 0 and "2.746 nT/√Hz" in out


def test_axes_are_numbered_from_0_as_in_bench_files_and_track(capsys):
    """One numbering of NV axes everywhere: ``--axes 0`` is [111], the axis that
    ``axes: [0]`` in a bench file and ``nvsense track --axis 0`` mean."""
    code, out, _ = run(capsys, "lines", "--field", "1, 2, 3 mT", "--axes", "0", "--json")
    doc = json.loads(out)
    assert code == 0 and [(a["axis"], a["label"]) for a in doc["axes"]] == [(0, "[111]")]
    code, out, err = run(capsys, "lines", "--field", "1, 2, 3 mT", "--axes", "4")
    assert code == 2 and "numbered from 0" in err and "0-3" in err
    code, out, _ = run(capsys, "field", *(f"{v}MHz" for v in REFERENCE_LINES_MHZ),
                       "--guess", "1 mT, 2 mT, 3 mT", "--json")
    matched = {m for names in json.loads(out)["matched_to"] for m in names}
    assert {"0f₋", "0f₊", "3f₋", "3f₊"} <= matched and not any(m.startswith("4") for m in matched)
