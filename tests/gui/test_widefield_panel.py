"""The widefield tab draws the live map of a real widefield run on the simulated camera, the
spectrum of the map pixel under the cursor with its fitted curve, and the success mask, from
the documents the run publishes (delivered from the measurement thread)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from nvsense.gui.widefield_panel import WidefieldPanel
from nvsense.instruments import load_bench
from nvsense.measure.documents import WidefieldMap
from nvsense.measure.widefield import run_widefield
from nvsense.storage import Catalog

BENCH = {
    "name": "widefield_gui",
    "sample": {"field": ["1.1547 mT"] * 3, "axes": [0], "linewidth": "6 MHz", "contrast": 0.03},
    "instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                    "counter": {"driver": "simulated"},
                    "camera": {"driver": "simulated", "sensor": [32, 32], "field_map": "wire"}},
}


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """The documents of a 3-sweep widefield run (8×8 live map)."""
    tmp = tmp_path_factory.mktemp("wf")
    docs: list = []
    with load_bench(BENCH) as bench:
        run_widefield(bench, {"range": "2.79GHz:2.95GHz:61", "sweeps": 3, "live_binning": 4},
                      out=tmp / "run.nc", catalog=Catalog(tmp / "data"),
                      subscribers=[docs.append])
    return docs


def test_the_panel_shows_each_map_and_the_spectrum_under_the_cursor(qtbot, documents):
    panel = WidefieldPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 700)
    panel.show()
    maps = [d for d in documents if isinstance(d, WidefieldMap)]
    assert len(maps) == 3
    # delivered from another thread, as a run's subscriber is called
    deliver = panel.subscriber()
    worker = threading.Thread(target=lambda: [deliver(d) for d in documents])
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: panel.last_map is maps[-1], timeout=5000)
    last = maps[-1]
    shown = panel.field_image.image
    assert shown.shape == (8, 8)
    np.testing.assert_allclose(shown[last.success], 1e3 * last.field_parallel[last.success])
    np.testing.assert_array_equal(panel.mask_image.image, last.success.astype(float))
    assert "after sweep 3" in panel.status.text()
    # the spectrum under the cursor: data and fitted curve of that map pixel
    panel.set_cursor(2, 5)
    x, y = panel.data_curve.getData()
    np.testing.assert_allclose(y, last.spectra[2, 5])
    np.testing.assert_allclose(x, last.frequencies)
    _, fy = panel.fit_curve.getData()
    np.testing.assert_allclose(fy, last.curves[2, 5], rtol=1e-6)
    # the curve is the fit: it follows the data within the noise
    assert np.sqrt(np.mean((fy - y) ** 2)) < 3 * np.sqrt(np.mean(y))
    assert "map pixel (2, 5)" in panel.spectrum.getPlotItem().titleLabel.text
    # moving the mouse over the map picks the pixel under it
    view = panel.map_view
    scene_point = panel.field_image.mapToScene(QPointF(6.5, 1.5))
    panel._mouse_moved(scene_point)
    assert panel.cursor == (1, 6)
    np.testing.assert_allclose(panel.data_curve.getData()[1], last.spectra[1, 6])
    assert view.isVisible()


def test_a_failed_pixel_shows_its_data_without_a_curve(qtbot, documents):
    panel = WidefieldPanel()
    qtbot.addWidget(panel)
    last = [d for d in documents if isinstance(d, WidefieldMap)][-1]
    success = last.success.copy()
    success[0, 0] = False
    curves = last.curves.copy()
    curves[0, 0] = np.nan
    from dataclasses import replace

    panel.handle(replace(last, success=success, curves=curves))
    panel.set_cursor(0, 0)
    drawn = panel.fit_curve.getData()[0]
    assert drawn is None or len(drawn) == 0
    assert "fit failed" in panel.spectrum.getPlotItem().titleLabel.text
    assert panel.mask_image.image[0, 0] == 0.0


def test_the_window_has_the_widefield_tab(make_window):
    window = make_window()
    names = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "Widefield" in names
    window.set_dark_plots(True)
