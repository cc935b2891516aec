"""Live ODMR plots: the latest sweep and the running average with its fit, the residuals, and
a sweep-by-sweep image (waterfall) of the raw data.

The fit arrives as a :class:`~nvsense.measure.documents.FitSummary`: its curve on a fine grid
and its model on the sweep are arrays computed in the measurement thread, so drawing them
evaluates nothing here."""

from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from ..measure.analysis import segments
from .bridge import SweepBatch
from .theme import LIGHT, PlotTheme, apply_theme

__all__ = ["OdmrPlots", "segments"]

log = logging.getLogger(__name__)

#: Rows kept in the waterfall image (older sweeps scroll out; the run file keeps them all).
WATERFALL_ROWS = 400


def _with_gaps(x: NDArray[np.float64], y: NDArray[np.float64],
               parts: list[slice]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Join the segments with a NaN between them, so no line is drawn across a gap."""
    if len(parts) == 1:
        return x, y
    xs, ys = [], []
    for part in parts:
        xs += [x[part], [np.nan]]
        ys += [y[part], [np.nan]]
    return np.concatenate(xs[:-1]), np.concatenate(ys[:-1])


class OdmrPlots(QWidget):
    """Spectrum, residuals and waterfall of the current ODMR run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = LIGHT
        self.spectrum = pg.PlotWidget()
        self.residuals = pg.PlotWidget()
        self.waterfall = pg.PlotWidget()
        sp = self.spectrum.getPlotItem()
        sp.setTitle("spectrum: latest sweep, running average and fit")
        sp.setLabel("bottom", "frequency", units="Hz")
        sp.setLabel("left", "signal", units="counts")
        # no grid: with pyqtgraph the grid is drawn by the axes, which costs ~5 ms a repaint
        self.legend = sp.addLegend(offset=(-10, -10), brush=pg.mkBrush(255, 255, 255, 200))
        rp = self.residuals.getPlotItem()
        rp.setTitle("residuals of the average")
        rp.setLabel("bottom", "frequency", units="Hz")
        rp.setLabel("left", "data − fit", units="counts")
        rp.setXLink(sp)
        wp = self.waterfall.getPlotItem()
        wp.setTitle("waterfall: raw sweeps (each row ÷ its median)")
        wp.setLabel("bottom", "frequency", units="Hz")
        wp.setLabel("left", "sweep")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        wp.addItem(self.image)
        self.sweep_curve = sp.plot(name="latest sweep")
        self.average_curve = sp.plot(name="running average")
        self.fit_curve = sp.plot(name="fit of the average")
        self.residual_curve = rp.plot()
        self.zero_line = pg.InfiniteLine(angle=0, movable=False)
        rp.addItem(self.zero_line)
        self._apply_pens()
        splitter = QSplitter(Qt.Orientation.Vertical)
        for widget, stretch in ((self.spectrum, 5), (self.residuals, 2), (self.waterfall, 3)):
            splitter.addWidget(widget)
            splitter.setStretchFactor(splitter.indexOf(widget), stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._rows = np.empty((0, 0))
        self._first_row_index = 0
        self._frequencies: NDArray[np.float64] | None = None
        self._parts: list[slice] = []
        self._units = "counts"

    # -- appearance -------------------------------------------------------------------------

    def widgets(self) -> list[pg.PlotWidget]:
        return [self.spectrum, self.residuals, self.waterfall]

    def set_theme(self, theme: PlotTheme) -> None:
        self.theme = theme
        apply_theme(self.widgets(), theme)
        self._apply_pens()

    def _apply_pens(self) -> None:
        t = self.theme
        self.legend.setLabelTextColor(t.foreground)
        self.legend.setBrush(pg.mkBrush(t.background))
        self.sweep_curve.setPen(pg.mkPen(t.sweep, width=1))
        self.average_curve.setPen(pg.mkPen(t.average, width=2))
        self.fit_curve.setPen(pg.mkPen(t.fit, width=2))
        self.residual_curve.setPen(pg.mkPen(t.average, width=1))
        self.zero_line.setPen(pg.mkPen(t.fit, width=1, style=Qt.PenStyle.DashLine))

    def set_signal_units(self, units: str) -> None:
        """"counts" (photon counting) or "V" (photodiode)."""
        self._units = units
        self.spectrum.getPlotItem().setLabel("left", "signal", units=units)
        self.residuals.getPlotItem().setLabel("left", "data − fit", units=units)

    # -- data -------------------------------------------------------------------------------

    def clear(self) -> None:
        """Empty every plot (a new run starts)."""
        for curve in (self.sweep_curve, self.average_curve, self.fit_curve, self.residual_curve):
            curve.setData([], [])
        self.image.clear()
        self._rows = np.empty((0, 0))
        self._first_row_index = 0
        self._frequencies = None

    def show_batch(self, batch: SweepBatch) -> None:
        """Draw the latest sweep of ``batch`` and add all its sweeps to the waterfall."""
        event = batch.latest
        f = np.asarray(event.frequencies, dtype=float)
        if self._frequencies is None or self._frequencies.shape != f.shape:
            self._start(f)
        parts = self._parts
        self.sweep_curve.setData(*_with_gaps(f, np.asarray(event.counts, float), parts),
                                 connect="finite")
        self.average_curve.setData(*_with_gaps(f, np.asarray(event.average, float), parts),
                                   connect="finite")
        self._show_fit(event.average_fit, f, np.asarray(event.average, float))
        self._add_rows(batch)

    def _start(self, f: NDArray[np.float64]) -> None:
        self._frequencies = f
        self._parts = segments(f)
        self._rows = np.empty((0, f.size))

    def _show_fit(self, fit: object, f: NDArray[np.float64], average: NDArray[np.float64]) -> None:
        best = getattr(fit, "best_fit", None)
        if fit is None or best is None or np.shape(best) != f.shape:
            self.fit_curve.setData([], [])
            self.residual_curve.setData([], [])
            return
        best = np.asarray(best, float)
        fine_x = np.asarray(getattr(fit, "curve_frequencies", ()), float)
        fine_y = np.asarray(getattr(fit, "curve_values", ()), float)
        if fine_x.size and fine_x.shape == fine_y.shape:  # NaN already between the ranges
            self.fit_curve.setData(fine_x, fine_y, connect="finite")
        else:  # a fit without its fine curve still has its values on the sweep
            self.fit_curve.setData(*_with_gaps(f, best, self._parts), connect="finite")
        self.residual_curve.setData(*_with_gaps(f, average - best, self._parts),
                                    connect="finite")

    def _add_rows(self, batch: SweepBatch) -> None:
        rows = np.asarray(batch.rows, dtype=float)
        if rows.ndim != 2 or rows.shape[1] != self._rows.shape[1]:
            return
        median = np.median(rows, axis=1, keepdims=True)
        rows = rows / np.where(median > 0, median, 1.0)
        self._rows = np.concatenate([self._rows, rows])[-WATERFALL_ROWS:]
        self._first_row_index = batch.indices[-1] + 1 - self._rows.shape[0]
        sample = self._rows[-50:]  # colour levels from the latest rows: cheap, and current
        finite = sample[np.isfinite(sample)]
        if finite.size == 0:
            return
        lo, hi = np.percentile(finite, [0.5, 99.5])
        self.image.setImage(self._rows, autoLevels=False, levels=(lo, hi if hi > lo else lo + 1))
        f = self._frequencies
        assert f is not None
        n = self._rows.shape[0]
        if len(self._parts) == 1 and f.size > 1:
            step = (f[-1] - f[0]) / (f.size - 1)
            rect = QRectF(f[0] - step / 2, self._first_row_index, f[-1] - f[0] + step, n)
        else:  # several ranges: the image is by point, not by frequency
            rect = QRectF(0, self._first_row_index, f.size, n)
            self.waterfall.getPlotItem().setLabel("bottom", "point of the sweep")
        self.image.setRect(rect)

    @property
    def waterfall_rows(self) -> int:
        """Sweeps in the waterfall image."""
        return int(self._rows.shape[0])
