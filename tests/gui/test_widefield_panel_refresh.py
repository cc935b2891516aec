"""The widefield tab, unchanged, draws the maps refreshed during a sweep: a first sweep's map
(spectra so far, no fit) and a later sweep's partial map, then the map after the sweep."""

from __future__ import annotations

import numpy as np

from nvsense.gui.widefield_panel import WidefieldPanel
from nvsense.instruments import load_bench
from nvsense.measure.documents import WidefieldMap
from nvsense.measure.widefield import run_widefield
from nvsense.storage import Catalog

from .test_widefield_panel import BENCH


def test_the_panel_draws_maps_refreshed_during_a_sweep(qtbot, tmp_path):
    docs: list = []
    with load_bench(BENCH) as bench:  # 61 points × 20 ms: refreshed maps in each sweep
        run_widefield(bench, {"range": "2.79GHz:2.95GHz:61", "sweeps": 2, "live_binning": 4,
                              "frame_period": "20 ms"},
                      out=tmp_path / "run.nc", catalog=Catalog(tmp_path / "data"),
                      subscribers=[docs.append])
    maps = [d for d in docs if isinstance(d, WidefieldMap)]
    first = next(m for m in maps if m.partial_points and m.index == 0)
    later = next(m for m in maps if m.partial_points and m.index == 1)
    panel = WidefieldPanel()
    qtbot.addWidget(panel)
    panel.handle(first)
    assert panel.last_map is first
    np.testing.assert_array_equal(panel.mask_image.image, 0.0)   # nothing fitted yet
    panel.set_cursor(3, 4)
    np.testing.assert_array_equal(panel.data_curve.getData()[1], first.spectra[3, 4])
    assert "fit failed" in panel.spectrum.getPlotItem().titleLabel.text
    panel.handle(later)
    assert panel.last_map is later and later.success.any()
    shown = panel.field_image.image
    np.testing.assert_allclose(shown[later.success], 1e3 * later.field_parallel[later.success])
    panel.handle(maps[-1])
    assert panel.last_map is maps[-1] and not maps[-1].partial_points
    assert "after sweep 2" in panel.status.text()
