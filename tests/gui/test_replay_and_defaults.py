"""The window replays a stored run as if live; its forms start from the bench file's defaults;
a run without a resonance is never shown as a field; limit errors mark their field by the
error's quantity; the bench label says what the bench file declares about its sample."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from gui_helpers import QUICK_ODMR, ReplayHold, set_form
from PySide6.QtCore import Qt

from nvsense.instruments import LimitError, load_bench
from nvsense.instruments.config import builtin_bench_path
from nvsense.measure import run_odmr
from nvsense.measure.documents import SweepDone
from nvsense.measure.replay import replay_documents, replay_source
from nvsense.storage import Catalog


@pytest.fixture(scope="module")
def stored_odmr_run(tmp_path_factory):
    """A finished 5-sweep, 8-line run of the simulated bench (its file)."""
    data = tmp_path_factory.mktemp("stored")
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["sample"]["seed"] = 5
    with load_bench(config, pace="fast") as bench:
        result = run_odmr(bench, {"sweeps": 5, "n_lines": 8,
                                  "ranges": ["2.80GHz:2.94GHz:281"]}, data_dir=data)
    assert result.status == "completed"
    return result


def test_a_stored_run_replays_in_the_window_as_if_live(make_window, qtbot, stored_odmr_run):
    window = make_window()
    panel = window.odmr_panel
    assert window.replay(stored_odmr_run.file)
    assert window.running == "replay" and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)

    sweeps = [d for _t, d in replay_documents(replay_source(stored_odmr_run.file))
              if isinstance(d, SweepDone)]
    last = sweeps[-1]
    # the plots got the stored sweeps, their running average and the fitted curve
    _x, y = panel.plots.average_curve.getData()
    np.testing.assert_allclose(y, last.average)
    np.testing.assert_allclose(panel.plots.sweep_curve.getData()[1], last.counts)
    _fx, fy = panel.plots.fit_curve.getData()
    finite = np.isfinite(last.average_fit.curve_values)
    np.testing.assert_allclose(fy[finite], last.average_fit.curve_values[finite])
    assert panel.plots.waterfall_rows == 5  # every stored sweep
    # the numbers are the stored fit's
    assert panel.results.lines.rowCount() == 8
    assert panel.results.field.text().startswith("B = (")
    assert "|B| = 2.2" in panel.results.field.text()
    assert "sweep 5 / 5" in panel.results.progress.text()
    assert "Run completed: 5 sweeps" in panel.banner.text()
    assert window.data_panel.run_file.text() == str(stored_odmr_run.file)
    # nothing went to the bench, nothing was written
    assert not window.session.bench.connected
    assert window.bench_panel.state_text("mw") != "RF on · run"
    assert Catalog(window.data_panel.data_dir).records() == []
    assert panel.start_button.isEnabled()


def test_a_replay_stops_on_stop(make_window, qtbot, stored_odmr_run, monkeypatch):
    hold = ReplayHold(monkeypatch, SweepDone)  # the replay waits after the first sweep
    window = make_window()
    assert window.replay(stored_odmr_run.file)
    assert hold.wait()
    qtbot.mouseClick(window.odmr_panel.stop_button, Qt.MouseButton.LeftButton)
    hold.release()
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)
    assert window.bridge.stats.sweeps_received == 1  # nothing after the Stop
    assert window.last_result is None  # stopped before the run's end
    assert "replay stopped" in window.statusBar().currentMessage()


def test_a_file_that_is_not_a_run_is_refused(make_window, tmp_path):
    window = make_window()
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"not a run")
    assert not window.replay(bad)
    assert not window.busy
    assert "Replay:" in window.odmr_panel.banner.text()


def test_the_forms_start_from_the_bench_defaults(make_window, store):
    window = make_window("single_nv")
    odmr = window.odmr_panel.form.values()
    # single_nv.yaml: defaults.odmr
    assert odmr["mw_power"] == "-20 dBm" and odmr["dwell"] == "20 ms"
    assert (odmr["start"], odmr["stop"], odmr["points"]) == ("2.8 GHz", "2.94 GHz", "1401")
    assert odmr["sweeps"] == "5" and odmr["duration"] == ""
    assert odmr["model"] == "14n" and odmr["n_lines"] == "auto"
    settings = window.odmr_panel.read_settings()
    assert settings.mw_power == -20.0 and settings.dwell == pytest.approx(0.02)
    # tracking the same sample: its power and hyperfine model
    track = window.tracking_panel.form.values()
    assert track["mw_power"] == "-20 dBm" and track["model"] == "14n"
    # the built-in simulated bench has no defaults: the forms' own come back
    assert window.load_bench("")
    odmr = window.odmr_panel.form.values()
    assert odmr["mw_power"] == "-10 dBm" and odmr["dwell"] == "1 ms" and odmr["model"] == \
        "lorentzian"
    assert window.tracking_panel.form.values()["mw_power"] == "-10 dBm"


def test_a_remembered_session_keeps_its_values_on_the_same_bench(make_window, store):
    first = make_window("single_nv")
    set_form(first.odmr_panel.form, {"mw_power": "-25 dBm"})
    first.save_settings()
    first.close()
    again = make_window("single_nv")  # the same bench: the user's values stay
    assert again.odmr_panel.form.value("mw_power") == "-25 dBm"


def test_a_run_without_a_resonance_is_never_shown_as_a_field(make_window, qtbot):
    window = make_window()
    panel = window.odmr_panel
    set_form(panel.form, {**QUICK_ODMR, "sweeps": "2", "n_lines": "2", "laser_power": "0 W"})
    assert window.start_odmr()
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)
    assert window.last_result.resonance_found is False
    assert panel.results.field.text() == "B: no resonance measured (the fitted lines are noise)"
    assert panel.results.d.text() == "D: –" and panel.results.lines.rowCount() == 0
    assert "no resonance measured" in panel.results.status.text()
    assert "fit converged" not in panel.results.status.text()
    assert "measured no resonance" in panel.banner.text()
    assert "counts do not depend on frequency" in panel.banner.text()


@pytest.mark.parametrize(("values", "marked"), [
    ({"start": "2.0 GHz"}, ["start"]),  # below the bench's lowest frequency
    ({"stop": "3.5 GHz"}, ["stop"]),
    ({"extra_ranges": "3.4GHz:3.5GHz:11"}, ["extra_ranges"]),
    ({"mw_power": "5 dBm"}, ["mw_power"]),
])
def test_a_limit_error_marks_the_field_of_its_quantity(make_window, values, marked):
    window = make_window()
    panel = window.odmr_panel
    set_form(panel.form, {**QUICK_ODMR, **values})
    assert panel.read_settings() is None
    assert panel.form.marked() == marked


def test_the_tracking_form_runs_the_runs_own_check(make_window):
    # a rate whose dither bins are shorter than the counter takes: a plan limit, not a
    # frequency or power one, found by the measurement's check before anything is sent
    window = make_window()
    panel = window.tracking_panel
    set_form(panel.form, {"rate": "100 kHz"})
    assert panel.read_settings() is None
    assert panel.form.marked() == ["rate"]
    assert "gives bins of" in panel.banner.text()
    set_form(panel.form, {"rate": "100 Hz"})
    assert panel.read_settings() is not None


def test_the_forms_read_the_limit_errors_fields_not_its_text():
    from nvsense.gui.odmr_form import limit_error_fields
    from nvsense.gui.tracking_form import limit_error_fields as track_fields

    error = LimitError("whatever the words", quantity="laser_power", value=2.0, limit=1.0)
    assert limit_error_fields(error) == ["laser_power"] == track_fields(error)
    assert limit_error_fields(LimitError("mw power 5 dBm", quantity=None)) == []


def test_the_bench_label_says_what_the_bench_file_declares(make_window):
    window = make_window("single_nv")
    text = window.bench_panel.label.text()
    assert "simulated sample: single NV, NV axis 0, 14N, fast pace" in text


def test_a_stored_tracking_run_replays_in_its_tab(make_window, qtbot, tmp_path):
    from nvsense.measure.tracking import run_track
    from nvsense.storage import open_run

    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["sample"]["seed"] = 5
    with load_bench(config, pace="fast") as bench:
        result = run_track(bench, {"duration": "0.5 s", "rate": "100 Hz"}, data_dir=tmp_path)
    window = make_window()
    assert window.replay(result.file)
    panel = window.tracking_panel
    assert window.tabs.currentWidget() is panel
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)
    with open_run(result.file) as ds:
        stored_time = ds["time"].values.astype(float)
        stored_field = ds["field_parallel"].values
    t, b = panel.trace_curves[0].getData()
    np.testing.assert_array_equal(t, stored_time)  # every sample, in a 10 s window
    np.testing.assert_array_equal(b, stored_field)
    assert panel.lock_state == "idle"  # the run's end was shown
    assert "B∥ = " in panel.field_label.text()


def test_a_run_of_the_recent_runs_replays_from_the_data_panel(make_window, qtbot,
                                                               stored_odmr_run):
    window = make_window(data_dir=stored_odmr_run.file.parent.parent)
    data = window.data_panel
    assert data.run_ids() == [stored_odmr_run.run_id]
    qtbot.mouseClick(data.replay_button, Qt.MouseButton.LeftButton)  # nothing selected
    assert "Select a run" in data.banner.text() and not window.busy
    data.table.selectRow(0)
    qtbot.mouseClick(data.replay_button, Qt.MouseButton.LeftButton)
    assert window.running == "replay" and not data.replay_button.isEnabled()
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)
    assert window.odmr_panel.plots.waterfall_rows == 5
    assert "Run completed: 5 sweeps" in window.odmr_panel.banner.text()
    assert data.replay_button.isEnabled()


def test_the_recent_runs_say_no_resonance_instead_of_a_field():
    from nvsense.gui.data_panel import run_summary

    row = {"field_x": 1e-3, "field_y": 0.0, "field_z": 0.0, "D": 2.87e9,
           "results": {"resonance_found": False}}
    assert run_summary(row) == "no resonance"
    assert run_summary({**row, "results": {"resonance_found": True}}).startswith("|B| = 1.0")


def test_invalid_bench_defaults_are_reported_as_the_bench_files(make_window):
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["defaults"] = {"odmr": {"mw_power": "loud", "dwell": "2 ms"}}
    window = make_window(config)
    banner = window.odmr_panel.banner.text()
    assert "defaults.odmr" in banner and "mw_power" in banner
    assert window.odmr_panel.form.value("dwell") == "1 ms"  # the form was left as it was
