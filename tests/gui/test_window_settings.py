"""Settings remembered between sessions, bench files, the data panel, the plot theme."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from gui_helpers import set_form

from nvsense.gui.data_panel import run_summary
from nvsense.gui.format import d_text, field_text, lines_rows, progress_text


def test_settings_are_remembered_between_sessions(make_window, qtbot, tmp_path):
    first = make_window("single_nv")
    set_form(first.odmr_panel.form, {"start": "2.86 GHz", "stop": "2.88 GHz", "points": "101",
                                     "mw_power": "-20 dBm", "model": "14n", "n_lines": "3"})
    first.dark_action.setChecked(True)
    first.close()
    assert not first.isVisible()

    second = make_window(data_dir=None)  # bench and data folder from the last session
    form = second.odmr_panel.form
    assert form.value("start") == "2.86 GHz" and form.value("points") == "101"
    assert form.value("mw_power") == "-20 dBm"
    assert form.value("model") == "14n" and form.value("n_lines") == "3"
    assert second.dark_action.isChecked()
    assert second.bench_panel.file_edit.text() == "single_nv"
    assert "single_nv" in second.bench_panel.label.text()
    assert second.data_panel.data_dir == tmp_path / "data"


def test_a_broken_bench_file_is_explained_and_nothing_can_start(make_window, qtbot, tmp_path):
    bad = tmp_path / "bench.yaml"
    bad.write_text("instruments:\n  mw: {driver: no_such_driver}\n")
    window = make_window(str(bad))
    assert window.session is None
    banner = window.bench_panel.banner
    assert banner.isVisible() and "no_such_driver" in banner.text()
    assert not window.odmr_panel.start_button.isEnabled()
    assert not window.start_odmr()
    assert "No bench loaded" in window.odmr_panel.banner.text()
    # fixing the file and pressing Connect / check loads it again
    bad.write_text("name: fixed\ninstruments:\n  mw: {driver: simulated}\n"
                   "  laser: {driver: simulated}\n  counter: {driver: simulated}\n")
    window.check_bench()
    qtbot.waitUntil(lambda: not window.busy, timeout=10_000)
    assert window.session is not None and not banner.isVisible()
    assert "fixed" in window.bench_panel.label.text()
    assert window.bench_panel.state_text("mw").startswith("RF off")
    # choosing another bench works too
    window.bench_panel.file_edit.setText("simulated")
    window.bench_panel.file_edit.editingFinished.emit()
    assert window.session is not None and "simulated" in window.bench_panel.label.text()
    assert window.odmr_panel.start_button.isEnabled()


def test_connect_check_shows_identities_and_states(make_window, qtbot):
    window = make_window()
    assert window.bench_panel.state_text("mw") == "not connected"
    window.check_bench()
    assert window.busy  # the instruments are talked to off the GUI thread
    qtbot.waitUntil(lambda: not window.busy, timeout=10_000)
    table = window.bench_panel.table
    slots = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert slots == ["mw", "laser", "counter", "coil"]
    assert all(table.item(r, 2).text() for r in range(table.rowCount()))  # identities
    assert window.bench_panel.state_text("mw").startswith("RF off")
    assert window.bench_panel.state_text("laser") == "laser off"


def test_data_panel_opens_the_folder_or_says_why_not(make_window, monkeypatch, tmp_path):
    window = make_window()
    opened: list[str] = []
    from nvsense.gui import data_panel

    monkeypatch.setattr(data_panel.QDesktopServices, "openUrl",
                        lambda url: opened.append(url.toLocalFile()) or True)
    assert not window.data_panel.open_data_folder()  # no run yet: the folder does not exist
    assert "does not exist yet" in window.data_panel.banner.text()
    (tmp_path / "data").mkdir()
    assert window.data_panel.open_data_folder()
    assert opened == [str(tmp_path / "data")]


def test_dark_theme_changes_the_plot_background(make_window):
    window = make_window()
    plot = window.odmr_panel.plots.spectrum
    light = plot.backgroundBrush().color().name()
    window.dark_action.setChecked(True)
    dark = plot.backgroundBrush().color().name()
    assert light == "#ffffff" and dark != light


def fake_fit(kind: str, **values) -> SimpleNamespace:
    base = dict(kind=kind, field=np.array([0.4e-3, 1.1e-3, 1.9e-3]),
                field_errors=np.array([2e-7, 3e-7, 4e-7]), field_parallel=1.5e-3,
                field_parallel_error=2.5e-7, D=2.8700012e9, D_error=7.1e3,
                centers=np.array([2.8e9, 2.9e9]), center_errors=np.array([5e3, np.nan]),
                widths=np.array([1e6, 1.1e6]), contrasts=np.array([0.02, 0.019]),
                message="", success=True)
    base.update(values)
    return SimpleNamespace(**base)


@pytest.mark.parametrize(("kind", "expected"), [
    ("vector", "B = (0.40000 ± 0.00020, 1.10000 ± 0.00030, 1.90000 ± 0.00040) mT    "
               "|B| = 2.2316 mT"),
    ("parallel", "B∥ = 1.50000 ± 0.00025 mT"),
    ("none", "B: no field from 2 lines (2 give B∥, 8 the vector)"),
])
def test_field_text(kind, expected):
    """Value and error in one unit, as the CLI prints them (issue 12: "B∥ = 0.9992 ± 0.79
    µT" had its value in mT)."""
    assert field_text(fake_fit(kind)) == expected


def test_the_live_field_keeps_one_unit_for_value_and_error_from_sweep_to_sweep():
    from nvsense.formatting import StickyUnit

    unit = StickyUnit("T")
    first = field_text(fake_fit("parallel", field_parallel=0.9992e-3,
                                field_parallel_error=0.79e-6), unit)
    assert first == "B∥ = 999.20 ± 0.79 µT"
    # the field crosses 1 mT during the run: still µT, value and error alike
    assert field_text(fake_fit("parallel", field_parallel=1.0003e-3,
                               field_parallel_error=0.8e-6), unit) == "B∥ = 1000.30 ± 0.80 µT"


def test_a_fit_of_a_spectrum_without_resonance_shows_no_field():
    fit = fake_fit("vector", resonance_found=False, success=False,
                   message="no resonance measured: the counts do not depend on frequency")
    assert field_text(fit) == "B: no resonance measured (the fitted lines are noise)"
    assert d_text(fit) == "D: –"


def test_result_texts():
    fit = fake_fit("parallel")
    assert d_text(fit) == "D = 2870.0012 ± 0.0071 MHz"
    assert d_text(fake_fit("none")) == "D: –"
    assert field_text(None) == "B: fit failed"
    assert lines_rows(fit) == [("2800.0000", "5.00", "1.000", "2.00"),
                               ("2900.0000", "?", "1.100", "1.90")]
    assert progress_text(11, 100, 3.4) == "sweep 12 / 100 · 3.4 s"
    assert progress_text(0, None, 125) == "sweep 1 · 2 min 05 s"


def test_run_summary_of_catalogue_rows():
    assert run_summary({"field_x": 3e-4, "field_y": 4e-4, "field_z": 0.0, "D": 2.87e9}) == (
        "|B| = 0.5000 mT  D = 2870.000 MHz")
    assert run_summary({"field_parallel": 1e-3, "field_x": None}) == "B∥ = 1.0000 mT"
    assert run_summary({"results": {"noise_floor_t_per_rthz": 3.2e-9}}) == "3.20 nT/√Hz"
    assert run_summary({}) == ""


def test_screenshot_writes_a_png(make_window, tmp_path):
    window = make_window()
    path = window.screenshot(tmp_path / "shots" / "window.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(path).stat().st_size > 10_000
