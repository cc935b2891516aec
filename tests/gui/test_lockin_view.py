"""The lock-in live view: B(t) of each sensor and its noise spectral density in T/√Hz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from nvsense.gui.lockin_view import LockinLiveView
from nvsense.instruments import load_bench
from nvsense.measure.documents import RunStarted
from nvsense.measure.lockin import LockinTrackSettings, run_lockin_track

GRADIOMETER = Path(__file__).resolve().parents[2] / "examples" / "benches" / "gradiometer.yaml"


def test_view_follows_a_gradiometer_run(qtbot, tmp_path):
    view = LockinLiveView(window=0.5)
    qtbot.addWidget(view)
    with load_bench(GRADIOMETER) as bench:
        result = run_lockin_track(bench, LockinTrackSettings(
            duration=0.4, gradiometer=True, deviation=0.5e6, match_time=0.1),
            data_dir=tmp_path, subscribers=[view])
    assert result.status == "completed"
    assert view.channels == ["B s0", "B s1", "gradient"]
    assert view.data.shape == (result.summary["samples"], 3)
    # the traces show B(t) (in nT about the mean), the spectra the noise in T/√Hz
    x, y = view.trace_curves[0].getData()
    assert x.size > 0 and np.all(np.isfinite(y))
    log_f, log_asd = view.asd_curves[2].getData()  # log-log axes: log10 of f and T/√Hz
    assert log_f.size > 10
    assert 1e-11 < np.median(10 ** log_asd) < 1e-9  # the gradient's ~0.2 nT/√Hz
    assert view.limit == pytest.approx(result.summary["shot_noise_limit_t_per_rthz"])
    assert "pT/√Hz" in view.numbers.text() and "completed" in view.status.text()
    image = view.grab()
    assert not image.isNull()


def test_view_ignores_other_runs(qtbot):
    view = LockinLiveView()
    qtbot.addWidget(view)
    view.handle(RunStarted(run_id="x", kind="odmr", file=None, parameters={}))
    assert view.run_id is None and view.channels == []
