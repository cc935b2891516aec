"""The pulsed tab: a protocol form, the sequence it plays, the live signal with its fit.

The panel runs :func:`nvsense.measure.pulsed.run_pulsed` in its own worker thread on the
window's bench; the run's records (one per average) reach the GUI thread through a queued
signal.  The sequence diagram (:func:`nvsense.pulses.draw_program`) is drawn from the form as
it is, before anything runs, so the user sees what will be played; an invalid form shows its
error (the same message as the command line) and marks its field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..instruments import LimitError
from ..measure import RunControl, SettingsError
from ..measure.documents import Record, RunFinished
from ..measure.pulsed import PULSED_PROTOCOLS, PulsedSettings, build_program, resolve_settings
from ..measure.pulsed.figure import result_lines
from ..measure.pulsed.fits import result_keys
from ..pulses import PulseProgramError
from .forms import FieldSpec
from .run_panel import ThreadRunPanel

__all__ = ["PULSED_FIELDS", "PulsedPanel"]

#: The form's fields: text as on the command line (``nvsense pulsed``), blank = default.
PULSED_FIELDS = (
    FieldSpec("protocol", "Protocol", "rabi", "choice", PULSED_PROTOCOLS,
              "rabi, ramsey, echo (Hahn), xy8, t1, podmr (pulsed ODMR)"),
    FieldSpec("tau", "τ sweep", "", tip="START:STOP:N, e.g. 0:300ns:31 (blank: the "
              "protocol's default)", placeholder="protocol default"),
    FieldSpec("frequencies", "MW sweep (podmr)", "", tip="START:STOP:N, e.g. "
              "2.836GHz:2.848GHz:49", placeholder="podmr only"),
    FieldSpec("mw_frequency", "Resonance", "", tip="e.g. 2841.968MHz (blank: the latest "
              "pulsed-ODMR result of this bench)", placeholder="latest calibration"),
    FieldSpec("mw_power", "MW power", "-20dBm"),
    FieldSpec("pi_pulse", "π pulse", "", tip="e.g. 61ns (blank: the latest Rabi result, "
              "scaled to the power)", placeholder="latest Rabi run"),
    FieldSpec("detuning", "Detuning (Ramsey)", "0MHz"),
    FieldSpec("n_pulses", "π pulses (XY8)", "8"),
    FieldSpec("averages", "Averages", "10"),
    FieldSpec("repetitions", "Repetitions", "20000", tip="shots of every point per average"),
    FieldSpec("randomise", "Random order", "false", "check"),
)
#: Which fields each protocol uses (the others are ignored for it).
_USED = {
    "rabi": {"tau", "mw_frequency", "mw_power", "pi_pulse"},
    "ramsey": {"tau", "mw_frequency", "mw_power", "pi_pulse", "detuning"},
    "echo": {"tau", "mw_frequency", "mw_power", "pi_pulse"},
    "xy8": {"tau", "mw_frequency", "mw_power", "pi_pulse", "n_pulses"},
    "t1": {"tau", "mw_frequency", "mw_power", "pi_pulse"},
    "podmr": {"frequencies", "mw_power", "pi_pulse"},
}
_COMMON = {"protocol", "averages", "repetitions", "randomise"}


class PulsedPanel(ThreadRunPanel):
    """Settings, sequence and live signal of pulsed runs.

    Parameters
    ----------
    bench, data_dir, busy
        Callables giving the window's bench (or ``None``), its data folder, and whether the
        window is busy with another run.

    Signals
    -------
    run_ended(object)
        The run's :class:`~nvsense.measure.pulsed.PulsedResult` (or the exception that
        stopped it before it started), in the GUI thread.
    """

    _event = Signal(object)
    stopping_text = "stopping after the current average…"

    def __init__(self, bench: Callable[[], Any] | None = None,
                 data_dir: Callable[[], Any] | None = None,
                 busy: Callable[[], bool] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(PULSED_FIELDS, "pulsed", bench=bench, data_dir=data_dir, busy=busy,
                         parent=parent)
        self.settings: PulsedSettings | None = None
        self.x: np.ndarray | None = None

        self.figure = Figure(figsize=(6, 2.2), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(190)
        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setTitle("normalised signal")
        item.showGrid(x=True, y=True, alpha=0.2)
        self.data_curve = item.plot([], [], pen=None, symbol="o", symbolSize=5,
                                    symbolBrush="#555555", name="data")
        self.error_bars = pg.ErrorBarItem(x=np.array([]), y=np.array([]),
                                          height=np.array([]), pen="#999999")
        item.addItem(self.error_bars)
        self.fit_curve = item.plot([], [], pen=pg.mkPen("#d62728", width=2), name="fit")

        self._build_layout()
        self.form.edited.connect(self.preview)
        self._event.connect(self._on_event)
        self._enable_fields()
        self.preview()

    def _build_layout(self) -> None:
        seq_box = QGroupBox("Sequence (one shot)")
        QVBoxLayout(seq_box).addWidget(self.canvas)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(seq_box)
        right.addWidget(self.plot)
        right.setSizes([260, 500])
        self.place(self.settings_column(None, self.result_label, stretch=True), right,
                   min_width=300, margins=2)

    # -- the form -----------------------------------------------------------------------------

    def _enable_fields(self) -> None:
        used = _USED[self.form.value("protocol")] | _COMMON
        for key, widget in self.form.fields.items():
            widget.setEnabled(key in used)
            self.form.labels[key].setEnabled(key in used)

    def read_settings(self, bench: Any = None) -> PulsedSettings | None:
        """The form's settings (with the bench's stored calibration where blank), or
        ``None`` with the error shown and its field marked."""
        from ..cli.options import parse_settings

        values: dict[str, Any] = {}
        protocol = self.form.value("protocol")
        used = _USED[protocol] | _COMMON
        for key in used:
            text = self.form.value(key)
            if key == "randomise":
                values[key] = text == "true"
            elif text:
                values[key] = text
        labels = {k: self.form.specs[k].label for k in self.form.specs}
        try:
            settings = parse_settings(PulsedSettings, values, labels)
            bench = bench if bench is not None else self._bench()
            if bench is not None:
                settings = resolve_settings(settings, bench, self._data_dir())
        except (SettingsError, ValueError) as exc:
            return self._show_error(str(exc))
        return self.accept(settings)

    def _show_error(self, text: str) -> None:
        self.reject(text, [k for k, spec in self.form.specs.items()
                           if spec.label in text or k in text])

    def preview(self) -> None:
        """Draw the sequence the form describes (or show why it cannot be built)."""
        from ..pulses import draw_program

        self._enable_fields()
        self.figure.clear()
        settings = self.read_settings()
        if settings is None:
            self.canvas.draw_idle()
            return
        try:
            program = build_program(settings)
        except (SettingsError, PulseProgramError) as exc:
            self.figure.text(0.5, 0.5, str(exc), ha="center", va="center", wrap=True,
                             fontsize=8)
            self.canvas.draw_idle()
            return
        ax = self.figure.add_subplot()
        draw_program(program, ax=ax)
        self.canvas.draw_idle()

    # -- the run --------------------------------------------------------------------------------

    def begin(self, bench: Any, settings: PulsedSettings) -> bool:
        """Check the protocol against the bench (sending nothing) and start the run."""
        from ..measure.pulsed import check_pulsed

        try:
            check_pulsed(bench, settings)
        except (SettingsError, LimitError, PulseProgramError) as exc:
            self._show_error(str(exc))
            return False
        from ..storage import Catalog

        self.settings = settings
        self.x = settings.sweep_values()
        self.last_result = None
        self.result_label.setText("starting…")
        self._plot(None, None, None)
        catalog = Catalog(self._data_dir())

        def procedure(control: RunControl) -> Any:
            from ..measure.pulsed import run_pulsed

            return run_pulsed(bench, settings, catalog=catalog, control=control,
                              subscribers=[self._event.emit])

        self.launch("pulsed", procedure)
        return True

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Record) and "signal" in event.values:
            v = event.values
            self._plot(v["signal"], v["signal_error"], v["fit_curve"])
            assert self.settings is not None
            keys = result_keys(self.settings)
            text = ("   ".join(result_lines(v, keys)) if v.get("fit_success")
                    else "fit: not yet trusted")
            self.result_label.setText(f"average {event.index + 1}/{self.settings.averages}: "
                                      f"{text}")
        elif isinstance(event, RunFinished):
            self.stop_button.setEnabled(False)

    def finish(self, outcome: Any) -> None:
        """Show the run's result: the last fit, its values, the file (or why it failed)."""
        if isinstance(outcome, BaseException):
            self._show_error(str(outcome))
        else:
            self.last_result = outcome
            fit = outcome.fit
            if fit is not None and outcome.signal is not None:
                self._plot(outcome.signal, outcome.signal_error, fit.curve)
                raw = np.asarray(outcome.x)
                fine = np.linspace(raw.min(), raw.max(), 20 * raw.size)
                curve = fit.evaluate(fine)
                if curve is not None:
                    scale = self._scale()
                    self.fit_curve.setData(fine * scale, curve)
            lines = (result_lines(fit.values, result_keys(outcome.settings))
                     if outcome.success else [])
            head = f"run {outcome.run_id}: {outcome.status}"
            if outcome.reason:
                head += f" ({outcome.reason})"
            notes = outcome.warnings
            self.result_label.setText("\n".join([head, *lines, *notes,
                                                 f"file: {outcome.file}"]))

    def _scale(self) -> float:
        if self.settings is not None and self.settings.protocol == "podmr":
            return 1e-6
        return 1e6

    def _plot(self, signal: Any, error: Any, curve: Any) -> None:
        item = self.plot.getPlotItem()
        if self.settings is not None:
            podmr = self.settings.protocol == "podmr"
            item.setLabel("bottom", "microwave frequency (MHz)" if podmr else "τ (µs)")
        if signal is None or self.x is None:
            self.data_curve.setData([], [])
            self.fit_curve.setData([], [])
            self.error_bars.setData(x=np.array([]), y=np.array([]), height=np.array([]))
            return
        x = np.asarray(self.x) * self._scale()
        signal = np.asarray(signal, dtype=float)
        self.data_curve.setData(x, signal)
        err = np.nan_to_num(np.asarray(error, dtype=float))
        self.error_bars.setData(x=x, y=signal, height=2 * err)
        curve = np.asarray(curve, dtype=float)
        ok = np.isfinite(curve)
        self.fit_curve.setData(x[ok], curve[ok])

    # -- persistence --------------------------------------------------------------------------

    def restore(self, store: QSettings) -> None:
        super().restore(store)
        self.preview()
