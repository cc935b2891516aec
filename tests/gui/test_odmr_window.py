"""The window runs ODMR on the simulated bench: live plots and field, Stop, bad input, faults,
closing during a run."""

from __future__ import annotations

import threading

import numpy as np
from gui_helpers import QUICK_ODMR, AcquisitionGate, set_form, simulated_bench
from PySide6.QtCore import Qt

from nvsense.instruments import LimitError, load_bench
from nvsense.measure import OdmrSettings
from nvsense.storage import Catalog, open_run

TRUE_NORM_T = np.linalg.norm([0.4e-3, 1.1e-3, 1.9e-3])


def start_quick_odmr(window, **values: str) -> None:
    set_form(window.odmr_panel.form, {**QUICK_ODMR, **values})
    assert window.start_odmr(), window.odmr_panel.banner.text()


def test_start_stop_updates_plot_field_and_keeps_every_sweep(make_window, qtbot):
    window = make_window()
    panel = window.odmr_panel
    gate = AcquisitionGate(window.session.bench.counter)
    start_quick_odmr(window)
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    assert not panel.form.isEnabled()  # settings are locked while the run goes

    qtbot.waitUntil(lambda: panel.results.field.text().startswith("B = ("), timeout=60_000)
    qtbot.waitUntil(lambda: window.bridge.stats.sweeps_received >= 3, timeout=60_000)
    x, y = panel.plots.average_curve.getData()
    assert x is not None and len(x) == 281 and np.all(np.isfinite(y))
    fx, _ = panel.plots.fit_curve.getData()
    assert fx is not None and len(fx) > 281  # drawn on a fine grid
    assert panel.results.lines.rowCount() == 8
    assert panel.results.d.text().startswith("D = 28")
    # the field label shows |B| of the simulated sample (2.2 mT)
    norm_mt = float(panel.results.field.text().split("|B| = ")[1].split()[0])
    assert abs(norm_mt * 1e-3 - TRUE_NORM_T) < 0.01e-3
    assert "sweep" in panel.results.progress.text()

    # hold the measurement thread at the start of its next sweep: the sweeps published are
    # then known exactly when Stop is pressed
    gate.close()
    assert gate.wait_held()
    published_at_stop = window.bridge.stats.sweeps_received
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    gate.open()
    qtbot.waitUntil(lambda: window.running is None, timeout=60_000)

    result = window.last_result
    assert result.status == "aborted" and result.reason == "stopped by user"
    # stop honoured within one sweep: the sweep going when Stop was pressed, no other
    assert result.sweeps == published_at_stop + 1
    assert "stopped by the user" in panel.banner.text()
    # every sweep is in the run file, however many the display merged
    with open_run(result.file) as ds:
        assert ds.sizes["sweep"] == result.sweeps
        assert ds.attrs["status"] == "aborted"
    assert window.data_panel.run_file.text() == str(result.file)
    assert panel.plots.waterfall_rows == min(result.sweeps, 400)
    # bench left safe, and the panel read it back once the run ended
    sample = window.session.bench.sample
    assert not sample.mw.output and not sample.laser.on
    qtbot.waitUntil(lambda: not window.busy, timeout=10_000)
    assert window.bench_panel.state_text("mw").startswith("RF off")
    assert window.bench_panel.state_text("laser") == "laser off"
    assert panel.start_button.isEnabled()


def test_completed_run_is_listed_in_recent_runs(make_window, qtbot):
    window = make_window()
    start_quick_odmr(window, sweeps="3")
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)
    result = window.last_result
    assert result.status == "completed" and result.sweeps == 3
    assert "Run completed: 3 sweeps" in window.odmr_panel.banner.text()
    assert window.data_panel.run_ids()[0] == result.run_id
    row = Catalog(window.data_panel.data_dir).get(result.run_id)
    assert row["status"] == "completed"
    assert "|B| = 2.2" in window.data_panel.table.item(0, 4).text()


def test_out_of_range_power_shows_the_bench_limit_and_sends_nothing(make_window, qtbot):
    window = make_window()
    panel = window.odmr_panel
    set_form(panel.form, {**QUICK_ODMR, "mw_power": "5 dBm"})
    assert not window.start_odmr()
    assert not window.busy
    # the same message as `nvsense odmr` gives
    with load_bench() as bench:
        settings = OdmrSettings.parse({"mw_power": "5 dBm"})
        try:
            bench.check_settings(mw_power=settings.mw_power)
        except LimitError as exc:
            expected = str(exc)
    assert panel.banner.isVisible()
    assert expected in panel.banner.text()
    assert "max_mw_power" in panel.banner.text() and "nothing was sent" in panel.banner.text()
    assert panel.form.marked() == ["mw_power"]
    assert not window.session.bench.connected  # nothing was sent to any instrument
    assert window.data_panel.run_ids() == []


def test_bad_values_are_rejected_as_soon_as_entered(make_window, qtbot):
    window = make_window()
    panel = window.odmr_panel
    set_form(panel.form, QUICK_ODMR)
    edit = panel.form.fields["points"]
    edit.setText("many")
    edit.editingFinished.emit()
    assert panel.banner.isVisible() and "points" in panel.banner.text()
    assert panel.form.marked() == ["points"]
    stop = panel.form.fields["stop"]
    edit.setText("141")
    stop.setText("3.5 GHz")  # beyond the simulated bench's 3.3 GHz
    stop.editingFinished.emit()
    assert "3.3 GHz" in panel.banner.text() and "frequency" in panel.banner.text()
    assert "stop" in panel.form.marked()
    stop.setText("2.94 GHz")
    stop.editingFinished.emit()
    assert not panel.banner.isVisible() and panel.form.marked() == []


def test_counter_fault_shows_the_error_and_leaves_the_bench_safe(make_window, qtbot):
    window = make_window(simulated_bench(counter_timeout_at_sweep=3))
    start_quick_odmr(window, sweeps="10")
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)
    result = window.last_result
    assert result.status == "aborted" and result.sweeps == 2
    banner = window.odmr_panel.banner.text()
    assert "Run aborted after 2 sweeps" in banner and "counter_timeout_at_sweep" in banner
    bench_banner = window.bench_panel.banner
    assert bench_banner.isVisible() and "counter" in bench_banner.text()
    sample = window.session.bench.sample
    assert not sample.mw.output and not sample.laser.on
    assert window.bench_panel.state_text("mw").startswith("RF off")


def test_lost_microwave_source_is_shown_not_safe_until_reconnected(make_window, qtbot):
    window = make_window(simulated_bench(mw_disconnect_at_sweep=2))
    start_quick_odmr(window, sweeps="10")
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)
    assert window.last_result.status == "aborted"
    text = window.bench_panel.banner.text()
    assert "NOT fully safe" in text and "mw" in text
    assert window.bench_panel.state_text("mw").startswith("mw")  # its error, in red
    # Connect / check reconnects: the source answers again and is off
    qtbot.mouseClick(window.bench_panel.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.busy, timeout=10_000)
    assert window.bench_panel.state_text("mw").startswith("RF off")
    assert not window.bench_panel.banner.isVisible()
    assert not window.session.bench.sample.mw.output


def test_closing_the_window_stops_the_run_and_leaves_the_bench_safe(make_window, qtbot):
    window = make_window()
    start_quick_odmr(window)
    qtbot.waitUntil(lambda: window.bridge.stats.sweeps_received >= 1, timeout=60_000)
    bench = window.session.bench
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert not bench.connected
    assert not bench.sample.mw.output and not bench.sample.laser.on
    runs = Catalog(window.data_panel.data_dir).records()
    assert runs[-1]["status"] == "aborted"
    assert runs[-1]["abort_reason"] == "stopped by user (window closed)"


def test_a_run_that_does_not_stop_in_time_still_leaves_the_bench_safe(make_window, qtbot,
                                                                       monkeypatch):
    from nvsense.gui import main_window, odmr_panel

    release = threading.Event()

    def stuck_run(bench, settings, **kwargs):  # an instrument that stopped answering
        bench.laser.on = True
        bench.mw.output = True
        release.wait(30)

    monkeypatch.setattr(odmr_panel, "run_odmr", stuck_run)  # what the ODMR tab runs
    monkeypatch.setattr(main_window, "CLOSE_TIMEOUT_S", 0.5)
    window = make_window()
    start_quick_odmr(window)
    sample = window.session.bench.sample
    qtbot.waitUntil(lambda: sample.mw.output, timeout=10_000)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert window.forced_close and window.worker.running  # still stuck ...
    assert not sample.mw.output and not sample.laser.on  # ... yet RF and laser are off
    assert not window.session.bench.connected
    release.set()
