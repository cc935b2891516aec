"""The widefield tab starts a widefield run on the window's bench: the live map appears while
sweeps arrive, the cube is written where the form says and read by nvsense.analysis, a stop
keeps the completed sweeps, a bad setting is refused naming its field before anything is
sent, and the window is busy (no other run, no bench change) until the run ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gui_helpers import WIDEFIELD_BENCH

from nvsense.analysis import fit_cube, open_cube
from nvsense.gui.widefield_panel import WidefieldPanel
from nvsense.instruments import load_bench
from nvsense.storage.cube_writer import open_widefield_run

#: A small, quick run: 16×16 frames (2×2 binning, 1 ms: no pixel clipped), 61 points.
QUICK = {"range": "2.79GHz:2.95GHz:61", "sweeps": "3", "exposure": "1ms", "binning": "2",
         "reference": "none"}


@pytest.fixture
def panel(qtbot: Any, tmp_path: Path):
    bench = load_bench(WIDEFIELD_BENCH, pace="fast")
    widget = WidefieldPanel(bench=lambda: bench, data_dir=lambda: tmp_path / "data")
    qtbot.addWidget(widget)
    widget.resize(1200, 750)
    widget.show()
    yield widget
    widget.stop()
    widget.wait(60)
    bench.safe()
    bench.close()


def test_a_run_shows_the_live_map_and_writes_a_cube_analysis_reads(panel, qtbot, tmp_path):
    maps_seen: list[int] = []
    panel.form.set_values({**QUICK, "out": "wire.nc"})
    real_show = panel.show_map
    panel.show_map = lambda doc: (maps_seen.append(doc.index), real_show(doc))[1]
    assert panel.start()
    assert panel.running and not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: panel.last_result is not None, timeout=120_000)
    result = panel.last_result
    assert not isinstance(result, BaseException), result
    assert result.status == "completed" and result.sweeps == 3
    assert result.frames == 3 * 61 and result.dropped_frames == 0
    # the live map came while the sweeps arrived, and the last one is shown
    assert maps_seen and maps_seen[-1] == 2
    assert panel.last_map is not None and panel.last_map.index == 2
    assert panel.field_image.image.shape == panel.last_map.success.shape
    assert "after sweep 3" in panel.status.text()
    # the result: frames, dropped frames, drift, the file in the data folder
    text = panel.result_label.text()
    assert "completed" in text and f"{result.frames} frames, 0 dropped" in text
    assert "drift" in text and str(result.file) in text
    assert result.file == tmp_path / "data" / "wire.nc" and result.file.exists()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    # the cube, as nvsense.analysis reads cubes today
    cube = open_cube(result.file)
    assert cube["pl"].dims == ("y", "x", "frequency") and cube["pl"].shape == (16, 16, 61)
    fitted = fit_cube(cube, binning=4, workers=0)
    assert fitted["success"].values.mean() > 0.9
    shot = panel.screenshot(tmp_path / "widefield_tab.png")
    assert shot.stat().st_size > 10_000


def test_a_blank_output_writes_a_new_cube_in_the_data_folder(panel, qtbot, tmp_path):
    panel.form.set_values({**QUICK, "sweeps": "1", "out": ""})
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last_result is not None, timeout=120_000)
    result = panel.last_result
    assert result.status == "completed"
    assert result.file.exists() and (tmp_path / "data") in result.file.parents


def test_stop_keeps_the_completed_sweeps(panel, qtbot):
    panel.form.set_values({**QUICK, "sweeps": "500", "out": "stopped.nc"})
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last_map is not None, timeout=120_000)
    panel.stop()
    qtbot.waitUntil(lambda: panel.last_result is not None, timeout=120_000)
    result = panel.last_result
    assert result.status == "aborted" and result.reason.startswith("stopped by user")
    assert 1 <= result.sweeps < 500
    ds = open_widefield_run(result.file)
    assert ds.sizes["sweep"] == result.sweeps and np.isfinite(ds["pl"].values).all()
    assert "aborted" in panel.result_label.text()


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"range": "2.79GHz:2.95GHz:5"}, "range", "at least 8"),
    ({"sweeps": "0"}, "sweeps", "Sweeps"),
    ({"exposure": "20s"}, "exposure", "exposure"),
    ({"binning": "3"}, "binning", "binning 3"),
    ({"range": "2.0GHz:2.2GHz:61"}, "range", "below 2.5 GHz"),
    ({"out": "cube.zarr"}, "out", "Output cube"),
])
def test_a_bad_setting_is_refused_naming_its_field(panel, tmp_path, values, field, words):
    panel.form.set_values({**QUICK, **values})
    assert not panel.start()
    assert not panel.running
    assert words in panel.banner.text() and panel.banner.isVisibleTo(panel)
    assert panel.form.marked() == [field]
    assert not list(tmp_path.rglob("*.nc"))
    # corrected, it starts
    panel.form.set_values({**QUICK, "sweeps": "1", "out": ""})
    assert panel.start()
    assert panel.form.marked() == [] and not panel.banner.isVisibleTo(panel)


def test_an_existing_cube_is_never_overwritten(panel, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "old.nc").write_bytes(b"measured before")
    panel.form.set_values({**QUICK, "out": "old.nc"})
    assert not panel.start()
    assert "exists" in panel.banner.text() and panel.form.marked() == ["out"]
    assert (tmp_path / "data" / "old.nc").read_bytes() == b"measured before"


def test_without_a_bench_the_panel_says_so(qtbot):
    panel = WidefieldPanel()
    qtbot.addWidget(panel)
    assert not panel.start()
    assert "No bench" in panel.banner.text()


def test_the_window_is_busy_during_a_widefield_run_and_closing_stops_it(make_window, qtbot):
    window = make_window(WIDEFIELD_BENCH)
    panel = window.widefield_panel
    assert panel._bench() is window.session.bench
    panel.form.set_values({**QUICK, "sweeps": "500", "out": "busy.nc"})
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last_map is not None, timeout=120_000)
    assert window.busy
    assert not window.start_odmr()                   # no other run
    assert not window.pulsed_panel.start()
    assert not window.load_bench("simulated")        # no bench change
    assert "stop it" in window.bench_panel.banner.text()
    assert not panel.start() and "Busy" in panel.banner.text()
    window.close()                                   # closing stops the run
    assert not panel.running
    qtbot.waitUntil(lambda: panel.last_result is not None, timeout=60_000)
    result = panel.last_result
    assert result.status == "aborted" and "window closed" in result.reason
    assert 1 <= result.sweeps < 500
    assert open_widefield_run(result.file).sizes["sweep"] == result.sweeps


def test_the_tab_refuses_to_start_while_another_run_goes(make_window, qtbot, tmp_path):
    from gui_helpers import QUICK_ODMR, set_form

    window = make_window(WIDEFIELD_BENCH)
    set_form(window.odmr_panel.form, QUICK_ODMR)
    assert window.start_odmr(), window.odmr_panel.banner.text()
    panel = window.widefield_panel
    panel.form.set_values({**QUICK, "out": "never.nc"})
    assert not panel.start()
    assert "Busy" in panel.banner.text() and not panel.running
    window.stop_run()
    assert window.wait_idle(60)
    assert not (tmp_path / "data" / "never.nc").exists()
