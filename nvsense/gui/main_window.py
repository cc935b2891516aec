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
from dataclasses import dataclass, field
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
from ..measure import RunControl, RunFinished, RunStarted
from ..storage import Catalog
from .bench_panel import BenchPanel
from .bench_session import BenchSession
from .bridge import DEFAULT_MIN_INTERVAL, EventBridge, RunEnded, SweepBatch
from .data_panel import DataPanel
from .format import sample_text
from .odmr_panel import OdmrPanel
from .theme import DARK, LIGHT
from .widefield_panel import WidefieldPanel
from .worker import RunWorker

__all__ = ["REPLAY", "START_NAMES", "TABS", "THREAD_TABS", "MainWindow", "Tab"]

log = logging.getLogger(__name__)

#: Longest wait for a run to stop when the window closes, before the bench is made safe from
#: the GUI thread anyway (an instrument that no longer answers can hold a sweep up).
CLOSE_TIMEOUT_S = 30.0
#: Reason recorded in the run file when the window is closed during a run.
WINDOW_CLOSED = "stopped by user (window closed)"
#: Worker kind of a stored run being replayed (:meth:`MainWindow.replay`).
REPLAY = "replay"

BenchSource = str | Path | Mapping[str, Any] | None


def _odmr_panel_class() -> Any:
    return OdmrPanel


def _tracking_panel_class() -> Any:
    """The tracking panel (imported when the window is built: it pulls in pyqtgraph's
    tracking plots and the tracking measurement)."""
    from .tracking_panel import TrackingPanel

    return TrackingPanel


def _lockin_panel_class() -> Any:
    """The lock-in tab (:mod:`nvsense.gui.lockin_panel`)."""
    from .lockin_panel import LockinPanel

    return LockinPanel


@dataclass(frozen=True)
class Tab:
    """One measurement tab of the window.

    Attributes
    ----------
    kind
        The run kind its measurements have (``RunStarted.kind``: ``"odmr"``, ``"track"``).
    title
        The tab's title.
    panel_class
        Returns the panel's class, or ``None`` when the measurement is not installed.  A panel
        is a ``QWidget`` with the signals ``start_requested`` and ``stop_requested`` and the
        methods ``set_bench``, ``apply_bench_defaults``, ``read_settings``, ``procedure``
        (``run(bench, settings, catalog=, subscribers=, control=)``), ``starting``,
        ``run_started``, ``run_finished``, ``show_error``, ``set_running``, ``save``,
        ``restore``, ``set_theme``, and one of ``show_sweeps`` (ODMR sweeps), ``show_block``
        (tracking blocks) or ``show_records`` (:class:`~nvsense.measure.documents.Record`
        documents of any other kind).
    action
        Text of its Run menu entry.
    run_state
        What its runs turn on, by bench slot: the bench panel's state column while one goes.
    doing
        What such a run does, for the status line while it goes ("" says nothing more).
    """

    kind: str
    title: str
    panel_class: Callable[[], Any]
    action: str
    run_state: Mapping[str, str] = field(default_factory=lambda: dict(COUNTING))
    doing: str = ""


#: What a run that counts photons turns on (ODMR, tracking).
COUNTING = {"mw": "RF on", "laser": "laser on", "counter": "counting"}
#: What lock-in tracking turns on: the microwave frequency-modulated by the FM drive, the
#: analog input sampling the photodiodes that the lock-in demodulates (no photon counter).
LOCKIN_DETECTION = {"mw": "RF on, FM", "laser": "laser on", "fm_drive": "FM drive on",
                    "analog_input": "sampling the photodiodes (lock-in)"}


#: The measurement tabs, in order: a new measurement kind adds its entry here.
TABS: list[Tab] = [
    Tab("odmr", "ODMR", _odmr_panel_class, "Start &ODMR"),
    Tab("track", "Tracking magnetometer", _tracking_panel_class, "Start &tracking"),
    Tab("lockin_tracking", "Lock-in", _lockin_panel_class, "Start &lock-in tracking",
        run_state=LOCKIN_DETECTION,
        doing="the lock-in demodulates the photodiodes; the microwave follows the line"),
]
#: The tabs that run their measurement themselves (not in :data:`TABS`), by name.
THREAD_TABS = ("pulsed", "widefield")
#: ``nvsense gui --start NAME``: the tab each name starts (``lockin``: lock-in tracking).
START_NAMES = {"odmr": "odmr", "track": "track", "lockin": "lockin_tracking",
               "pulsed": "pulsed", "widefield": "widefield"}


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
        self.tabs = QTabWidget()
        #: The measurement panels by run kind, in the order of :data:`TABS`.
        self.panels: dict[str, Any] = {}
        for tab in TABS:
            cls = tab.panel_class()
            if cls is not None:
                self.panels[tab.kind] = cls()
                self.tabs.addTab(self.panels[tab.kind], tab.title)
        self.odmr_panel: OdmrPanel = self.panels["odmr"]
        self.tracking_panel: Any = self.panels.get("track")
        self._form_bench: str | None = None
        self._run_kinds: dict[str, str] = {}
        from .pulsed_panel import PulsedPanel  # pulsed protocols: a self-contained tab

        self.pulsed_panel = PulsedPanel(
            bench=lambda: self.session.bench if self.session else None,
            data_dir=lambda: self.data_panel.data_dir, busy=lambda: self.busy)
        self.tabs.addTab(self.pulsed_panel, "Pulsed")
        self.widefield_panel = WidefieldPanel(  # widefield runs: a self-contained tab
            bench=lambda: self.session.bench if self.session else None,
            data_dir=lambda: self.data_panel.data_dir, busy=lambda: self.busy)
        self.tabs.addTab(self.widefield_panel, "Widefield")
        #: The tabs that show a run's documents (a replay's too), by run kind.
        self.document_panels: dict[str, Any] = {**self.panels,
                                                 "widefield": self.widefield_panel}
        #: Every measurement tab by name (its run kind): the remembered tab, ``--start``.
        self.tab_panels: dict[str, Any] = {**self.panels, "pulsed": self.pulsed_panel,
                                           "widefield": self.widefield_panel}
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
        #: The Run menu's start entries by run kind.
        self.start_actions: dict[str, QAction] = {}
        for tab in TABS:
            if tab.kind in self.panels:
                action = QAction(tab.action, self)
                action.triggered.connect(lambda _checked=False, k=tab.kind: self.start_run(k))
                run_menu.addAction(action)
                self.start_actions[tab.kind] = action
        self.start_odmr_action = self.start_actions["odmr"]
        if "track" in self.start_actions:
            self.start_track_action = self.start_actions["track"]
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
        b.records.connect(self._on_records)
        b.documents.connect(self._on_document)
        b.run_finished.connect(self._on_run_finished)
        b.run_ended.connect(self._on_run_ended)
        self.bench_panel.load_requested.connect(self.load_bench)
        self.bench_panel.check_requested.connect(self.check_bench)
        self.bench_panel.safe_requested.connect(self.make_safe)
        for kind, panel in self.panels.items():
            panel.start_requested.connect(lambda k=kind: self.start_run(k))
            panel.stop_requested.connect(self.stop_run)
        self.widefield_panel.stop_requested.connect(self.stop_run)  # a replay in its tab
        for name in THREAD_TABS:  # their new run files are listed
            self.tab_panels[name].run_ended.connect(lambda _outcome: self.data_panel.refresh())
        self.data_panel.data_dir_changed.connect(
            lambda path: self.store.setValue("data/dir", path))
        self.data_panel.replay_requested.connect(
            lambda path: self.replay(path, speed=self.replay_speed))

    def _restore(self, bench: BenchSource, data_dir: str | Path | None) -> None:
        s = self.store
        for panel in self.tab_panels.values():
            panel.restore(s)
        if s.contains("bench/file"):  # the forms hold the values used on that bench
            self._form_bench = str(s.value("bench/file") or "")
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self._restore_tab(s.value("window/tab"))
        self.dark_action.setChecked(str(s.value("view/dark", "false")).lower() == "true")
        self.set_dark_plots(self.dark_action.isChecked())
        self.data_panel.set_data_dir(data_dir if data_dir is not None
                                     else (s.value("data/dir") or None))
        if bench is None:
            bench = str(s.value("bench/file", "") or "")
        self.load_bench(bench)

    @property
    def current_tab(self) -> str:
        """The name of the tab shown (its run kind, :attr:`tab_panels`)."""
        current = self.tabs.currentWidget()
        return next((name for name, panel in self.tab_panels.items() if panel is current), "")

    def _restore_tab(self, stored: Any) -> None:
        """Show the remembered tab: stored by name; a number (as earlier versions stored the
        tab) is taken as a tab index when there is such a tab; anything else is ignored."""
        text = str(stored or "").strip()
        if text in self.tab_panels:
            self.tabs.setCurrentWidget(self.tab_panels[text])
        elif text.isdigit() and int(text) < self.tabs.count():
            self.tabs.setCurrentIndex(int(text))

    def save_settings(self) -> None:
        """Remember the panels' settings, bench file, data folder and window layout."""
        s = self.store
        for panel in self.tab_panels.values():
            panel.save(s)
        if isinstance(self._bench_source, str):
            s.setValue("bench/file", self._bench_source)
        s.setValue("data/dir", str(self.data_panel.data_dir))
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.current_tab)
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
            for panel in self.panels.values():
                panel.set_bench(None)
            self._update_controls()
            return False
        label = self.session.label + sample_text(self.session.bench, self.pace)
        self.bench_panel.set_loaded(text.strip() if isinstance(text, str) else "", label)
        self.bench_panel.set_states(self.session.offline_states())
        # the forms start from the bench file's defaults when the bench is not the one their
        # values were last set for (a remembered session keeps its values)
        key = str(source or "").strip() if isinstance(source, str | Path) or source is None \
            else None  # a mapping: always its own defaults
        fresh = key is None or key != self._form_bench
        self._form_bench = key
        for panel in self.panels.values():
            if fresh:
                panel.apply_bench_defaults(self.session.bench)
            panel.set_bench(self.session.bench)
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
        return (self.worker is not None or self.pulsed_panel.running
                or self.widefield_panel.running)

    @property
    def running(self) -> str | None:
        """The kind of the measurement going ("odmr", "track", or ``"replay"`` while a stored
        run is replayed), or None."""
        if self.worker is not None and self._is_run(self.worker.kind):
            return self.worker.kind
        return None

    def _is_run(self, kind: str | None) -> bool:
        """A measurement or a replay (not a bench task)."""
        return kind in self.panels or kind == REPLAY

    def start_odmr(self) -> bool:
        """Validate the ODMR form against the bench and start the run; False (with the reason
        shown in the panel) if it cannot start."""
        return self.start_run("odmr")

    def start_tracking(self) -> bool:
        """Validate the tracking form and start the magnetometer (see :meth:`start_odmr`)."""
        return self.start_run("track")

    def start_run(self, kind: str) -> bool:
        """Validate the form of the ``kind`` tab against the bench and start its measurement
        in a worker thread; False (with the reason shown in the panel) if it cannot start."""
        panel = self.panels.get(kind)
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
        self._start_worker(kind, target)
        return True

    def start_tab(self, name: str) -> bool:
        """Start the measurement of the tab ``name`` (:data:`START_NAMES`: ``odmr``,
        ``track``, ``lockin``, ``pulsed``, ``widefield``) with its form's settings, showing
        the tab; False (with the reason shown in the tab) if it cannot start."""
        kind = START_NAMES.get(name, name)
        if kind in self.panels:
            return self.start_run(kind)
        panel = self.tab_panels.get(kind)
        if panel is None:
            return False
        self.tabs.setCurrentWidget(panel)
        return bool(panel.start())

    @property
    def replay_speed(self) -> float | None:
        """The speed of a replay started from the window: the recorded pace in a window paced
        in real time, as fast as it draws in a ``fast`` one."""
        return 1.0 if self.pace == "realtime" else None

    def replay(self, source: str | Path, *, speed: float | None = None) -> bool:
        """Show a stored run in its tab as if it were live: its file is turned into the
        documents the run published (:mod:`nvsense.measure.replay`), which take the live
        display's path (bridge, panels).  Nothing is sent to the bench and nothing written.

        Parameters
        ----------
        source
            The run file.
        speed
            ``1.0``: at the pace the run was recorded; ``None``: as fast as the display
            takes them.

        Returns False (with the reason in the status bar and the panel) if it cannot start.
        """
        from ..measure.replay import ReplayError, replay_run, replay_source

        if self.busy:
            self.statusBar().showMessage("Busy: wait for the run or bench operation to end.")
            return False
        try:
            stored = replay_source(source)
        except (ReplayError, OSError) as exc:
            self.statusBar().showMessage(f"Replay: {exc}")
            self.odmr_panel.show_error(f"Replay: {exc}")
            return False
        panel = self._panel(stored.kind)
        if panel is None:
            text = f"Replay: this window has no tab for {stored.kind} runs"
            self.statusBar().showMessage(text)
            self.odmr_panel.show_error(text)
            return False
        self.tabs.setCurrentWidget(panel)
        self._run_kinds = {stored.info.run_id: stored.kind}  # its tab shows Stop at once

        def target(control: RunControl, subscriber: Callable[[Any], None]) -> Any:
            return replay_run(stored, [subscriber], speed=speed, control=control)

        self._start_worker(REPLAY, target)
        return True

    def stop_run(self) -> None:
        """Ask the run to stop after the current sweep (or tracking block)."""
        if self.running:
            assert self.worker is not None
            self.worker.stop()
            self.statusBar().showMessage("Stopping after the current sweep…")

    def _start_worker(self, kind: str, target: Callable[..., Any]) -> None:
        self.bridge.flush()  # nothing of an earlier run may arrive after this one started
        if self._is_run(kind):
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
        replaying = kind == REPLAY
        for panel_kind, panel in self.panels.items():
            # a replay runs in the tab of its run's kind; Stop ends it
            panel.set_running(panel_kind == kind or (replaying and panel_kind == self._shown),
                              idle)
        self.widefield_panel.set_replaying(replaying and self._shown == "widefield")
        self.bench_panel.set_busy(kind is not None, run_going=kind in self.panels)
        for action in self.start_actions.values():
            action.setEnabled(idle)
        self.data_panel.replay_button.setEnabled(kind is None)

    # -- events (GUI thread) ----------------------------------------------------------------

    def _panel(self, kind: str) -> Any:
        return self.document_panels.get(kind)

    @property
    def _shown(self) -> str | None:
        """The kind of the run whose documents the panels show now."""
        return next(reversed(self._run_kinds.values()), None)

    def _on_run_started(self, event: RunStarted) -> None:
        self._run_kinds = {event.run_id: event.kind}
        panel = self._panel(event.kind)
        if panel is not None:
            panel.run_started(event)
            self._update_controls()
        self.data_panel.set_run_file(event.file)
        if self.running == REPLAY:  # the bench is not involved
            self.statusBar().showMessage(f"replay of {event.kind} run {event.run_id}")
            return
        self.data_panel.refresh()  # the new run is listed as "running"
        self.bench_panel.set_identities(event.identities)
        tab = next((t for t in TABS if t.kind == event.kind), None)
        on = {slot: "connected" for slot in event.identities}
        on.update(tab.run_state if tab is not None else COUNTING)
        self.bench_panel.show_run_state(on)
        doing = f": {tab.doing}" if tab is not None and tab.doing else ""
        self.statusBar().showMessage(f"{event.kind} run {event.run_id} going{doing}")

    def _on_sweeps(self, batch: SweepBatch) -> None:
        self.odmr_panel.show_sweeps(batch)
        self.bridge.stats.record(batch.latest.wall_time, batch.first_wall_time)
        self._show_stats()

    def _on_tracking(self, block: Any) -> None:
        if self.tracking_panel is not None:
            self.tracking_panel.show_block(block)
        self.bridge.stats.record(block.wall_time)
        self._show_stats()

    def _on_records(self, records: list[Any]) -> None:
        """Record documents (of the kinds without their own document type): to the panel of
        their run's kind."""
        panel = self._panel(self._run_kinds.get(records[-1].run_id, self._shown or ""))
        if panel is not None and hasattr(panel, "show_records"):
            panel.show_records(records)
        self.bridge.stats.record(records[-1].wall_time, records[0].wall_time)
        self._show_stats()

    def _on_document(self, document: Any) -> None:
        """A document of its own type (a widefield sweep or map): to its run's tab."""
        panel = self._panel(self._run_kinds.get(document.run_id, self._shown or ""))
        if panel is not None and hasattr(panel, "handle"):
            panel.handle(document)
        self.bridge.stats.record(getattr(document, "wall_time", time.time()))
        self._show_stats()

    def _show_stats(self) -> None:
        st = self.bridge.stats
        merged = st.sweeps_coalesced + st.blocks_merged
        latency = st.latencies[-1] * 1e3 if st.latencies else 0.0
        self.stats_label.setText(f"display: {st.updates} updates, {merged} events merged, "
                                 f"latency {latency:.0f} ms")

    def _on_run_finished(self, event: RunFinished) -> None:
        kind = self._run_kinds.get(event.run_id) or self.running or "odmr"
        panel = self._panel(kind)
        if panel is not None:
            panel.run_finished(event)
        if self.running == REPLAY:
            self.statusBar().showMessage(f"replay ended: the run was {event.status}"
                                         + (f" ({event.reason})" if event.reason else ""))
            return
        self._last_safe_report = tuple(event.safe_report)
        self.bench_panel.show_safe_report(event.safe_report)
        if event.file:
            self.data_panel.set_run_file(event.file)
        text = f"run {event.status}" + (f": {event.reason}" if event.reason else "")
        self.statusBar().showMessage(text)

    def _on_run_ended(self, ended: RunEnded) -> None:
        self.worker = None
        if ended.kind == REPLAY:
            self.last_result, self.last_error = ended.result, ended.error
            if ended.error is not None:
                self._show_run_error(self._shown or "odmr", ended.error)
            elif ended.result is None:  # the run's end was not reached
                self.statusBar().showMessage("replay stopped")
        elif ended.kind in self.panels:
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
        if ended.kind == REPLAY:
            self.run_ended.emit(ended)
        elif ended.kind in self.panels:
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
        for panel in self.panels.values():
            panel.set_theme(theme)
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
        for name in THREAD_TABS:  # their runs keep every completed sweep / average
            panel = self.tab_panels[name]
            if panel.running:
                panel.stop(WINDOW_CLOSED)
                if not panel.wait(timeout):
                    log.error("the %s run is still going; making the bench safe anyway", name)
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
