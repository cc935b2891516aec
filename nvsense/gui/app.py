"""Start the window: the Qt application, ``--start``, ``--screenshot`` / ``--quit-after``, and
Ctrl-C in the terminal."""

from __future__ import annotations

import gc
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from .garbage import collect_in_gui_thread
from .main_window import CLOSE_TIMEOUT_S, START_NAMES, THREAD_TABS, MainWindow

__all__ = ["GUI_SWITCH_INTERVAL", "GuiOptions", "configure_threads", "run_gui"]

log = logging.getLogger(__name__)

#: Size of the window for ``--screenshot``, pixels.
SCREENSHOT_SIZE = (1600, 950)
#: Python's thread switch interval in the GUI process, s (the default is 5 ms).
GUI_SWITCH_INTERVAL = 0.001


def configure_threads() -> None:
    """Let the GUI thread and the measurement thread take turns quickly.

    Both share the interpreter lock, and every Qt call releases and re-takes it.  With Python's
    default 5 ms switch interval a busy measurement thread (fits, file writes) holds the GUI
    thread up to 5 ms at each of those calls.  Measured with the window open and the bench
    flat out (``benchmarks/gui_throughput.py``): 82 instead of 49 sweeps/s, 16 instead of 10
    display updates/s, median event-to-screen latency 12 instead of 23 ms.
    """
    sys.setswitchinterval(GUI_SWITCH_INTERVAL)


@dataclass
class GuiOptions:
    """What ``nvsense gui`` was asked to do (see :mod:`nvsense.cli.gui`)."""

    bench: str | None = None
    start: str | None = None  # a name of nvsense.gui.main_window.START_NAMES
    screenshot: Path | None = None
    quit_after: float | None = None
    data_dir: str | None = None
    pace: Literal["fast", "realtime"] = "realtime"
    settings_file: Path | None = None
    dark: bool | None = None
    replay: Path | None = None


def run_gui(options: GuiOptions) -> int:
    """Show the window and run the Qt event loop; returns the exit code.

    0 when the window was closed normally (or after ``--quit-after``); 1 when ``--start`` was
    given and the run could not start or was aborted by an instrument fault, or the screenshot
    could not be written.
    """
    configure_threads()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("nvsense")
    app.setOrganizationName("nvsense")
    collector = collect_in_gui_thread()  # no Qt object destroyed by a measurement thread
    store = (QSettings(str(options.settings_file), QSettings.Format.IniFormat)
             if options.settings_file else None)
    window = MainWindow(options.bench, pace=options.pace, data_dir=options.data_dir,
                        settings=store)
    if options.dark is not None:
        window.dark_action.setChecked(options.dark)
    if options.screenshot is not None:
        # a fixed size, whatever the last session's window was (and the screen, offscreen)
        window.resize(*SCREENSHOT_SIZE)
    window.show()
    failures: list[str] = []

    def start() -> None:
        assert options.start is not None
        if not window.start_tab(options.start):
            panel = window.tab_panels.get(START_NAMES.get(options.start, options.start))
            text = panel.banner.text() if panel is not None else "this window has no such tab"
            failures.append(f"could not start {options.start}: {text}")

    def ended(item: object) -> None:
        # the window's runs end with a RunEnded, the pulsed and widefield tabs' with the
        # result (or the exception that stopped the run)
        error = item if isinstance(item, BaseException) else (
            getattr(item, "error", None)
            or getattr(getattr(item, "result", None), "error", None))
        if error is not None:
            failures.append(f"{options.start} run failed: {error}")

    def finish() -> None:
        if options.screenshot is not None:
            try:
                path = window.screenshot(options.screenshot)
                print(f"screenshot: {path}")
            except OSError as exc:
                failures.append(str(exc))
        window.close()  # stops the run; the window closes once the bench is safe

    def replay() -> None:
        assert options.replay is not None
        # realtime: at the pace the run was recorded; fast: as fast as the window draws
        if not window.replay(options.replay, speed=1.0 if options.pace == "realtime" else None):
            failures.append(f"could not replay {options.replay}: "
                            f"{window.statusBar().currentMessage()}")

    if options.replay is not None:
        QTimer.singleShot(0, replay)
    elif options.start:
        window.run_ended.connect(ended)
        for name in THREAD_TABS:
            window.tab_panels[name].run_ended.connect(ended)
        QTimer.singleShot(0, start)
    if options.quit_after is not None:
        QTimer.singleShot(int(options.quit_after * 1000), finish)
    app.aboutToQuit.connect(window.shutdown)  # a last resort: stop, wait, make safe
    _close_on_sigint(window)
    app.exec()
    collector.timer.stop()
    gc.enable()
    if window.forced_close:
        failures.append(f"the run did not stop within {CLOSE_TIMEOUT_S:.0f} s of closing the "
                        "window; the bench was made safe from the window")
    for text in failures:
        print(f"nvsense gui: {text}", file=sys.stderr)
    return 1 if failures else 0


def _close_on_sigint(window: MainWindow) -> None:
    """Ctrl-C in the terminal closes the window like its close button (the run is stopped and
    the bench left safe).  Qt's event loop holds Python's signal handling back, so a timer
    gives the interpreter a chance to run the handler."""
    try:
        signal.signal(signal.SIGINT, lambda signum, frame: window.close())
    except ValueError:  # not the main thread
        return
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(200)
