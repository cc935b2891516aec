"""What ``nvsense odmr`` prints about its result: one unit for a value and its error, no
resonance never passed off as a measurement, the single-NV bench's own settings, and a
default sweep that samples the default bench's lines."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

from nvsense.cli import EXIT_NO_RESONANCE, main
from nvsense.gui.odmr_form import ODMR_FIELDS
from nvsense.instruments import load_bench
from nvsense.instruments.config import builtin_bench_path, load_bench_config
from nvsense.measure import OdmrSettings, SettingsError
from nvsense.measure.bench_defaults import odmr_settings_for
from nvsense.measure.settings import DEFAULT_RANGE
from nvsense.physics import NV_AXES, transition_frequencies
from nvsense.physics.temperature import zfs_at
from nvsense.storage import open_run
from nvsense.units import parse_quantity

TWO_LINES = ["--range", "2.805GHz:2.84GHz:201", "--lines", "2", "--sweeps", "3"]
LIVE = re.compile(r"B∥ = (?P<v>[-\d.]+) ± (?P<e>[\d.]+) (?P<unit>\S+T)\s+D = "
                  r"(?P<d>[\d.]+) ± (?P<de>[\d.]+) MHz")


def seeded_bench(tmp_path, name="simulated", **top):
    config = yaml.safe_load(builtin_bench_path(name).read_text())
    config["sample"]["seed"] = 9
    config.update(top)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_live_line_of_a_two_line_run_prints_value_and_error_in_one_unit(tmp_path, capsys):
    bench = seeded_bench(tmp_path)
    code = main(["odmr", *TWO_LINES, "--bench", str(bench), "--data-dir", str(tmp_path),
                 "--no-plot"])
    out = capsys.readouterr().out
    assert code == 0
    lines = [LIVE.search(line) for line in out.splitlines() if line.startswith("sweep ")]
    assert len(lines) == 3 and all(lines), out
    units = {m["unit"] for m in lines}
    assert len(units) == 1  # the live line keeps one unit for the whole run
    last = lines[-1]
    value = parse_quantity(f"{last['v']} {last['unit']}", "T")
    error = parse_quantity(f"{last['e']} {last['unit']}", "T")
    ds = open_run(next(tmp_path.rglob("*.nc")))
    stored = float(ds["avg_field_parallel"].values[-1])
    stored_error = float(ds["avg_field_parallel_error"].values[-1])
    # what is printed is what was measured, in the unit printed (the issue: mT shown as µT)
    decimals = len(last["e"].split(".")[1])
    last_digit = parse_quantity(f"1 {last['unit']}", "T") * 10.0 ** -decimals
    assert value == pytest.approx(stored, abs=0.5 * last_digit)
    assert error == pytest.approx(stored_error, abs=0.5 * last_digit)
    # and the table: value and error columns in one unit
    row = next(line for line in out.splitlines() if line.startswith("│ B∥"))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[1].split()[-1] == cells[2].split()[-1] == last["unit"]


def test_no_resonance_exits_3_and_shows_no_field(tmp_path, capsys):
    bench = seeded_bench(tmp_path)
    code = main(["odmr", "--range", "2.75GHz:2.80GHz:201", "--sweeps", "2", "--bench",
                 str(bench), "--data-dir", str(tmp_path), "--no-plot"])
    captured = capsys.readouterr()
    assert code == EXIT_NO_RESONANCE == 3
    assert "completed, NO RESONANCE MEASURED" in captured.out
    assert "field and zero-field splitting" not in captured.out  # no field from noise
    assert "warning: no resonance measured: the counts do not depend on frequency" in \
        captured.err
    code = main(["runs", "--data-dir", str(tmp_path)])
    assert code == 0 and "no resonance" in capsys.readouterr().out


def test_no_resonance_json(tmp_path, capsys):
    bench = seeded_bench(tmp_path)
    code = main(["odmr", "--range", "2.75GHz:2.80GHz:201", "--sweeps", "2", "--bench",
                 str(bench), "--data-dir", str(tmp_path), "--json", "--no-plot"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 3
    assert summary["resonance_found"] is False and summary["fit_success"] is False
    assert summary["warnings"] and summary["status"] == "completed"


def test_the_single_nv_bench_measures_its_field_with_its_own_settings(tmp_path, capsys):
    """The documented command: ``nvsense odmr --bench single_nv``, nothing else."""
    bench = seeded_bench(tmp_path, "single_nv")
    code = main(["odmr", "--bench", str(bench), "--data-dir", str(tmp_path), "--json",
                 "--no-plot"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    assert summary["resonance_found"] is True and summary["warnings"] == []
    assert summary["fit_success"] is True and summary["field_kind"] == "parallel"
    # 1 mT along [111]: B∥ = 1 mT (closed form), D = 2870 MHz at 300 K
    assert summary["field_t"] == pytest.approx(1e-3, abs=5 * summary["field_errors_t"])
    assert summary["d_hz"] == pytest.approx(zfs_at(300.0), abs=5 * summary["d_error_hz"])
    assert summary["field_errors_t"] < 2e-6
    ds = open_run(summary["file"])
    assert ds.attrs["fit_model"] == "14n"


def test_the_command_line_wins_over_the_bench_file_defaults(tmp_path):
    bench = load_bench("single_nv")
    settings = odmr_settings_for(bench, {"mw_power": "-25 dBm", "duration": "30 s"})
    assert settings.mw_power == -25.0 and settings.dwell == 0.02 and settings.model == "14n"
    # a duration given drops the bench's sweep count: it must not cut the run short
    assert settings.duration == 30.0 and settings.sweeps is None
    # a model given drops nothing else, and the bench's model is not forced on it
    assert odmr_settings_for(bench, {"model": "lorentzian"}).model == "lorentzian"
    # without defaults in the bench file: the measurement's own
    assert odmr_settings_for(load_bench(), {}) == OdmrSettings()


def test_bad_bench_defaults_name_the_bench_file(tmp_path, capsys):
    path = seeded_bench(tmp_path, "single_nv", defaults={"odmr": {"dwel": "10 ms"}})
    with pytest.raises(SettingsError, match=r"single_nv.yaml, defaults.odmr: dwel"):
        odmr_settings_for(load_bench(path), {})
    code = main(["odmr", "--bench", str(path), "--data-dir", str(tmp_path)])
    assert code == 2 and "defaults.odmr" in capsys.readouterr().err


def test_the_default_sweep_covers_and_samples_the_default_bench_lines():
    config, _ = load_bench_config()  # the built-in simulated bench
    sample = config.sample
    lines = transition_frequencies(np.asarray(sample.field), zfs_at(300.0), 0.0, NV_AXES)
    settings = OdmrSettings()
    f = settings.frequencies()
    step = float(np.diff(f).max())
    width = sample.linewidth  # FWHM at the default -10 dBm (the bench's reference power)
    assert settings.mw_power == sample.mw_reference_power
    assert width / step >= 5  # at least 5 points per FWHM (issue: 2-3 with 281 points)
    # all 8 lines inside, with at least 5 FWHM to spare on either side
    assert lines.size == 8
    assert f[0] + 5 * width <= lines.min() and lines.max() <= f[-1] - 5 * width
    # the GUI starts from the same sweep
    defaults = {spec.key: spec.default for spec in ODMR_FIELDS}
    assert int(defaults["points"]) == DEFAULT_RANGE[2] == f.size
