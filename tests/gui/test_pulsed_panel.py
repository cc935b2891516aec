"""The pulsed tab: the form draws the sequence, a run shows its live signal and fit, a stop
keeps the averages, a bad form is refused before anything is sent; the window has the tab."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import nvsense
from nvsense.gui.pulsed_panel import PulsedPanel
from nvsense.instruments import load_bench

BENCH = {
    "name": "gui_pulsed",
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


@pytest.fixture
def panel(qtbot: Any, tmp_path):
    bench = load_bench(BENCH, pace="fast")
    widget = PulsedPanel(bench=lambda: bench, data_dir=lambda: tmp_path / "data")
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    yield widget
    widget.stop()
    widget.wait(30)
    bench.safe()
    bench.close()


def _averages_shown(panel: PulsedPanel) -> int:
    match = re.match(r"average (\d+)/", panel.result_label.text())
    return int(match.group(1)) if match else 0


def _fill(panel: PulsedPanel, **values: str) -> None:
    panel.form.set_values(values)
    panel.preview()


def test_a_rabi_run_shows_the_sequence_the_live_signal_and_the_fit(panel, qtbot, tmp_path):
    _fill(panel, protocol="rabi", tau="0:300ns:31", mw_frequency="2841.968MHz",
          mw_power="-20dBm", averages="3", repetitions="100000")
    assert panel.figure.axes and "rabi" in panel.figure.axes[0].get_title()
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last_result is not None, timeout=60_000)
    result = panel.last_result
    assert result.status == "completed" and result.success
    assert result.summary()["rabi_frequency_hz"] == pytest.approx(8e6, rel=0.03)
    x, y = panel.data_curve.getData()
    np.testing.assert_allclose(y, result.signal)
    fx, fy = panel.fit_curve.getData()
    assert len(fx) > len(x) and np.all(np.isfinite(fy))
    text = panel.result_label.text()
    assert "Rabi frequency = " in text and "completed" in text and str(result.file) in text
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    shot = panel.screenshot(tmp_path / "pulsed_tab.png")
    assert shot.stat().st_size > 10_000


def test_stop_keeps_the_completed_averages(panel, qtbot):
    _fill(panel, protocol="echo", tau="2us:150us:16", mw_frequency="2841.968MHz",
          pi_pulse="62ns", averages="500", repetitions="1000")
    assert panel.start()
    # the display may skip an average under load: wait for any count of two or more
    qtbot.waitUntil(lambda: _averages_shown(panel) >= 2, timeout=60_000)
    panel.stop()
    qtbot.waitUntil(lambda: panel.last_result is not None, timeout=60_000)
    result = panel.last_result
    assert result.status == "aborted" and result.reason.startswith("stopped by user")
    assert 2 <= result.averages < 500
    assert nvsense.open_run(result.file).sizes["average"] == result.averages


def test_a_bad_form_is_refused_naming_the_field(panel, tmp_path):
    _fill(panel, protocol="rabi", tau="300ns:0:31", mw_frequency="2841.968MHz")
    assert not panel.start()
    assert "τ sweep" in panel.banner.text()
    assert panel.form.marked() == ["tau"]
    _fill(panel, protocol="rabi", tau="0:30ns:31")  # a 1 ns pulse: below the pulser's 2 ns
    assert not panel.start()
    assert "mw_pulse" in panel.banner.text()
    _fill(panel, protocol="echo", tau="2us:150us:16", pi_pulse="")
    assert not panel.start() and "π pulse" in panel.banner.text()
    assert not (tmp_path / "data").exists() or not list((tmp_path / "data").rglob("*.nc"))


def test_the_window_has_the_pulsed_tab(make_window):
    window = make_window()
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "Pulsed" in titles
    assert window.pulsed_panel._bench() is window.session.bench


def test_the_window_is_busy_while_a_pulsed_run_goes(make_window, qtbot):
    window = make_window("single_nv")
    panel = window.pulsed_panel
    panel.form.set_values(dict(protocol="echo", tau="2us:150us:16", mw_frequency="2841.968MHz",
                               pi_pulse="62ns", averages="1000", repetitions="1000"))
    assert panel.start()
    qtbot.waitUntil(lambda: _averages_shown(panel) >= 1, timeout=60_000)
    assert window.busy and not window.start_odmr()
    panel.stop()
    qtbot.waitUntil(lambda: panel.last_result is not None, timeout=60_000)
    assert not window.busy
