"""The lock-in tab: the settings of photodiode lock-in tracking, Start / Stop, and the live
view of the run (:class:`~nvsense.gui.lockin_view.LockinLiveView`: B(t) of each sensor and the
gradient, the noise spectral density in T/√Hz against the shot-noise limit).

The window runs :func:`~nvsense.measure.lockin.run_lockin_track` for it in its worker thread
on the window's bench (``Tab("lockin_tracking", …)`` in :data:`nvsense.gui.main_window.TABS`)
and hands it the run's documents: ``run_started``, ``show_records`` (the record blocks),
``run_finished``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..instruments import LimitError
from ..measure import RunFinished, RunStarted, SettingsError
from ..measure.lockin import LockinTrackSettings, check_lockin_track, run_lockin_track
from .forms import ErrorBanner, SettingsForm
from .lockin_form import (
    LOCKIN_FIELDS,
    lockin_error_fields,
    lockin_limit_fields,
    lockin_settings,
)
from .lockin_view import KIND, LockinLiveView
from .theme import PlotTheme, apply_theme

__all__ = ["KIND", "LockinPanel"]


class LockinPanel(QWidget):
    """Settings, Start / Stop and the live view of lock-in tracking.

    Signals
    -------
    start_requested, stop_requested
    """

    start_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = SettingsForm(LOCKIN_FIELDS, "lockin")
        self.start_button = QPushButton("Start lock-in tracking")
        self.stop_button = QPushButton("Stop")
        self.start_button.setObjectName("lockin.start")
        self.stop_button.setObjectName("lockin.stop")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.start_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.banner = ErrorBanner()
        self.banner.setObjectName("lockin.banner")
        self.view = LockinLiveView()
        self._bench: Any = None
        self._last_checked: dict[str, str] | None = None
        self._build_layout()
        self.form.edited.connect(self._edited)

    def _build_layout(self) -> None:
        box = QGroupBox("lock-in settings")
        inner = QVBoxLayout(box)
        inner.addWidget(self.form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        inner.addLayout(buttons)
        inner.addWidget(self.banner)
        inner.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(box)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(340)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    # -- settings ---------------------------------------------------------------------------

    def procedure(self) -> Callable[..., Any]:
        """The measurement the window runs for this panel."""
        return run_lockin_track

    def set_bench(self, bench: Any) -> None:
        self._bench = bench
        self._last_checked = None

    def apply_bench_defaults(self, bench: Any) -> None:
        """The form's own values (a bench file has no lock-in defaults yet)."""
        self.form.set_values({spec.key: spec.default for spec in LOCKIN_FIELDS})
        self._last_checked = None

    def read_settings(self, bench: Any = None) -> LockinTrackSettings | None:
        """Validate the form and check it against the bench with
        :func:`~nvsense.measure.lockin.check_lockin_track` (sending nothing); show what is
        wrong (banner, fields outlined) and return None, or return the settings."""
        bench = bench if bench is not None else self._bench
        try:
            settings = lockin_settings(self.form.values())
            if bench is not None:
                check_lockin_track(bench, settings)
        except LimitError as exc:
            self.form.mark_errors(lockin_limit_fields(exc))
            self.banner.show_error(f"lock-in settings: {exc}")
            return None
        except SettingsError as exc:
            text = str(exc)
            self.form.mark_errors(lockin_error_fields(text))
            self.banner.show_error(text if text.startswith("lock-in settings")
                                   else f"lock-in settings: {text}")
            return None
        self.form.mark_errors(())
        self.banner.clear()
        return settings

    def _edited(self) -> None:
        values = self.form.values()
        if values != self._last_checked and self.form.isEnabled():
            self._last_checked = values
            self.read_settings()

    def save(self, store: QSettings) -> None:
        self.form.save(store)

    def restore(self, store: QSettings) -> None:
        self.form.restore(store)

    def set_running(self, running: bool, idle_allowed: bool = True) -> None:
        self.form.setEnabled(not running)
        self.start_button.setEnabled(not running and idle_allowed)
        self.stop_button.setEnabled(running)

    def show_error(self, text: str) -> None:
        self.banner.show_error(text)

    def set_theme(self, theme: PlotTheme) -> None:
        apply_theme([self.view.trace, self.view.asd], theme)
        self.view.limit_curve.setPen(pg.mkPen(theme.floor, width=2,
                                              style=Qt.PenStyle.DashLine))

    # -- run documents ----------------------------------------------------------------------

    def starting(self) -> None:
        """The run was asked to start: the coarse sweep and the calibration come first."""
        self.banner.clear()
        self.view.status.setText("coarse sweep and lock-in calibration…")

    def run_started(self, event: RunStarted) -> None:
        self.banner.clear()
        self.view.handle(event)

    def show_records(self, records: list[Any]) -> None:
        """Record blocks of the run (those of one display update together)."""
        for record in records:
            self.view.handle(record)

    def run_finished(self, event: RunFinished) -> None:
        self.view.handle(event)
        if event.status == "completed":
            self.banner.show_note("Lock-in tracking completed.")
        elif event.reason and event.reason.startswith("stopped by user"):
            self.banner.show_note("Lock-in tracking stopped by the user; the data are kept.")
        else:
            self.banner.show_error(f"Lock-in tracking aborted: {event.reason}")
