"""What every measurement tab shares: its settings form, Start / Stop, the message banner, the
layout (settings on the left, plots on the right), remembering the form, and, for the tabs
that run their measurement themselves, the worker thread.

Two ways a tab runs its measurement:

- :class:`RunPanel` (ODMR, tracking, lock-in): the window runs it.  Start / Stop emit
  ``start_requested`` / ``stop_requested``; the window validates the form
  (``read_settings(bench)``), runs the procedure in its :class:`~nvsense.gui.worker.RunWorker`
  and hands the panel the run's documents; :meth:`RunPanel.set_running` locks the form
  meanwhile.
- :class:`ThreadRunPanel` (pulsed, widefield): the tab runs it in a thread of its own on the
  window's bench (:meth:`ThreadRunPanel.launch`), and reports the outcome with
  ``run_ended``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .forms import ErrorBanner, FieldSpec, SettingsForm

__all__ = ["RunPanel", "ThreadRunPanel"]

log = logging.getLogger(__name__)


class RunPanel(QWidget):
    """A tab with a settings form, Start / Stop and a banner for what went wrong.

    Parameters
    ----------
    fields
        The form's fields.
    name
        The form's settings group (``QSettings`` keys ``NAME/…``) and the prefix of the object
        names (``NAME.start``, ``NAME.stop``, ``NAME.banner``).
    start_text
        The Start button's text.

    Signals
    -------
    start_requested, stop_requested
        The Start / Stop buttons were pressed.
    """

    start_requested = Signal()
    stop_requested = Signal()
    #: Check the form as soon as a value is entered (against the bench, sending nothing).
    check_while_editing = True

    def __init__(self, fields: Sequence[FieldSpec], name: str, start_text: str = "Start",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = SettingsForm(fields, name)
        self.start_button = QPushButton(start_text)
        self.stop_button = QPushButton("Stop")
        self.start_button.setObjectName(f"{name}.start")
        self.stop_button.setObjectName(f"{name}.stop")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.start_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.banner = ErrorBanner()
        self.banner.setObjectName(f"{name}.banner")
        self._bench: Any = None
        self._last_checked: dict[str, str] | None = None
        if self.check_while_editing:
            self.form.edited.connect(self._edited)

    # -- layout -----------------------------------------------------------------------------

    def settings_column(self, title: str | None = None, *below: QWidget,
                        stretch: bool = False) -> QWidget:
        """The form, the Start / Stop row and the banner (then ``below``), in a group box
        titled ``title`` (or a plain widget)."""
        column = QGroupBox(title) if title is not None else QWidget()
        layout = QVBoxLayout(column)
        layout.addWidget(self.form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout.addLayout(buttons)
        layout.addWidget(self.banner)
        for widget in below:
            layout.addWidget(widget)
        if stretch:
            layout.addStretch(1)
        return column

    def place(self, left: QWidget, right: QWidget, *, min_width: int,
              margins: int | None = 4, footer: QWidget | None = None) -> None:
        """Lay the tab out: ``left`` scrolling (at least ``min_width`` px wide) beside
        ``right``, which takes the room left; ``footer`` under both."""
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(min_width)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        if margins is not None:
            layout.setContentsMargins(margins, margins, margins, margins)
        layout.addWidget(splitter)
        if footer is not None:
            layout.addWidget(footer)

    # -- the form ---------------------------------------------------------------------------

    def read_settings(self, bench: Any = None) -> Any:
        """The form's settings, or ``None`` with what is wrong shown (each tab's own)."""
        raise NotImplementedError

    def checked(self, parse: Callable[[], Any], check: Callable[[Any], None] | None, *,
                title: str, error_fields: Callable[[str], Iterable[str]],
                limit_fields: Callable[[Any], Iterable[str]]) -> Any:
        """The settings ``parse()`` reads from the form, checked by ``check(settings)``
        (the run's own check against the bench, sending nothing; ``None``: no bench);
        ``None`` with the message shown and its fields outlined when either refuses them.

        A :class:`~nvsense.measure.SettingsError` of the form is shown as it is, one of the
        check (and a :class:`~nvsense.instruments.LimitError`) after ``title``;
        ``error_fields(message)`` and ``limit_fields(error)`` name the fields to outline.
        """
        from ..instruments import LimitError
        from ..measure import SettingsError

        try:
            settings = parse()
        except SettingsError as exc:
            return self.reject(str(exc), error_fields(str(exc)))
        if check is not None:
            try:
                check(settings)
            except LimitError as exc:
                return self.reject(f"{title}: {exc}", limit_fields(exc))
            except SettingsError as exc:
                return self.reject(f"{title}: {exc}", error_fields(str(exc)))
        return self.accept(settings)

    def reject(self, text: str, fields: Iterable[str] = ()) -> None:
        """Show why the form cannot run (banner) and outline the fields it is about; returns
        ``None`` for ``read_settings`` to return."""
        self.form.mark_errors(fields)
        self.banner.show_error(text)

    def accept(self, settings: Any) -> Any:
        """The form is fine: clear the outlines and the banner; returns ``settings``."""
        self.form.mark_errors(())
        self.banner.clear()
        return settings

    def _edited(self) -> None:
        # check as soon as a value is entered, so an out-of-range value shows its limit at once
        values = self.form.values()
        if values != self._last_checked and self.form.isEnabled():
            self._last_checked = values
            self.read_settings()

    def set_bench(self, bench: Any) -> None:
        """The bench the form is checked against (``None``: no bench loaded)."""
        self._bench = bench
        self._last_checked = None

    def save(self, store: QSettings) -> None:
        """Remember the form (``QSettings`` group of its name)."""
        self.form.save(store)

    def restore(self, store: QSettings) -> None:
        """Take the form back as it was remembered."""
        self.form.restore(store)

    # -- run state --------------------------------------------------------------------------

    def set_running(self, running: bool, idle_allowed: bool = True) -> None:
        """Lock the form while a run goes; ``idle_allowed`` is False while another panel's run
        or a bench task is going."""
        self.form.setEnabled(not running)
        self.start_button.setEnabled(not running and idle_allowed)
        self.stop_button.setEnabled(running)

    def show_error(self, text: str) -> None:
        self.banner.show_error(text)

    def screenshot(self, path: str | Path) -> Path:
        """Save the panel as drawn now (works offscreen) to a PNG."""
        path = Path(path)
        if not self.grab().save(str(path)):
            raise OSError(f"could not write the screenshot {path}")
        return path


class ThreadRunPanel(RunPanel):
    """A tab that runs its measurement in a thread of its own on the window's bench.

    Parameters
    ----------
    fields, name, start_text
        As for :class:`RunPanel`.
    bench, data_dir, busy
        Callables giving the window's bench (or ``None``), its data folder, and whether the
        window is busy with another run.

    Attributes
    ----------
    control
        The :class:`~nvsense.measure.RunControl` of the run going (or of the last one).
    thread
        Its worker thread.
    last_result
        What the last run returned (or the exception that ended it), ``None`` while none has
        ended.
    result_label
        Under the form: how the run goes and, at the end, its result.

    Signals
    -------
    run_ended(object)
        The run's result (or the exception that stopped it before it started), in the GUI
        thread.
    """

    run_ended = Signal(object)
    _done = Signal(object)
    check_while_editing = False
    #: What the result line says while a stop is waited for.
    stopping_text = "stopping after the current sweep…"

    def __init__(self, fields: Sequence[FieldSpec], name: str, start_text: str = "Start", *,
                 bench: Callable[[], Any] | None = None,
                 data_dir: Callable[[], Any] | None = None,
                 busy: Callable[[], bool] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(fields, name, start_text, parent)
        self._bench = bench or (lambda: None)
        self._data_dir = data_dir or (lambda: None)
        self._busy = busy or (lambda: False)
        self.control: Any = None
        self.thread: threading.Thread | None = None
        self.last_result: Any = None
        self.result_label = QLabel("")
        self.result_label.setObjectName(f"{name}.result")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_requested.connect(self.start)
        self.stop_requested.connect(self.stop)
        self._done.connect(self._on_done)

    def set_bench(self, bench: Any) -> None:  # the bench is asked for when a run starts
        """Nothing to do: the tab asks the window for its bench when a run starts."""

    @property
    def running(self) -> bool:
        """A run started from this tab is going."""
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> bool:
        """Check the form against the bench and start the run in a worker thread; False with
        the reason shown if it cannot start (nothing was sent)."""
        bench = self.ready_bench()
        if bench is None:
            return False
        settings = self.read_settings()
        if settings is None:
            return False
        return self.begin(bench, settings)

    def begin(self, bench: Any, settings: Any) -> bool:
        """Check ``settings`` (what :meth:`read_settings` gave) against ``bench`` as the run
        will, then :meth:`launch` it; False with the reason shown (each tab its own)."""
        raise NotImplementedError

    def ready_bench(self) -> Any:
        """The bench to start a run on, or ``None`` with the reason shown (a run is going,
        no bench is loaded)."""
        if self.running or self._busy():
            self.reject("Busy: wait for the run going to end.")
            return None
        bench = self._bench()
        if bench is None:
            self.reject("No bench loaded: load one in the Bench panel.")
        return bench

    def launch(self, name: str, procedure: Callable[[Any], Any]) -> None:
        """Run ``procedure(control)`` in a worker thread named ``nvsense-NAME``; what it
        returns or raises reaches :meth:`finish` in the GUI thread."""
        from ..instruments import InstrumentError, LimitError
        from ..measure import RunControl, SettingsError

        self.control = control = RunControl()

        def work() -> None:
            outcome: Any
            try:
                outcome = procedure(control)
            except (InstrumentError, SettingsError, LimitError) as exc:
                outcome = exc
            except Exception as exc:  # shown, logged: the lifecycle left the bench safe
                log.exception("%s run failed", name)
                outcome = exc
            self._done.emit(outcome)

        self.thread = threading.Thread(target=work, name=f"nvsense-{name}", daemon=True)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.thread.start()

    def stop(self, reason: str | None = None) -> None:
        """Ask the run to stop after the current step (every completed one is kept)."""
        if self.control is not None and self.running:
            if reason is None:
                self.control.stop()
            else:
                self.control.stop(reason)
            self.result_label.setText(self.stopping_text)

    def set_replaying(self, replaying: bool) -> None:
        """The window replays a stored run in this tab: Stop ends the replay, Start waits."""
        if not self.running:
            self.start_button.setEnabled(not replaying)
            self.stop_button.setEnabled(replaying)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread (tests, closing); True when it has ended."""
        if self.thread is None:
            return True
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _on_done(self, outcome: Any) -> None:
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.finish(outcome)
        self.run_ended.emit(outcome)

    def finish(self, outcome: Any) -> None:
        """Show the outcome of the run (GUI thread): its result, or the exception that
        ended it (each tab its own)."""
        raise NotImplementedError
