"""The tracking panel on the simulated bench: live trace, spectral density, lock, stop."""

from __future__ import annotations

import numpy as np
from gui_helpers import set_form

from nvsense.gui.trace_buffer import TraceBuffer, trailing_true
from nvsense.storage import open_run

TRUE_B_PARALLEL = (0.4e-3 + 1.1e-3 + 1.9e-3) / np.sqrt(3)  # axis 0 of the simulated bench


def test_tracking_shows_a_live_trace_its_spectrum_and_the_lock(make_window, qtbot):
    window = make_window()
    panel = window.tracking_panel
    set_form(panel.form, {"duration": "", "axis": "0", "rate": "100 Hz"})
    assert window.start_tracking(), panel.banner.text()
    assert window.tabs.currentWidget() is panel
    qtbot.waitUntil(lambda: len(panel.buffer) >= 300, timeout=60_000)
    qtbot.waitUntil(lambda: panel.live_floor is not None, timeout=60_000)

    t, b = panel.trace_curves[0].getData()
    assert t is not None and len(t) > 100 and np.all(np.diff(t) > 0)
    assert abs(np.median(b) - TRUE_B_PARALLEL) < 5e-6
    assert panel.lock_label.text().startswith("LOCKED")
    assert panel.field_label.text().startswith("B∥ = 1.96")
    f, asd = panel.asd_curves[0].getOriginalDataset()
    assert f is not None and len(f) > 10 and np.all(asd > 0)
    # the floor line sits at the calibrated shot-noise limit, in nT/√Hz
    _, floor = panel.floor_curve.getOriginalDataset()
    assert panel.shot_noise_limit and np.allclose(floor, panel.shot_noise_limit * 1e9)
    assert "nT/√Hz" in panel.noise_label.text() and "shot-noise limit" in panel.noise_label.text()
    # the live floor is within a factor of two of the shot-noise limit on this bench
    assert 0.5 < panel.live_floor / panel.shot_noise_limit < 2.0

    window.stop_run()
    qtbot.waitUntil(lambda: window.running is None, timeout=60_000)
    result = window.last_result
    assert result.status == "aborted" and result.reason == "stopped by user"
    assert "stopped by the user" in panel.banner.text()
    with open_run(result.file) as ds:
        assert ds.sizes["time"] == result.samples  # every sample on disk
    assert panel.buffer.total == result.samples  # ... and every one reached the display
    sample = window.session.bench.sample
    assert not sample.mw.output and not sample.laser.on


def test_invalid_tracking_settings_are_shown_and_nothing_starts(make_window, qtbot):
    window = make_window()
    panel = window.tracking_panel
    set_form(panel.form, {"axis": "5"})
    assert not window.start_tracking()
    assert "axis 5 does not exist" in panel.banner.text()
    assert panel.form.marked() == ["axis"]
    set_form(panel.form, {"axis": "0", "mw_power": "3 dBm"})
    assert not window.start_tracking()
    assert "max_mw_power" in panel.banner.text() and "nothing was sent" in panel.banner.text()
    assert panel.form.marked() == ["mw_power"]
    assert not window.busy and not window.session.bench.connected


def test_trace_buffer_scrolls_and_finds_the_stretch_in_lock():
    buf = TraceBuffer(capacity=100)
    for k in range(3):
        t = np.arange(k * 50, (k + 1) * 50) * 0.01
        locked = np.ones(50, bool)
        if k == 1:
            locked[10] = False
        buf.append(t, t * 0 + k, locked)
    assert len(buf) == 100 and buf.total == 150
    assert buf.time[0] == 0.5 and buf.time[-1] == 1.49
    assert buf.window(0.195) == slice(80, 100)  # the last 0.195 s: 1.30 ... 1.49 s
    assert buf.locked_tail(1000).shape == (89,)  # since the unlocked sample at t = 0.60
    assert buf.locked_tail(20).shape == (20,)
    assert trailing_true(np.array([True, False, True, True])) == 2
    vec = TraceBuffer(capacity=10)
    vec.append(np.arange(4.0), np.ones((4, 3)), np.ones(4, bool))
    assert vec.field.shape == (4, 3) and vec.locked_tail(10).shape == (4, 3)
