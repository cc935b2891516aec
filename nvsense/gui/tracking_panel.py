"""The tracking panel: start / stop the magnetometer, live B(t) in a scrolling time window, its
spectral density against the shot-noise limit, and the lock status."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..analysis import amplitude_spectral_density, noise_floor
from ..formatting import StickyUnit, format_value_error
from ..measure import RunFinished, RunStarted, TrackingBlock
from ..measure.tracking import TrackSettings, check_track, run_track
from ..measure.tracking.measurement import calibration_record
from ..measure.tracking.noise import MIN_NOISE_SAMPLES, noise_band_for
from .format import si_time
from .run_panel import RunPanel
from .theme import LIGHT, PlotTheme, apply_theme
from .trace_buffer import TraceBuffer
from .tracking_form import (
    TRACK_FIELDS,
    limit_error_fields,
    settings_error_fields,
    track_form_defaults,
    track_settings,
)

__all__ = ["TrackingPanel"]

log = logging.getLogger(__name__)

#: Most samples the live spectral density is computed from (the latest stretch in lock).
ASD_MAX_SAMPLES = 2 ** 14
#: Shortest time between two recomputations of the spectral density, s (Welch costs ~ms).
ASD_INTERVAL = 0.5
_COMPONENT_COLOURS = ("#d62728", "#2ca02c", "#1f77b4")
_LOCK_STYLE = {
    "locked": "background: #1a7f37; color: white;",
    "reacquired": "background: #1a7f37; color: white;",
    "lost": "background: #c00000; color: white;",
    "idle": "background: #888888; color: white;",
    "starting": "background: #b35900; color: white;",
}


def _segment(n: int) -> int:
    """Welch segment length for the live spectrum: ~16 segments once there are enough
    samples (a smooth curve early on), at least 64."""
    return int(min(n, 2 ** max(6, int(np.log2(max(n, 1) / 8)))))


class TrackingPanel(RunPanel):
    """Settings and live view of the tracking magnetometer.

    Signals
    -------
    start_requested, stop_requested
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TRACK_FIELDS, "track", "Start tracking", parent)
        self.theme = LIGHT

        self.lock_label = QLabel("idle")
        self.lock_label.setObjectName("track.lock")
        self.lock_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bold = QFont()
        bold.setBold(True)
        bold.setPointSize(bold.pointSize() + 2)
        self.lock_label.setFont(bold)
        self.field_label = QLabel("B: –")
        self.field_label.setObjectName("track.field")
        self.field_label.setFont(bold)
        self.field_label.setWordWrap(True)
        self.noise_label = QLabel("noise floor: –")
        self.noise_label.setObjectName("track.noise")
        self.noise_label.setWordWrap(True)
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self._set_lock("idle", "idle")

        self.trace = pg.PlotWidget()
        tp = self.trace.getPlotItem()
        tp.setTitle("B(t)")
        tp.setLabel("bottom", "time", units="s")
        tp.setLabel("left", "B", units="T")
        self.trace_legend = tp.addLegend(offset=(-10, 10))
        self.asd = pg.PlotWidget()
        ap = self.asd.getPlotItem()
        ap.setTitle("amplitude spectral density of B (latest stretch in lock)")
        ap.setLogMode(True, True)
        ap.setLabel("bottom", "frequency", units="Hz")
        ap.setLabel("left", "ASD (nT/√Hz)")
        self.asd_legend = ap.addLegend(offset=(-10, 10))
        self.floor_curve = ap.plot(name="shot-noise limit")
        self.window_box = QDoubleSpinBox()
        self.window_box.setRange(0.5, 3600)
        self.window_box.setValue(10.0)
        self.window_box.setSuffix(" s")
        self.window_box.setToolTip("Length of the scrolling time window of the B(t) plot.")
        self.window_box.valueChanged.connect(lambda _v: self._draw_trace())

        self.buffer = TraceBuffer()
        self.trace_curves: list[pg.PlotDataItem] = []
        self.unlocked_curve = tp.plot(name="not locked")
        self.asd_curves: list[pg.PlotDataItem] = []
        self.rate: float | None = None
        self.unit = StickyUnit("T")
        self.shot_noise_limit: float | None = None
        self.live_floor: float | None = None
        self._field_kind = "parallel"
        self._asd_time = 0.0
        self._apply_pens()
        self._build_layout()

    def _build_layout(self) -> None:
        status_box = QGroupBox("lock")
        status = QVBoxLayout(status_box)
        for widget in (self.lock_label, self.field_label, self.noise_label,
                       self.progress_label):
            status.addWidget(widget)
        status.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.settings_column("tracking settings"))
        left_layout.addWidget(status_box, 1)
        window_row = QHBoxLayout()
        window_row.addWidget(QLabel("time window"))
        window_row.addWidget(self.window_box)
        window_row.addStretch(1)
        trace_holder = QWidget()
        trace_layout = QVBoxLayout(trace_holder)
        trace_layout.setContentsMargins(0, 0, 0, 0)
        trace_layout.addLayout(window_row)
        trace_layout.addWidget(self.trace)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(trace_holder)
        plots.addWidget(self.asd)
        self.place(left, plots, min_width=380)

    # -- appearance -------------------------------------------------------------------------

    def set_theme(self, theme: PlotTheme) -> None:
        self.theme = theme
        apply_theme([self.trace, self.asd], theme)
        self._apply_pens()

    def _apply_pens(self) -> None:
        t = self.theme
        for legend in (self.trace_legend, self.asd_legend):
            legend.setLabelTextColor(t.foreground)
            legend.setBrush(pg.mkBrush(t.background))
        colours = [t.average] if len(self.trace_curves) == 1 else list(_COMPONENT_COLOURS)
        for curve, asd, colour in zip(self.trace_curves, self.asd_curves, colours):
            curve.setPen(pg.mkPen(colour, width=1))
            asd.setPen(pg.mkPen(colour, width=1))
        self.unlocked_curve.setPen(None)
        self.unlocked_curve.setSymbol("x")
        self.unlocked_curve.setSymbolPen(pg.mkPen(t.fit))
        self.unlocked_curve.setSymbolSize(6)
        self.floor_curve.setPen(pg.mkPen(t.floor, width=2, style=Qt.PenStyle.DashLine))

    # -- settings ---------------------------------------------------------------------------

    def procedure(self) -> Callable[..., Any]:
        """The measurement the window runs for this panel."""
        return run_track

    def set_bench(self, bench: Any) -> None:
        super().set_bench(bench)
        if bench is None:
            return
        try:
            self.form.set_hint("mw_power", f"≤ {bench.mw.limits.power_max:g} dBm on this bench")
            self.form.set_hint("laser_power", "blank: keep; ≤ "
                               f"{bench.laser.limits.power_max * 1e3:g} mW on this bench")
        except Exception:  # a driver may know its limits only once connected
            pass

    def apply_bench_defaults(self, bench: Any) -> None:
        """Start the form from the bench file's defaults (:func:`track_form_defaults`)."""
        self.form.set_values(track_form_defaults(bench))
        self._last_checked = None

    def read_settings(self, bench: Any = None) -> TrackSettings | None:
        """Validate the form and the bench limits (as ``run_track`` will, sending nothing);
        show what is wrong and return None, or return the settings."""
        bench = bench if bench is not None else self._bench
        return self.checked(
            lambda: track_settings(self.form.values()),
            # the run's own check (nvsense track calls it too)
            (lambda settings: check_track(bench, settings)) if bench is not None else None,
            title="tracking settings", error_fields=settings_error_fields,
            limit_fields=limit_error_fields)

    def save(self, store: QSettings) -> None:
        super().save(store)
        store.setValue("track/window_s", self.window_box.value())

    def restore(self, store: QSettings) -> None:
        super().restore(store)
        try:
            self.window_box.setValue(float(store.value("track/window_s", 10.0)))
        except (TypeError, ValueError):
            pass

    # -- run events -------------------------------------------------------------------------

    def starting(self) -> None:
        """The run was asked to start: the initial sweep and the calibration come first."""
        self.banner.clear()
        self._set_lock("starting", "initial sweep and calibration…")

    def run_started(self, event: RunStarted) -> None:
        """The lock is calibrated and starts: reset the plots."""
        self.banner.clear()
        self.buffer.clear()
        params = event.parameters
        self.rate = float(params.get("rate") or 0) or None
        calibration = calibration_record(event)
        limit = calibration.get("shot_noise_limit")
        self.shot_noise_limit = float(limit) if limit else None
        self._field_kind = "vector" if isinstance(params.get("axis"), list) else "parallel"
        self._make_curves(3 if self._field_kind == "vector" else 1)
        self.floor_curve.setData([], [])
        self.live_floor = None
        self._asd_time = 0.0
        self.field_label.setText("B: –")
        self.unit = StickyUnit("T")
        self.noise_label.setText("noise floor: –" + self._limit_text())
        self.progress_label.setText("")
        warnings = calibration.get("warnings") or []
        if warnings:
            self.banner.show_note("Calibration: " + "; ".join(warnings))
        self._set_lock("starting", "locking…")

    def _make_curves(self, n: int) -> None:
        tp, ap = self.trace.getPlotItem(), self.asd.getPlotItem()
        for curve in self.trace_curves:
            tp.removeItem(curve)
        for curve in self.asd_curves:
            ap.removeItem(curve)
        names = ["B∥"] if n == 1 else ["Bx", "By", "Bz"]
        self.trace_curves = [tp.plot(name=name) for name in names]
        self.asd_curves = [ap.plot(name=name) for name in names]
        self._apply_pens()

    def show_block(self, block: TrackingBlock) -> None:
        """New samples (merged blocks arrive as one): extend the trace, redraw."""
        if not self.trace_curves:
            self._make_curves(1 if np.ndim(block.field) == 1 else 3)
        self.buffer.append(block.time, block.field, block.locked)
        self._draw_trace()
        info = block.info or {}
        state = str(info.get("state", "locked"))
        if info.get("lost"):
            self._set_lock("lost", f"LOCK LOST: {info['lost']}")
        elif bool(np.asarray(block.locked)[-1]):
            self._set_lock("locked", "LOCKED" if state != "reacquired" else "LOCKED (re-acquired)")
        else:
            self._set_lock("lost", "NOT LOCKED")
        self._show_numbers(block, info)
        now = time.monotonic()
        if now - self._asd_time >= ASD_INTERVAL:
            self._asd_time = now
            self._draw_asd()

    def run_finished(self, event: RunFinished) -> None:
        self._draw_asd()
        if event.status == "completed":
            self.banner.show_note("Tracking completed.")
            self._set_lock("idle", "finished")
        elif event.reason and event.reason.startswith("stopped by user"):
            self.banner.show_note("Tracking stopped by the user; the data are kept.")
            self._set_lock("idle", "stopped")
        else:
            self.banner.show_error(f"Tracking aborted: {event.reason}")
            self._set_lock("lost", "aborted")
        floor = event.results.get("noise_floor_t_per_rthz") if event.results else None
        if floor:
            self.noise_label.setText(f"noise floor (whole run): {floor * 1e9:.2f} nT/√Hz"
                                     + self._limit_text())

    # -- drawing ----------------------------------------------------------------------------

    def _draw_trace(self) -> None:
        buf = self.buffer
        if len(buf) == 0:
            return
        part = buf.window(self.window_box.value())
        t = buf.time[part]
        field = buf.field[part]
        columns = field[:, None] if field.ndim == 1 else field
        for k, curve in enumerate(self.trace_curves):
            curve.setData(t, columns[:, k])
        unlocked = ~buf.locked[part]
        if np.any(unlocked):
            self.unlocked_curve.setData(t[unlocked], columns[unlocked, 0])
        else:
            self.unlocked_curve.setData([], [])
        end = float(t[-1])
        self.trace.getPlotItem().setXRange(max(end - self.window_box.value(), float(t[0])),
                                           end, padding=0)

    def _draw_asd(self) -> None:
        rate = self.rate or self._measured_rate()
        field = self.buffer.locked_tail(ASD_MAX_SAMPLES)
        if rate is None or field.shape[0] < MIN_NOISE_SAMPLES:
            return
        columns = field[:, None] if field.ndim == 1 else field
        floors = []
        lo, hi = noise_band_for(rate)
        f = None
        for k, curve in enumerate(self.asd_curves):
            try:
                density = amplitude_spectral_density(columns[:, k], rate,
                                                     segment_length=_segment(columns.shape[0]))
            except ValueError as exc:  # too short for a spectrum yet
                log.debug("no live spectral density: %s", exc)
                return
            f = density.frequency[1:]
            curve.setData(f, density.asd[1:] * 1e9)
            try:
                floors.append(noise_floor(density, f_lo=lo, f_hi=hi))
            except ValueError:
                pass
        if f is not None and self.shot_noise_limit:
            self.floor_curve.setData([f[0], f[-1]], [self.shot_noise_limit * 1e9] * 2)
        if floors:
            self.live_floor = float(np.sqrt(np.mean(np.square(floors))))
            self.noise_label.setText(
                f"noise floor {self.live_floor * 1e9:.2f} nT/√Hz ({lo:.3g}–{hi:.3g} Hz, last "
                f"{si_time(field.shape[0] / rate)} in lock)" + self._limit_text())

    def _measured_rate(self) -> float | None:
        t = self.buffer.time
        if t.size < 3:
            return None
        step = float(np.median(np.diff(t)))
        return 1.0 / step if step > 0 else None

    def _limit_text(self) -> str:
        if not self.shot_noise_limit:
            return ""
        return f"\nshot-noise limit {self.shot_noise_limit * 1e9:.2f} nT/√Hz"

    def _show_numbers(self, block: TrackingBlock, info: dict[str, Any]) -> None:
        field = np.asarray(block.field, float)
        locked = np.asarray(block.locked, bool)
        last = field[locked] if np.any(locked) else field
        if field.ndim == 1:  # one unit for the whole run (nvsense.formatting)
            self.field_label.setText(f"B∥ = {self.unit.format(float(np.mean(last)))}")
        else:
            self.field_label.setText(f"B = {self.unit.format_vector(np.mean(last, axis=0))}")
        if block.D is not None and np.any(np.isfinite(block.D)):
            d = format_value_error(float(np.nanmean(block.D)), None, "Hz", prefix="M",
                                   decimals=4)
            self.field_label.setText(self.field_label.text() + f"\nD = {d}")
        samples = info.get("samples", self.buffer.total)
        planned = info.get("samples_planned")
        total = f" / {planned}" if planned else ""
        fraction = float(np.mean(self.buffer.locked)) * 100 if len(self.buffer) else 0.0
        losses = info.get("lock_losses", 0)
        self.progress_label.setText(
            f"{samples}{total} samples · {si_time(float(block.time[-1]))} · in lock "
            f"{fraction:.1f} % of the shown samples · lock losses: {losses}")

    def _set_lock(self, style: str, text: str) -> None:
        self.lock_label.setText(text)
        self.lock_label.setStyleSheet(_LOCK_STYLE.get(style, "") + " padding: 6px;")
        self.lock_state = style
