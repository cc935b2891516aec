"""Live view of a lock-in tracking run: the field of each sensor (and the gradient) in a
scrolling window, and the spectral density of its noise in T/√Hz against the shot-noise limit
of the scheme.

The view is a subscriber of the run's documents (:class:`~nvsense.measure.RunStarted`, the
record blocks of a ``lockin_tracking`` run, :class:`~nvsense.measure.RunFinished`): give it to
:func:`nvsense.measure.lockin.run_lockin_track` through the window's event bridge (or call
:meth:`LockinLiveView.handle` with each document in the GUI thread).  Documents of other kinds
are ignored.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from ..analysis import amplitude_spectral_density, noise_floor
from ..measure.documents import Record, RunFinished, RunStarted

__all__ = ["KIND", "LockinLiveView"]

log = logging.getLogger(__name__)

#: The run kind this view shows.
KIND = "lockin_tracking"
#: Samples kept for the display and the spectrum (16 s at 2 kS/s).
KEEP = 1 << 15
#: Shortest time between two spectra, s (Welch costs a few ms).
ASD_INTERVAL = 0.5
#: Band of the live noise floor, Hz (that of the run's report).
BAND = (10.0, 100.0)
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c")


class LockinLiveView(QWidget):
    """B(t) and its noise spectral density, live.

    Parameters
    ----------
    window
        Seconds of B(t) shown.
    """

    def __init__(self, parent: QWidget | None = None, *, window: float = 2.0) -> None:
        super().__init__(parent)
        self.window = float(window)
        self.run_id: str | None = None
        self.rate: float | None = None
        self.channels: list[str] = []
        self.limit: float | None = None
        self.time = np.zeros(0)
        self.data = np.zeros((0, 0))
        self.live_floor: float | None = None
        self._asd_at = 0.0
        self.trace = pg.PlotWidget()
        self.trace.setLabel("bottom", "time", units="s")
        self.trace.setLabel("left", "B − mean (nT)")
        self.trace.addLegend()
        self.asd = pg.PlotWidget()
        self.asd.setLogMode(x=True, y=True)
        self.asd.setLabel("bottom", "frequency", units="Hz")
        self.asd.setLabel("left", "noise ASD (T/√Hz)")
        self.asd.addLegend()
        self.limit_curve = self.asd.plot([], [], pen=pg.mkPen("k", style=pg.QtCore.Qt.PenStyle
                                                              .DashLine),
                                         name="shot-noise limit")
        self.trace_curves: list[Any] = []
        self.asd_curves: list[Any] = []
        self.status = QLabel("no lock-in run")
        self.numbers = QLabel("")
        split = QSplitter()
        split.addWidget(self.trace)
        split.addWidget(self.asd)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        layout.addWidget(self.numbers)

    # -- documents --------------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        self.handle(event)

    def handle(self, event: Any) -> None:
        """Show one document (GUI thread)."""
        if isinstance(event, RunStarted):
            if event.kind == KIND:
                self._start(event)
            return
        if self.run_id is None or getattr(event, "run_id", None) != self.run_id:
            return
        if isinstance(event, Record):
            self._append(event.values)
        elif isinstance(event, RunFinished):
            self._finish(event)

    def _start(self, event: RunStarted) -> None:
        self.run_id = event.run_id
        self.rate = float(event.parameters.get("rate") or 0) or None
        attrs = event.attrs or {}
        self.limit = attrs.get("shot_noise_limit_estimate_t_per_rthz")
        sensors = []
        for coord in (event.layout or {}).get("coords", []):
            if coord.get("name") == "sensor":
                sensors = [str(v) for v in coord.get("values", [])]
        names = [v.get("name") for v in (event.layout or {}).get("variables", [])]
        self.channels = [f"B {s}" for s in sensors] + (["gradient"] if "gradient" in names
                                                       else [])
        self.time = np.zeros(0)
        self.data = np.zeros((0, len(self.channels)))
        self.trace.clear()
        for curve in self.asd_curves:
            self.asd.removeItem(curve)
        self.trace_curves = [self.trace.plot([], [], pen=pg.mkPen(_COLOURS[k % 3]), name=name)
                             for k, name in enumerate(self.channels)]
        self.asd_curves = [self.asd.plot([], [], pen=pg.mkPen(_COLOURS[k % 3]), name=name)
                           for k, name in enumerate(self.channels)]
        self.status.setText(f"lock-in run {self.run_id}: tracking")
        self.live_floor = None
        self._asd_at = 0.0

    def _append(self, values: dict[str, Any]) -> None:
        t = np.atleast_1d(np.asarray(values.get("time"), dtype=float))
        field = np.asarray(values.get("field"), dtype=float)
        if field.ndim == 1:
            field = field[:, None]
        columns = [field]
        if "gradient" in self.channels:
            columns.append(np.asarray(values["gradient"], dtype=float).reshape(-1, 1))
        block = np.hstack(columns)
        self.time = np.concatenate([self.time, t])[-KEEP:]
        self.data = np.vstack([self.data, block])[-KEEP:]
        self._draw_trace()
        now = time.monotonic()
        if now - self._asd_at >= ASD_INTERVAL:
            self._asd_at = now
            self._draw_asd()

    def _finish(self, event: RunFinished) -> None:
        limit = event.results.get("shot_noise_limit_t_per_rthz")
        if limit:
            self.limit = float(limit)
        self._draw_asd()
        floor = event.results.get("noise_floor_t_per_rthz")
        text = f"lock-in run {self.run_id}: {event.status}"
        if event.reason:
            text += f" ({event.reason})"
        self.status.setText(text)
        if floor:
            self.live_floor = float(floor)
            self._show_numbers()

    # -- drawing ----------------------------------------------------------------------------

    def _draw_trace(self) -> None:
        if self.time.size == 0:
            return
        end = float(self.time[-1])
        shown = self.time >= end - self.window
        t = self.time[shown]
        for k, curve in enumerate(self.trace_curves):
            y = self.data[shown, k]
            curve.setData(t, (y - np.mean(y)) * 1e9)

    def _draw_asd(self) -> None:
        if self.rate is None or self.time.size < 256:
            return
        f = None
        for k, curve in enumerate(self.asd_curves):
            try:
                density = amplitude_spectral_density(self.data[:, k], self.rate)
            except ValueError as exc:  # too short yet
                log.debug("no live spectral density: %s", exc)
                return
            f = density.frequency[1:]
            curve.setData(f, density.asd[1:])
            if k == 0:
                try:
                    self.live_floor = float(noise_floor(density, f_lo=BAND[0], f_hi=BAND[1]))
                except ValueError:
                    self.live_floor = None
        if f is not None and self.limit:
            self.limit_curve.setData([f[0], f[-1]], [self.limit, self.limit])
        self._show_numbers()

    def _show_numbers(self) -> None:
        parts = []
        if self.data.shape[0]:
            parts.append(f"B = {self.data[-1, 0] * 1e3:.6f} mT")
        if self.live_floor is not None:
            parts.append(f"noise floor {self.live_floor * 1e12:.1f} pT/√Hz "
                         f"({BAND[0]:g}–{BAND[1]:g} Hz)")
        if self.limit:
            parts.append(f"shot-noise limit {self.limit * 1e12:.1f} pT/√Hz")
        self.numbers.setText("   ".join(parts))
