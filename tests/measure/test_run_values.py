"""Every value a completed run file declares is written: each float variable is finite
wherever its quantity is defined (issue 11: ``line_width_error``, ``line_contrast_error`` and
their running-average twins were declared and always NaN)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from nvsense.instruments import load_bench
from nvsense.instruments.config import builtin_bench_path
from nvsense.measure import run_odmr, run_track
from nvsense.storage import open_run


def _bench(**sample):
    """The built-in simulated bench, seeded, with ``sample`` changes."""
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["sample"].update({"seed": 3, **sample})
    return load_bench(config)


def _assert_finite(ds, undefined=()):
    """Assert every float variable but ``undefined`` finite everywhere; return their names."""
    checked = []
    for name in ds.variables:
        var = ds[name]
        if var.dtype.kind != "f" or name in undefined:
            continue
        assert np.isfinite(var.values).all(), (name, var.values)
        checked.append(name)
    return checked


@pytest.mark.parametrize(("settings", "sample"), [
    ({"sweeps": 3}, {}),                                   # 8 lines found: the field vector
    ({"sweeps": 3, "n_lines": 8}, {}),                     # lines given: written from sweep 1
    ({"sweeps": 3, "ranges": ["2.80GHz:2.94GHz:281"]}, {"axes": [0], "field": [
        "0 mT", "0 mT", "1 mT"]}),                         # one axis: B∥ and D
    ({"sweeps": 2, "model": "hamiltonian"}, {}),           # the field comes out of the fit
], ids=["found", "given", "parallel", "hamiltonian"])
def test_every_float_of_a_completed_odmr_run_is_finite(tmp_path, settings, sample):
    with _bench(**sample) as bench:
        result = run_odmr(bench, settings, data_dir=tmp_path)
    assert result.status == "completed"
    ds = open_run(result.file)
    assert ds["fit_success"].all() and ds["avg_fit_success"].all()
    checked = _assert_finite(ds)
    for name in ("line_width_error", "line_contrast_error", "avg_line_width_error",
                 "avg_line_contrast_error"):
        assert name in checked
        assert (ds[name].values > 0).all()  # a standard error, not a placeholder
    # the errors are the fit's, not a copy of another column
    assert not np.allclose(ds["line_width_error"], ds["line_center_error"])


def test_width_and_contrast_errors_match_the_scatter_of_the_sweeps(tmp_path):
    """The written single-sweep errors are the real ones: they agree with the scatter of
    the sweeps' widths and contrasts (40 sweeps, median over 8 lines: a seeded check whose
    bounds are many times the ratio's statistical spread of about ±5 %)."""
    with _bench() as bench:
        result = run_odmr(bench, {"sweeps": 40, "n_lines": 8}, data_dir=tmp_path)
    ds = open_run(result.file)
    for value, error in (("line_width", "line_width_error"),
                         ("line_contrast", "line_contrast_error")):
        scatter = ds[value].std("sweep", ddof=1).values
        typical = ds[error].median("sweep").values
        ratio = np.median(scatter / typical)
        assert 0.6 < ratio < 1.6, (value, ratio)


@pytest.mark.parametrize("both_lines", [True, False])
def test_every_float_of_a_completed_tracking_run_is_finite(tmp_path, both_lines):
    with _bench() as bench:
        result = run_track(bench, {"duration": 1.0, "calibration_time": 0.5,
                                   "both_lines": both_lines}, data_dir=tmp_path)
    assert result.status == "completed"
    ds = open_run(result.file)
    # D needs both lines of an axis; with one line it is not defined (and NaN)
    undefined = () if both_lines else ("D",)
    checked = _assert_finite(ds, undefined)
    assert "field_parallel" in checked and "frequency_locked" in checked
    if not both_lines:
        assert np.isnan(ds["D"].values).all()
