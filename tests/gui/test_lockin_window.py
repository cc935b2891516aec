"""The window's lock-in tab on the simulated photodiode bench: start, live field and noise
spectrum in T/√Hz, stop keeping the data, settings refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gui_helpers import set_form

from nvsense.gui.lockin_form import lockin_error_fields
from nvsense.gui.lockin_view import KEEP
from nvsense.storage import Catalog, open_run

KIND = "lockin_tracking"
#: A fixed deviation skips the slope/noise optimisation (a quicker calibration).
QUICK = {"duration": "", "deviation": "0.5 MHz"}
GRADIOMETER = Path(__file__).resolve().parents[2] / "examples" / "benches" / "gradiometer.yaml"


def test_lockin_tab_shows_the_live_field_and_its_noise_spectrum(make_window, qtbot):
    window = make_window()
    panel = window.panels[KIND]
    set_form(panel.form, QUICK)
    assert window.start_run(KIND), panel.banner.text()
    assert window.tabs.currentWidget() is panel

    # the window is busy: no other run, no bench change, no bench operation meanwhile
    assert window.busy and window.running == KIND
    assert not window.start_run("odmr") and not window.start_run("track")
    assert not window.load_bench("")
    assert not any(a.isEnabled() for a in window.start_actions.values())
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    assert not panel.form.isEnabled()

    view = panel.view
    qtbot.waitUntil(lambda: view.data.shape[0] >= 2000, timeout=60_000)  # 1 s at 2 kS/s
    qtbot.waitUntil(lambda: view.live_floor is not None, timeout=60_000)
    assert window.busy
    assert view.channels == ["B s0"]
    t, b = view.trace_curves[0].getData()
    assert t is not None and t.size > 100 and np.all(np.diff(t) > 0)
    assert np.all(np.isfinite(b))
    # the spectrum is in T/√Hz (log-log axes hold log10 values), around the shot-noise limit
    log_f, log_asd = view.asd_curves[0].getData()
    assert log_f is not None and log_f.size > 10
    assert view.limit and 1e-12 < view.limit < 1e-8
    _, log_limit = view.limit_curve.getData()
    assert np.allclose(10 ** np.asarray(log_limit), view.limit)
    f, asd = 10 ** np.asarray(log_f), 10 ** np.asarray(log_asd)
    in_band = np.median(asd[(f >= 10) & (f <= 100)])
    # at the shot-noise limit on this bench (laser noise subtracted): ~0.97 of it measured
    assert 0.6 < view.live_floor / view.limit < 1.6
    assert 0.6 < in_band / view.limit < 1.6
    assert "pT/√Hz" in view.numbers.text() and "shot-noise limit" in view.numbers.text()

    window.stop_run()
    qtbot.waitUntil(lambda: window.running is None, timeout=60_000)
    result = window.last_result
    assert result.status == "aborted" and result.reason == "stopped by user"
    assert "stopped by the user" in panel.banner.text()
    assert result.file is not None and Path(result.file).exists()
    with open_run(result.file) as ds:  # every sample on disk; the view kept the newest
        assert ds.sizes["time"] == result.summary["samples"] >= 2000
        assert view.data.shape[0] == min(ds.sizes["time"], KEEP)
        assert np.allclose(ds["field"].values[-KEEP:, 0], view.data[:, 0])
    sample = window.session.bench.sample
    assert not sample.mw.output and not sample.laser.on
    assert window.wait_idle()  # the bench's states read back after the run
    assert panel.start_button.isEnabled() and panel.form.isEnabled()


def test_bad_lockin_settings_are_refused_naming_the_field(make_window):
    window = make_window()
    panel = window.panels[KIND]
    set_form(panel.form, {"bandwidth": "1 kHz"})  # above a quarter of the loop's update rate
    assert not window.start_run(KIND)
    assert "bandwidth must be" in panel.banner.text()
    assert panel.form.marked() == ["bandwidth"]
    set_form(panel.form, {"bandwidth": "100 Hz", "modulation_frequency": "5 kHz"})  # < 4 × rate
    assert not window.start_run(KIND)
    assert "modulation_frequency" in panel.banner.text()
    assert panel.form.marked() == ["modulation_frequency"]
    # the bench check (check_lockin_track): one sensor here, a gradiometer needs two
    set_form(panel.form, {"modulation_frequency": "10 kHz", "gradiometer": "true"})
    assert not window.start_run(KIND)
    assert "gradiometer" in panel.banner.text() and "two" in panel.banner.text()
    assert panel.form.marked() == ["gradiometer"]
    set_form(panel.form, {"gradiometer": "false", "mw_power": "30 dBm"})
    assert not window.start_run(KIND)
    assert panel.form.marked() == ["mw_power"]
    assert not window.busy and not window.session.bench.connected  # nothing was sent
    set_form(panel.form, {"mw_power": "-10 dBm"})
    assert panel.read_settings() is not None
    assert panel.form.marked() == [] and not panel.banner.isVisible()


def test_error_messages_name_their_fields():
    assert lockin_error_fields("lock-in settings: duration: must be a number; rate must be "
                               "1 Hz to 100 kHz") == ["duration", "rate"]
    assert lockin_error_fields("dual resonance drives several tones at once") == [
        "dual_resonance"]
    assert lockin_error_fields("the hyperfine drive drives several tones") == ["hyperfine_drive"]
    assert lockin_error_fields("something else entirely") == []


def test_gradiometer_run_from_the_window(make_window, qtbot):
    window = make_window(str(GRADIOMETER))
    panel = window.panels[KIND]
    set_form(panel.form, {"duration": "0.3 s", "deviation": "0.5 MHz", "gradiometer": "true"})
    assert window.start_run(KIND), panel.banner.text()
    qtbot.waitUntil(lambda: window.running is None, timeout=60_000)
    result = window.last_result
    assert result.status == "completed", result.reason
    assert panel.view.channels == ["B s0", "B s1", "gradient"]
    assert panel.view.data.shape == (result.summary["samples"], 3)
    assert "completed" in panel.banner.text()


def test_closing_the_window_stops_the_lockin_run(make_window, qtbot):
    window = make_window()
    panel = window.panels[KIND]
    set_form(panel.form, QUICK)
    assert window.start_run(KIND)
    qtbot.waitUntil(lambda: panel.view.data.shape[0] > 0, timeout=60_000)
    bench = window.session.bench
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert window.worker is None and not window.forced_close
    assert not bench.connected
    assert not bench.sample.mw.output and not bench.sample.laser.on
    runs = Catalog(window.data_panel.data_dir).records()
    assert runs[-1]["kind"] == KIND and runs[-1]["status"] == "aborted"
    assert runs[-1]["abort_reason"] == "stopped by user (window closed)"
