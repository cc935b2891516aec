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
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ..instruments import LimitError
from ..measure import RunFinished, RunStarted, SettingsError
from ..measure.lockin import LockinTrackSettings, check_lockin_track, run_lockin_track
from .lockin_form import (
    LOCKIN_FIELDS,
    lockin_error_fields,
    lockin_form_defaults,
    lockin_limit_fields,
    lockin_settings,
)
from .lockin_view import KIND, LockinLiveView
from .run_panel import RunPanel
from .theme import PlotTheme, apply_theme

__all__ = ["KIND", "LockinPanel"]


class LockinPanel(RunPanel):
    """Settings, Start / Stop and the live view of lock-in tracking.

    Signals
    -------
    start_requested, stop_requested
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(LOCKIN_FIELDS, "lockin", "Start lock-in tracking", parent)
        self.view = LockinLiveView()
        self.place(self.settings_column("lock-in settings", stretch=True), self.view,
                   min_width=340)

    # -- settings ---------------------------------------------------------------------------

    def procedure(self) -> Callable[..., Any]:
        """The measurement the window runs for this panel."""
        return run_lockin_track

    def apply_bench_defaults(self, bench: Any) -> None:
        """Start the form from the bench file's defaults where they apply to lock-in tracking
        (:func:`~nvsense.gui.lockin_form.lockin_form_defaults`), the form's own elsewhere."""
        self.form.set_values(lockin_form_defaults(bench))
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
            return self.reject(f"lock-in settings: {exc}", lockin_limit_fields(exc))
        except SettingsError as exc:
            text = str(exc)
            return self.reject(text if text.startswith("lock-in settings")
                               else f"lock-in settings: {text}", lockin_error_fields(text))
        return self.accept(settings)

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
