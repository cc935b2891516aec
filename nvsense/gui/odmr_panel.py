"""The ODMR panel: settings, Start / Stop, live plots and the fitted lines, field and D."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..formatting import StickyUnit
from ..measure import OdmrSettings, RunFinished, RunStarted, SettingsError, run_odmr
from ..measure.odmr import check_odmr
from ..measure.resonance import RESONANCE_KEY
from .bridge import SweepBatch
from .format import d_text, field_text, lines_rows, progress_text
from .odmr_form import (
    ODMR_FIELDS,
    limit_error_fields,
    odmr_form_defaults,
    odmr_settings,
    settings_error_fields,
)
from .odmr_plots import OdmrPlots
from .run_panel import RunPanel
from .theme import PlotTheme

__all__ = ["OdmrPanel"]

_NO_RESONANCE_STYLE = "color: #c00000; font-weight: bold;"


class OdmrResults(QWidget):
    """Progress, field, D and the table of fitted lines, updated every display update."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress = QLabel("no run yet")
        self.field = QLabel("B: –")
        self.d = QLabel("D: –")
        self.status = QLabel("")
        self.status.setObjectName("odmr.status")
        self.unit = StickyUnit("T")
        big = QFont()
        big.setPointSize(big.pointSize() + 2)
        big.setBold(True)
        for label in (self.field, self.d):
            label.setFont(big)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setWordWrap(True)
        self.field.setObjectName("odmr.field")
        self.d.setObjectName("odmr.D")
        self.progress.setObjectName("odmr.progress")
        self.lines = QTableWidget(0, 4)
        self.lines.setHorizontalHeaderLabels(["center (MHz)", "± (kHz)", "FWHM (MHz)",
                                              "contrast (%)"])
        self.lines.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.lines.verticalHeader().setDefaultSectionSize(20)
        self.lines.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lines.setMinimumHeight(120)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.progress, self.field, self.d, self.status, self.lines):
            layout.addWidget(widget)

    def clear(self) -> None:
        self.unit = StickyUnit("T")  # one unit for the whole run
        self.progress.setText("starting…")
        self.field.setText("B: –")
        self.d.setText("D: –")
        self.status.setText("")
        self.lines.setRowCount(0)

    def show_sweep(self, event: Any) -> None:
        fit = event.average_fit
        self.progress.setText(progress_text(event.index, event.sweeps_planned, event.elapsed)
                              + "  (fit of the running average)")
        self.field.setText(field_text(fit, self.unit))
        self.d.setText(d_text(fit))
        self.status.setStyleSheet("")
        if fit is None and getattr(event, "lines_pending", False):
            self.status.setText("finding the lines; the sweeps are kept, their fits follow")
        elif fit is None:
            self.status.setText("fit failed on this sweep; the data are kept")
        elif fit.resonance_found is False:
            self.show_no_resonance(fit.message)
        elif not fit.success:
            self.status.setText(f"fit: {fit.message or 'not converged'}")
        else:
            self.status.setText(f"fit converged, χ²ᵣ = {fit.redchi:.2f}")
        rows = lines_rows(fit) if fit is None or fit.resonance_found is not False else []
        self.lines.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                item = self.lines.item(i, j)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                    self.lines.setItem(i, j, item)
                item.setText(text)


    def show_no_resonance(self, message: str) -> None:
        """The run measured no resonance: say so instead of a field (the fitted "lines" are
        noise)."""
        self.field.setText("B: no resonance measured (the fitted lines are noise)")
        self.d.setText("D: –")
        self.status.setText(message or "no resonance measured")
        self.status.setStyleSheet(_NO_RESONANCE_STYLE)
        self.lines.setRowCount(0)


class OdmrPanel(RunPanel):
    """Settings and live view of CW-ODMR runs.

    The window validates and starts runs (it owns the bench); the panel reads and checks its
    form, and shows what the run's events say.

    Signals
    -------
    start_requested, stop_requested
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(ODMR_FIELDS, "odmr", "Start ODMR", parent)
        self.results = OdmrResults()
        self.plots = OdmrPlots()
        results_box = QGroupBox("fit of the running average")
        QVBoxLayout(results_box).addWidget(self.results)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.settings_column("ODMR settings"))
        left_layout.addWidget(results_box, 1)
        self.place(left, self.plots, min_width=380)

    # -- settings ---------------------------------------------------------------------------

    def procedure(self) -> Callable[..., Any]:
        """The measurement the window runs for this panel."""
        return run_odmr

    def set_bench(self, bench: Any) -> None:
        """The bench whose limits the form is checked against (``None``: no bench loaded);
        shows its usable ranges as hints."""
        super().set_bench(bench)
        if bench is None:
            return
        kind = getattr(bench.counter, "kind", "counts")
        self.plots.set_signal_units("V" if kind == "volts" else "counts")
        try:
            mw = bench.mw.limits
            self.form.set_hint("mw_power", f"≤ {mw.power_max:g} dBm on this bench")
            for key in ("start", "stop"):
                self.form.set_hint(key, f"{mw.frequency_min / 1e9:g}–"
                                   f"{mw.frequency_max / 1e9:g} GHz on this bench")
            laser = bench.laser.limits
            self.form.set_hint("laser_power", f"blank: keep; ≤ {laser.power_max * 1e3:g} mW "
                               "on this bench")
        except Exception:  # a driver may know its limits only once connected
            pass

    def apply_bench_defaults(self, bench: Any) -> None:
        """Start the form from the bench file's ``defaults.odmr`` (and the form's defaults
        elsewhere), as ``nvsense odmr --bench FILE`` starts; an invalid section is reported
        and leaves the form as it was."""
        try:
            values = odmr_form_defaults(bench)
        except SettingsError as exc:
            self.banner.show_error(str(exc))
            return
        self.form.set_values(values)
        self._last_checked = None

    def read_settings(self, bench: Any = None) -> OdmrSettings | None:
        """Validate the form (and, with a bench, its limits, sending nothing); show what is
        wrong and return ``None``, or clear the message and return the settings."""
        bench = bench if bench is not None else self._bench
        return self.checked(
            lambda: odmr_settings(self.form.values()),
            # the run's own check (nvsense odmr calls it too)
            (lambda settings: check_odmr(bench, settings)) if bench is not None else None,
            title="ODMR settings", error_fields=settings_error_fields,
            limit_fields=lambda exc: limit_error_fields(exc, self.form.values()))

    # -- run state --------------------------------------------------------------------------

    def starting(self) -> None:
        """The run was asked to start (its first event comes after the first sweep when the
        number of lines is found from it)."""
        self.banner.clear()
        self.results.progress.setText("starting: first sweep…")

    def run_started(self, event: RunStarted) -> None:
        self.banner.clear()
        self.plots.clear()
        self.results.clear()

    def show_sweeps(self, batch: SweepBatch) -> None:
        self.plots.show_batch(batch)
        self.results.show_sweep(batch.latest)

    def run_finished(self, event: RunFinished) -> None:
        sweeps = event.results.get("sweeps", 0)
        if event.results.get(RESONANCE_KEY) is False:
            # the run's verdict on its final average (nvsense.measure.resonance): its fit is
            # noise, whatever the status; the CLI exits 3 for it
            why = str(event.attrs.get("warnings") or "no resonance measured")
            self.results.show_no_resonance(why)
            self.banner.show_error(f"Run {event.status} after {sweeps} sweeps, but it measured "
                                   f"no resonance: {why}")
        elif event.status == "completed":
            self.banner.show_note(f"Run completed: {sweeps} sweeps.")
        elif event.reason and event.reason.startswith("stopped by user"):
            self.banner.show_note(f"Run stopped by the user after {sweeps} sweeps; the data "
                                  "are kept.")
        else:
            self.banner.show_error(f"Run aborted after {sweeps} sweeps: {event.reason}")
        self.results.progress.setText(self.results.progress.text().split("  (")[0]
                                      + f"  — {event.status}")

    def set_theme(self, theme: PlotTheme) -> None:
        self.plots.set_theme(theme)
