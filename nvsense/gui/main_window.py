"""The experimentalist's window: bench, data, ODMR and tracking panels around one bench.

Threads: every measurement and every slow bench operation (connect, read state, make safe)
runs in a :class:`~nvsense.gui.worker.RunWorker` thread; its events reach the panels through
the :class:`~nvsense.gui.bridge.EventBridge`, at most ~30 display updates a second.  The GUI
thread never touches an instrument while a run or bench task is going, and only one goes at a
time.  Closing the window stops the run (within one sweep), waits for it to leave the bench
safe, then closes the connections.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from PySide6.QtCore import QByteArray, QCoreApplication, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QGroupBox,
    QLabel,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..instruments import BenchConfigError, InstrumentError
from ..measure import RunControl, RunFinished, RunStarted, run_odmr
from ..storage import Catalog
from .bench_panel import BenchPanel
from .bench_session import BenchSession
from .bridge import DEFAULT_MIN_INTERVAL, EventBridge, RunEnded, SweepBatch
from .data_panel import DataPanel
from .odmr_panel import OdmrPanel
from .theme import DARK, LIGHT
from .widefield_panel import WidefieldPanel
from .worker import RunWorker

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)

#: Longest wait for a run to stop when the window closes, before the bench is made safe from
#: the GUI thread anyway (an instrument that no longer answers can hold a sweep up).
CLOSE_TIMEOUT_S = 30.0
#: Reason recorded in the run file when the window is closed during a run.
WINDOW_CLOSED = "stopped by user (window closed)"

BenchSource = str | Path | Mapping[str, Any] | None


def _tracking_panel_class() -> Any:
    """The tracking panel, if the tracking magnetometer is installed (None otherwise)."""
    try:
        from .tracking_panel import TrackingPanel
    except ImportError as exc:  # pragma: no cover - depends on nvsense.measure.tracking
        log.warning("tracking panel unavailable: %s", exc)
        return None
    return TrackingPanel


class MainWindow(QMainWindow):
    """The nvsense window.

    Parameters
    ----------
    bench
        Bench file, built-in bench name or mapping; ``None`` takes the one remembered from the
        last session, else the built-in simulated bench.
    pace
        Pace of a simulated bench: ``"realtime"`` (default: a run looks like a real one) or
        ``"fast"`` (tests).
    data_dir
        Data folder; ``None``: the remembered one, else ``$NVSENSE_DATA_DIR`` or
        ``./nvsense-data``.
    settings
        Where the window remembers its settings; default: the user's ``nvsense/gui`` settings.
    min_interval
        Shortest time between display updates, s (~30 updates per second).

    Signals
    -------
    run_ended(RunEnded)
        A run (``kind`` "odmr" or "track") has ended and the window is idle again.
    """

    run_ended = Signal(object)

    def __init__(self, bench: BenchSource = None, *,
                 pace: Literal["fast", "realtime"] = "realtime",
                 data_dir: str | Path | None = None, settings: QSettings | None = None,
                 min_interval: float = DEFAULT_MIN_INTERVAL) -> None:
        super().__init__()
        self.setWindowTitle("nvsense")
        self.store = settings if settings is not None else QSettings("nvsense", "gui")
        self.pace = pace
        self.bridge = EventBridge(min_interval, self)
        self.session: BenchSession | None = None
        self.worker: RunWorker | None = None
        self.last_result: Any = None
        self.last_error: BaseException | None = None
        self._last_safe_report: tuple[str, ...] = ()
        self._bench_notice = ""
        self._bench_error = ""
        self._close_pending = False
        self._force_closing = False
        #: The window closed without the run having stopped (the bench was made safe anyway).
        self.forced_close = False

        self.bench_panel = BenchPanel()
        self.data_panel = DataPanel()
        self.odmr_panel = OdmrPanel()
        tracking_class = _tracking_panel_class()
        self.tracking_panel = tracking_class() if tracking_class else None
        self.tabs = QTabWidget()
        self.tabs.addTab(self.odmr_panel, "ODMR")
        if self.tracking_panel is not None:
            self.tabs.addTab(self.tracking_panel, "Tracking magnetometer")
        self.widefield_panel = WidefieldPanel()  # live maps of widefield runs
        self.tabs.addTab(self.widefield_panel, "Widefield")
        self._build_layout()
        self._build_menu()
        self.stats_label = QLabel("")
        self.statusBar().addPermanentWidget(self.stats_label)
        self._connect_signals()

        self._restore(bench, data_dir)

    # -- construction -----------------------------------------------------------------------

    def _build_layout(self) -> None:
        bench_box = QGroupBox("Bench")
        QVBoxLayout(bench_box).addWidget(self.bench_panel)
        data_box = QGroupBox("Data")
        QVBoxLayout(data_box).addWidget(self.data_panel)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(bench_box)
        left.addWidget(data_box)
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(self.tabs)
        main.setStretchFactor(1, 1)
        main.setSizes([470, 1130])
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(main)
        self.setCentralWidget(holder)
        self.resize(1600, 950)

    def _build_menu(self) -> None:
        run_menu = self.menuBar().addMenu("&Run")
        self.start_odmr_action = QAction("Start &ODMR", self)
        self.start_odmr_action.triggered.connect(self.start_odmr)
        run_menu.addAction(self.start_odmr_action)
        if self.tracking_panel is not None:
            self.start_track_action = QAction("Start &tracking", self)
            self.start_track_action.triggered.connect(self.start_tracking)
            run_menu.addAction(self.start_track_action)
        stop = QAction("&Stop", self)
        stop.setShortcut(QKeySequence("Ctrl+."))
        stop.triggered.connect(self.stop_run)
        run_menu.addAction(stop)
        run_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        run_menu.addAction(quit_action)
        view = self.menuBar().addMenu("&View")
        self.dark_action = QAction("&Dark plots", self, checkable=True)
        self.dark_action.toggled.connect(self.set_dark_plots)
        view.addAction(self.dark_action)

    def _connect_signals(self) -> None:
        b = self.bridge
        b.run_started.connect(self._on_run_started)
        b.sweeps.connect(self._on_sweeps)
        b.tracking.connect(self._on_tracking)
        b.run_finished.connect(self._on_run_finished)
        b.run_ended.connect(self._on_run_ended)
        self.bench_panel.load_requested.connect(self.load_bench)
        self.bench_panel.check_requested.connect(self.check_bench)
        self.bench_panel.safe_requested.connect(self.make_safe)
        self.odmr_panel.start_requested.connect(self.start_odmr)
        self.odmr_panel.stop_requested.connect(self.stop_run)
        if self.tracking_panel is not None:
            self.tracking_panel.start_requested.connect(self.start_tracking)
            self.tracking_panel.stop_requested.connect(self.stop_run)
        self.data_panel.data_dir_changed.connect(
            lambda path: self.store.setValue("data/dir", path))

    def _restore(self, bench: BenchSource, data_dir: str | Path | None) -> None:
        s = self.store
        self.odmr_panel.restore(s)
        if self.tracking_panel is not None:
            self.tracking_panel.restore(s)
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self.tabs.setCurrentIndex(int(s.value("window/tab", 0) or 0))
        self.dark_action.setChecked(str(s.value("view/dark", "false")).lower() == "true")
        self.set_dark_plots(self.dark_action.isChecked())
        self.data_panel.set_data_dir(data_dir if data_dir is not None
                                     else (s.value("data/dir") or None))
        if bench is None:
            bench = str(s.value("bench/file", "") or "")
        self.load_bench(bench)

    def save_settings(self) -> None:
        """Remember the panels' settings, bench file, data folder and window layout."""
        s = self.store
        self.odmr_panel.save(s)
        if self.tracking_panel is not None:
            self.tracking_panel.save(s)
        if isinstance(self._bench_source, str):
            s.setValue("bench/file", self._bench_source)
        s.setValue("data/dir", str(self.data_panel.data_dir))
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.tabs.currentIndex())
        s.setValue("view/dark", "true" if self.dark_action.isChecked() else "false")
        s.sync()

    # -- bench ------------------------------------------------------------------------------

    def load_bench(self, source: BenchSource) -> bool:
        """Load a bench file (blank or ``None``: the built-in simulated bench); the previous
        bench is made safe and closed.  Errors show in the bench panel."""
        if self.busy:
            self.bench_panel.show_error("A run is going: stop it before changing the bench.")
            return False
        text = source if isinstance(source, str) else ("" if source is None else "(mapping)")
        self._bench_source: BenchSource = source
        if self.session is not None:
            self._report_close(self.session.close())
            self.session = None
        try:
            self.session = BenchSession(source or None, pace=self.pace)
        except (BenchConfigError, OSError) as exc:
            self._bench_error = str(exc)
            self.bench_panel.set_failed(text.strip(), f"Bench file: {exc}")
            self.odmr_panel.set_bench(None)
            if self.tracking_panel is not None:
                self.tracking_panel.set_bench(None)
            self._update_controls()
            return False
        label = self.session.label
        if self.session.bench.sample is not None:
            label += f" · simulated sample, {self.session.bench.sample.pace} pace"
        self.bench_panel.set_loaded(text.strip() if isinstance(text, str) else "", label)
        self.bench_panel.set_states(self.session.offline_states())
        self.odmr_panel.set_bench(self.session.bench)
        if self.tracking_panel is not None:
            self.tracking_panel.set_bench(self.session.bench)
        self._update_controls()
        return True

    def _report_close(self, report: list[str]) -> None:
        if any("NOT made safe" in line for line in report):
            log.error("closing the bench: %s", "; ".join(report))

    def check_bench(self) -> None:
        """Connect / check, in a worker thread (first loading the bench file again if it
        could not be loaded: it may have been fixed)."""
        if self.session is None and not self.busy and not self.load_bench(self._bench_source):
            return
        session = self._session_or_error(self.bench_panel.show_error)
        if session is not None:
            self._start_worker("bench-check", lambda control, sub: session.check())

    def make_safe(self) -> None:
        """RF off, laser off / standby, in a worker thread."""
        session = self._session_or_error(self.bench_panel.show_error)
        if session is not None:
            self._start_worker("bench-safe",
                               lambda control, sub: (session.safe(), session.states()))

    def _session_or_error(self, show: Callable[[str], None]) -> BenchSession | None:
        if self.busy:
            show("Busy: wait for the run or bench operation to end.")
            return None
        if self.session is None:
            show(f"No bench loaded ({self._bench_error}): fix the bench file in the Bench "
                 "panel first.")
            return None
        return self.session

    # -- runs -------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A run or bench task is going."""
        return self.worker is not None

    @property
    def running(self) -> str | None:
        """The kind of the measurement going ("odmr", "track"), or None."""
        if self.worker is not None and self.worker.kind in ("odmr", "track"):
            return self.worker.kind
        return None

    def start_odmr(self) -> bool:
        """Validate the ODMR form against the bench and start the run; False (with the reason
        shown in the panel) if it cannot start."""
        session = self._session_or_error(self.odmr_panel.show_error)
        if session is None:
            return False
        settings = self.odmr_panel.read_settings(session.bench)
        if settings is None:
            return False
        catalog = Catalog(self.data_panel.data_dir)
        bench = session.bench

        def target(control: RunControl, subscriber: Callable[[Any], None]) -> Any:
            session.connect()
            return run_odmr(bench, settings, catalog=catalog, subscribers=[subscriber],
                            control=control)

        self.save_settings()
        self.tabs.setCurrentWidget(self.odmr_panel)
        self.odmr_panel.starting()
        self._start_worker("odmr", target)
        return True

    def start_tracking(self) -> bool:
        """Validate the tracking form and start the magnetometer (see :meth:`start_odmr`)."""
        panel = self.tracking_panel
        if panel is None:
            return False
        session = self._session_or_error(panel.show_error)
        if session is None:
            return False
        settings = panel.read_settings(session.bench)
        if settings is None:
            return False
        catalog = Catalog(self.data_panel.data_dir)
        bench = session.bench
        run = panel.procedure()

        def target(control: RunControl, subscriber: Callable[[Any], None]) -> Any:
            session.connect()
            return run(bench, settings, catalog=catalog, subscribers=[subscriber],
                       control=control)

        self.save_settings()
        self.tabs.setCurrentWidget(panel)
        panel.starting()
        self._start_worker("track", target)
        return True

    def stop_run(self) -> None:
        """Ask the run to stop after the current sweep (or tracking block)."""
        if self.running:
            assert self.worker is not None
            self.worker.stop()
            self.statusBar().showMessage("Stopping after the current sweep…")

    def _start_worker(self, kind: str, target: Callable[..., Any]) -> None:
        self.bridge.flush()  # nothing of an earlier run may arrive after this one started
        if kind in ("odmr", "track"):
            self.bridge.reset_stats()
            self.last_result, self.last_error = None, None
            self.statusBar().showMessage(f"{kind}: starting…")
        else:
            self.statusBar().showMessage("Bench: talking to the instruments…")
        self.worker = RunWorker(kind, target, self.bridge)
        self._update_controls()
        self.worker.start()

    def _update_controls(self) -> None:
        kind = self.worker.kind if self.worker is not None else None
        idle = kind is None and self.session is not None
        self.odmr_panel.set_running(kind == "odmr", idle)
        if self.tracking_panel is not None:
            self.tracking_panel.set_running(kind == "track", idle)
        self.bench_panel.set_busy(kind is not None, run_going=kind in ("odmr", "track"))
        self.start_odmr_action.setEnabled(idle)
        if self.tracking_panel is not None:
            self.start_track_action.setEnabled(idle)

    # -- events (GUI thread) ----------------------------------------------------------------

    def _panel(self, kind: str) -> Any:
        return self.odmr_panel if kind == "odmr" else self.tracking_panel

    def _on_run_started(self, event: RunStarted) -> None:
        panel = self._panel(event.kind)
        if panel is not None:
            panel.run_started(event)
        self.data_panel.set_run_file(event.file)
        self.data_panel.refresh()  # the new run is listed as "running"
        self.bench_panel.set_identities(event.identities)
        on = {slot: "connected" for slot in event.identities}
        on.update({"mw": "RF on", "laser": "laser on", "counter": "counting"})
        self.bench_panel.show_run_state(on)
        self.statusBar().showMessage(f"{event.kind} run {event.run_id} going")

    def _on_sweeps(self, batch: SweepBatch) -> None:
        self.odmr_panel.show_sweeps(batch)
        self.bridge.stats.record(batch.latest.wall_time, batch.first_wall_time)
        self._show_stats()

    def _on_tracking(self, block: Any) -> None:
        if self.tracking_panel is not None:
            self.tracking_panel.show_block(block)
        self.bridge.stats.record(block.wall_time)
        self._show_stats()

    def _show_stats(self) -> None:
        st = self.bridge.stats
        merged = st.sweeps_coalesced + st.blocks_merged
        latency = st.latencies[-1] * 1e3 if st.latencies else 0.0
        self.stats_label.setText(f"display: {st.updates} updates, {merged} events merged, "
                                 f"latency {latency:.0f} ms")

    def _on_run_finished(self, event: RunFinished) -> None:
        kind = self.running or "odmr"
        panel = self._panel(kind)
        if panel is not None:
            panel.run_finished(event)
        self._last_safe_report = tuple(event.safe_report)
        self.bench_panel.show_safe_report(event.safe_report)
        if event.file:
            self.data_panel.set_run_file(event.file)
        text = f"run {event.status}" + (f": {event.reason}" if event.reason else "")
        self.statusBar().showMessage(text)

    def _on_run_ended(self, ended: RunEnded) -> None:
        self.worker = None
        if ended.kind in ("odmr", "track"):
            self.last_result, self.last_error = ended.result, ended.error
            if ended.error is not None:  # the run could not start (or a bug)
                self._show_run_error(ended.kind, ended.error)
            fault = getattr(ended.result, "error", None)
            self._bench_notice = ""
            if fault is not None:  # an instrument fault aborted the run (the panel says so)
                self._bench_notice = f"Instrument error during the run: {fault}"
            failed = [line for line in self._last_safe_report if "NOT made safe" in line]
            if failed:
                self._bench_notice += ("\n" if self._bench_notice else "") + (
                    "Bench NOT fully safe — check these instruments by hand: "
                    + "; ".join(failed))
            if self._bench_notice:
                self.bench_panel.show_error(self._bench_notice)
            self.data_panel.refresh()
        elif ended.error is not None:
            self._show_bench_error(ended.error)
        elif ended.kind == "bench-check":
            self._bench_notice = ""
            self.bench_panel.set_states(ended.result)
            self.statusBar().showMessage("Bench checked")
        elif ended.kind == "bench-safe":
            report, states = ended.result
            self.bench_panel.set_states(states)
            self.bench_panel.show_safe_report(report)
            self.statusBar().showMessage("Bench made safe: " + "; ".join(report))
        elif ended.kind == "bench-states":  # read back after a run
            self.bench_panel.set_states(ended.result)
            if self._bench_notice:  # keep the run's instrument trouble in view
                banner = self.bench_panel.banner
                extra = banner.text() if banner.isVisible() else ""
                self.bench_panel.show_error("\n".join(t for t in (self._bench_notice, extra)
                                                       if t))
        self._update_controls()
        if self._close_pending:
            self.close()
            return
        if ended.kind in ("odmr", "track"):
            self.run_ended.emit(ended)
            if self.session is not None and self.session.bench.connected:
                # read back what the bench is now (RF off, laser off), off the GUI thread
                session = self.session
                self._start_worker("bench-states", lambda control, sub: session.states())

    def _show_run_error(self, kind: str, error: BaseException) -> None:
        panel = self._panel(kind)
        if isinstance(error, InstrumentError):
            text = f"Could not run: {error}"
            self.bench_panel.show_error(f"Instrument error: {error}")
        else:
            text = f"Run failed: {type(error).__name__}: {error}"
            log.error("%s run failed", kind, exc_info=error)
        if panel is not None:
            panel.show_error(text)
        self.statusBar().showMessage(text)

    def _show_bench_error(self, error: BaseException) -> None:
        text = str(error) if isinstance(error, InstrumentError) else (
            f"{type(error).__name__}: {error}")
        self.bench_panel.show_error(f"Instrument error: {text}")
        if self.session is not None:
            try:
                self.bench_panel.set_states(self.session.offline_states())
            except Exception:  # the rows are only a courtesy here
                pass
            self.bench_panel.show_error(f"Instrument error: {text}")
        self.statusBar().showMessage(f"Bench: {text}")

    # -- view -------------------------------------------------------------------------------

    def set_dark_plots(self, dark: bool) -> None:
        theme = DARK if dark else LIGHT
        self.odmr_panel.set_theme(theme)
        if self.tracking_panel is not None:
            self.tracking_panel.set_theme(theme)
        self.widefield_panel.set_theme(theme)

    def screenshot(self, path: str | Path) -> Path:
        """Save the window as it is drawn now (works offscreen) to a PNG."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.grab().save(str(path)):
            raise OSError(f"could not write the screenshot {path}")
        return path

    # -- closing ----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.worker is not None and not self._force_closing:
            # stop the run and close once it has left the bench safe (RunEnded comes back)
            event.ignore()
            if not self._close_pending:
                self._close_pending = True
                self.worker.stop(WINDOW_CLOSED)
                self.statusBar().showMessage("Stopping the run, then closing…")
                QTimer.singleShot(int(CLOSE_TIMEOUT_S * 1000), self._force_close)
            return
        self.save_settings()
        # forced: the worker already had its chance; make the bench safe now
        self.shutdown(timeout=1.0 if self._force_closing else CLOSE_TIMEOUT_S)
        event.accept()

    def _force_close(self) -> None:
        if not self._close_pending or self.worker is None:
            return
        log.error("the run did not stop within %.0f s: making the bench safe anyway",
                  CLOSE_TIMEOUT_S)
        self._force_closing = True
        self.forced_close = True
        self.close()

    def shutdown(self, timeout: float = CLOSE_TIMEOUT_S) -> list[str]:
        """Stop any run, wait for it (up to ``timeout`` s), make the bench safe and close it.
        Blocks the GUI thread: for the end of the application."""
        worker = self.worker
        if worker is not None:
            worker.stop(WINDOW_CLOSED)
            if not worker.join(timeout):
                log.error("the %s worker is still running; making the bench safe anyway",
                          worker.kind)
        report: list[str] = []
        if self.session is not None:
            report = self.session.close()
            self._report_close(report)
        return report

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Process events until no run or bench task is going (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while self.busy and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.005)
        return not self.busy
