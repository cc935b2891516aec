"""A stored widefield run replays in the window's Widefield tab as it was shown live: the field
map, the success mask and the spectrum under the cursor of every sweep's live map, through the
documents path (nothing sent to the bench, nothing written); Stop in the tab ends the replay."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import WIDEFIELD_BENCH, ReplayHold
from PySide6.QtCore import Qt

from nvsense.instruments import load_bench
from nvsense.measure.documents import WidefieldMap, WidefieldSweep
from nvsense.measure.replay import replay_documents, replay_source
from nvsense.measure.widefield import run_widefield
from nvsense.storage import Catalog


@pytest.fixture(scope="module")
def stored_widefield_run(tmp_path_factory):
    """A finished 3-sweep run of 16×16 binned frames, and the live maps it published."""
    data = tmp_path_factory.mktemp("stored_widefield")
    maps: list[WidefieldMap] = []
    with load_bench(WIDEFIELD_BENCH, pace="fast") as bench:
        result = run_widefield(
            bench, {"range": "2.79GHz:2.95GHz:61", "sweeps": 3, "exposure": "1ms",
                    "binning": 2},
            out=data / "wire.nc", data_dir=data,
            subscribers=[lambda d: maps.append(d) if isinstance(d, WidefieldMap) else None])
    assert result.status == "completed" and result.sweeps == 3
    assert [m.index for m in maps] == [0, 1, 2] and maps[-1].success.mean() > 0.5
    return result, maps


def test_the_replayed_documents_are_the_live_ones(stored_widefield_run):
    result, live = stored_widefield_run
    docs = [d for _t, d in replay_documents(replay_source(result.file))]
    sweeps = [d for d in docs if isinstance(d, WidefieldSweep)]
    maps = [d for d in docs if isinstance(d, WidefieldMap)]
    assert [s.index for s in sweeps] == [0, 1, 2] and sweeps[0].sweeps_planned == 3
    assert [m.n_sweeps for m in maps] == [1, 2, 3]
    for replayed, shown in zip(maps, live, strict=True):
        assert replayed.binning == shown.binning
        np.testing.assert_array_equal(replayed.success, shown.success)
        np.testing.assert_allclose(replayed.field_parallel, shown.field_parallel, rtol=1e-9,
                                   equal_nan=True)
        np.testing.assert_allclose(replayed.spectra, shown.spectra, rtol=1e-6)
        np.testing.assert_allclose(replayed.curves, shown.curves, rtol=1e-5, equal_nan=True)
    assert docs[0].kind == "widefield" and docs[-1].status == "completed"
    assert docs[-1].results["sweeps"] == 3


def test_a_widefield_run_replays_in_its_tab(make_window, qtbot, stored_widefield_run):
    result, live = stored_widefield_run
    window = make_window()
    panel = window.widefield_panel
    assert window.replay(result.file)
    assert window.tabs.currentWidget() is panel
    assert window.running == "replay" and panel.stop_button.isEnabled()
    assert not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)

    last = live[-1]
    assert panel.last_map is not None and panel.last_map.index == 2
    # the field map and the mask of the last live map
    np.testing.assert_array_equal(panel.mask_image.image, last.success.astype(float))
    assert panel.field_image.image.shape == last.success.shape
    field = np.where(last.success, last.field_parallel, np.nan) * 1e3
    np.testing.assert_allclose(panel.field_image.image[last.success], field[last.success])
    assert "after sweep 3 (3 averaged)" in panel.status.text()
    # the spectrum of the pixel under the cursor, with its fitted curve
    fitted, failed = np.argwhere(last.success), np.argwhere(~last.success)
    row, col = (int(v) for v in fitted[len(fitted) // 2])
    panel.set_cursor(row, col)
    _f, counts = panel.data_curve.getData()
    np.testing.assert_allclose(counts, last.spectra[row, col], rtol=1e-6)
    np.testing.assert_allclose(panel.fit_curve.getData()[1], last.curves[row, col], rtol=1e-5)
    title = panel.spectrum.getPlotItem().titleLabel.text
    assert f"map pixel ({row}, {col}): B∥ = {last.field_parallel[row, col] * 1e3:.4f}" in title
    row, col = (int(v) for v in failed[0])  # a pixel whose fit failed: its data, no curve
    panel.set_cursor(row, col)
    np.testing.assert_allclose(panel.data_curve.getData()[1], last.spectra[row, col], rtol=1e-6)
    assert panel.fit_curve.getData()[1] is None or len(panel.fit_curve.getData()[1]) == 0
    assert "fit failed" in panel.spectrum.getPlotItem().titleLabel.text
    # the stored result, and the tab is free again
    text = panel.result_label.text()
    assert "completed" in text and f"3 sweeps, {result.frames} frames" in text
    assert str(result.file) in text
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert window.data_panel.run_file.text() == str(result.file)
    # nothing went to the bench, nothing was written
    assert not window.session.bench.connected
    assert Catalog(window.data_panel.data_dir).records() == []


def test_stop_in_the_widefield_tab_ends_its_replay(make_window, qtbot, stored_widefield_run,
                                                   monkeypatch):
    hold = ReplayHold(monkeypatch, WidefieldMap)  # the replay waits after the first map
    result, _live = stored_widefield_run
    window = make_window()
    assert window.replay(result.file)
    assert hold.wait()
    qtbot.mouseClick(window.widefield_panel.stop_button, Qt.MouseButton.LeftButton)
    hold.release()
    qtbot.waitUntil(lambda: not window.busy, timeout=60_000)
    assert window.last_result is None  # stopped before the run's end
    assert "replay stopped" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.widefield_panel.last_map is not None, timeout=10_000)
    assert window.widefield_panel.last_map.index == 0
    assert window.widefield_panel.start_button.isEnabled()


def test_the_command_accepts_a_widefield_run_to_replay(stored_widefield_run):
    from nvsense.cli.gui import _replay_file

    result, _live = stored_widefield_run
    assert _replay_file(str(result.file), None) == result.file
