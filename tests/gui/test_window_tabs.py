"""Every measurement tab as a physicist uses it between sessions: each form is remembered
(pulsed, widefield and lock-in too), the window reopens on the tab it was closed on (stored by
name; an older stored index must not crash), the lock-in form starts from the bench file's
defaults, a lock-in run says what the lock-in does (not "counting"), and every tab starts from
the command line (``nvsense gui --start NAME``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml
from gui_helpers import set_form

from nvsense.gui.main_window import START_NAMES
from nvsense.instruments.config import builtin_bench_path
from nvsense.storage import Catalog


def test_every_form_and_the_tab_are_remembered_by_name(make_window, store):
    first = make_window()
    set_form(first.pulsed_panel.form, {"protocol": "ramsey", "detuning": "2MHz",
                                       "averages": "3"})
    set_form(first.widefield_panel.form, {"range": "2.80GHz:2.94GHz:41", "sweeps": "4",
                                          "exposure": "2ms", "out": "wire.nc"})
    set_form(first.panels["lockin_tracking"].form, {"bandwidth": "50 Hz", "axis": "2"})
    first.tabs.setCurrentWidget(first.widefield_panel)
    first.close()
    assert store.value("window/tab") == "widefield"

    second = make_window()
    pulsed = second.pulsed_panel.form
    assert (pulsed.value("protocol"), pulsed.value("detuning"), pulsed.value("averages")) == \
        ("ramsey", "2MHz", "3")
    widefield = second.widefield_panel.form
    assert widefield.value("range") == "2.80GHz:2.94GHz:41" and widefield.value("sweeps") == "4"
    assert widefield.value("exposure") == "2ms"
    assert widefield.value("out") == ""  # a run file is never overwritten: not remembered
    lockin = second.panels["lockin_tracking"].form
    assert lockin.value("bandwidth") == "50 Hz" and lockin.value("axis") == "2"
    assert second.tabs.currentWidget() is second.widefield_panel
    assert second.current_tab == "widefield"


def test_an_older_stored_tab_index_or_rubbish_does_not_crash(make_window, store):
    store.setValue("window/tab", 1)  # as earlier versions stored it: an index
    assert make_window().tabs.currentIndex() == 1
    for stored in ("17", "no such tab", "-1"):
        store.setValue("window/tab", stored)
        assert make_window().tabs.currentIndex() == 0


def test_the_lockin_form_starts_from_the_bench_defaults(make_window, tmp_path):
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["defaults"] = {"track": {"mw_power": "-16 dBm", "axis": 1, "line": "upper",
                                    "duration": "5 s", "rate": "50 Hz"}}
    bench = tmp_path / "bench.yaml"
    bench.write_text(yaml.safe_dump(config))
    window = make_window(str(bench))
    form = window.panels["lockin_tracking"].form
    assert form.value("mw_power") == "-16 dBm" and form.value("axis") == "1"
    assert form.value("line") == "upper" and form.value("duration") == "5 s"
    assert form.value("rate") == "2 kHz"  # the counting tracker's rate is not the lock-in's
    settings = window.panels["lockin_tracking"].read_settings()
    assert settings is not None and settings.mw_power == -16.0 and settings.axis == 1
    # a bench with ODMR defaults only: its sample's microwave power
    assert window.load_bench("single_nv")
    assert form.value("mw_power") == "-20 dBm" and form.value("duration") == "10 s"
    # none: the form's own values
    assert window.load_bench("")
    assert form.value("mw_power") == "-10 dBm" and form.value("axis") == "0"


def test_a_lockin_run_says_what_the_lockin_does(make_window, qtbot):
    window = make_window()
    panel = window.panels["lockin_tracking"]
    set_form(panel.form, {"duration": "", "deviation": "0.5 MHz"})
    assert window.start_tab("lockin"), panel.banner.text()
    assert window.tabs.currentWidget() is panel
    qtbot.waitUntil(lambda: panel.view.run_id is not None, timeout=60_000)
    states = {slot: window.bench_panel.state_text(slot) for slot in ("counter", "mw", "laser")}
    message = window.statusBar().currentMessage()
    window.stop_run()
    qtbot.waitUntil(lambda: window.running is None, timeout=60_000)
    assert "counting" not in states["counter"]  # the photon counter is not used
    assert states["mw"] == "RF on, FM · run" and states["laser"] == "laser on · run"
    assert "lock-in demodulates the photodiodes" in message and "counting" not in message


def test_the_pulsed_and_widefield_tabs_start_by_name(make_window, qtbot):
    window = make_window()
    set_form(window.pulsed_panel.form, {"protocol": "podmr",
                                        "frequencies": "2.80GHz:2.94GHz:11",
                                        "pi_pulse": "60ns", "averages": "1",
                                        "repetitions": "1000"})
    assert window.start_tab("pulsed"), window.pulsed_panel.banner.text()
    assert window.tabs.currentWidget() is window.pulsed_panel and window.busy
    qtbot.waitUntil(lambda: window.pulsed_panel.last_result is not None, timeout=60_000)
    assert window.pulsed_panel.last_result.status == "completed"

    set_form(window.widefield_panel.form, {"range": "2.79GHz:2.95GHz:21", "sweeps": "1",
                                           "exposure": "1ms", "binning": "4", "out": ""})
    assert window.start_tab("widefield"), window.widefield_panel.banner.text()
    assert window.tabs.currentWidget() is window.widefield_panel
    qtbot.waitUntil(lambda: window.widefield_panel.last_result is not None, timeout=60_000)
    assert window.widefield_panel.last_result.status == "completed"
    kinds = {row["kind"] for row in Catalog(window.data_panel.data_dir).records()}
    assert kinds == {"pulsed", "widefield"}
    assert {"pulsed", "widefield"} <= set(window.data_panel.table.item(i, 1).text()
                                          for i in range(window.data_panel.table.rowCount()))
    assert not window.start_tab("no_such_tab")


def test_the_command_takes_every_tab_without_importing_qt():
    from nvsense.cli.gui import START_CHOICES

    assert set(START_CHOICES) == set(START_NAMES)
    code = ("import argparse, sys; from nvsense.cli import gui; "
            "p = argparse.ArgumentParser(); gui.register(p.add_subparsers()); "
            f"print([p.parse_args(['gui', '--start', n]).start for n in {START_CHOICES!r}], "
            "'PySide6' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == f"{list(START_CHOICES)!r} False"
    parser = argparse.ArgumentParser()
    from nvsense.cli import gui

    gui.register(parser.add_subparsers())
    assert gui.run(parser.parse_args(["gui", "--start", "pulsed", "--replay", "x.nc"])) == 2


def test_gui_start_widefield_runs_the_tab_from_the_command_line(tmp_path: Path):
    ini = tmp_path / "gui.ini"
    ini.write_text("[widefield]\nrange=2.79GHz:2.95GHz:21\nsweeps=2\nexposure=1ms\n"
                   "binning=4\nreference=none\n")
    data = tmp_path / "data"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", "nvsense", "gui", "--pace", "fast", "--start", "widefield",
         "--quit-after", "1", "--settings", str(ini), "--data-dir", str(data)],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    runs = Catalog(data).records()
    assert [row["kind"] for row in runs] == ["widefield"]
    assert Path(runs[0]["file"]).exists()
