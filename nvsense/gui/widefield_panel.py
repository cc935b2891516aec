"""The widefield tab: a form that starts a widefield run on the window's bench, and the live
field map of the run, the spectrum of the map pixel under the cursor and the success mask,
updated from the run's documents after every sweep.

The panel runs :func:`nvsense.measure.widefield.run_widefield` in its own worker thread on the
window's bench (as the pulsed tab does); the form's settings are checked against the bench with
:func:`~nvsense.measure.widefield.check_widefield` before anything is sent (an error shows in
the banner, its field marked).  At the end the run's frames, dropped frames and drift are
shown.

A widefield run (:mod:`nvsense.measure.widefield`) publishes a
:class:`~nvsense.measure.documents.WidefieldMap` after each sweep: the binned field map
(``field_parallel``, T), its errors, the success mask, and each map pixel's summed spectrum
with its fitted curve.  The panel draws them as they are: it evaluates no model and fits
nothing.  :meth:`WidefieldPanel.subscriber` gives the callable a run subscribes (it may be
called from the measurement thread: only the newest map is kept until the GUI thread draws
it, so a slow display never holds the measurement up).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QLabel,
    QSplitter,
    QWidget,
)

from ..measure.documents import RunFinished, RunStarted, WidefieldMap, WidefieldSweep
from .forms import FieldSpec, limit_fields
from .run_panel import ThreadRunPanel
from .theme import LIGHT, PlotTheme, apply_theme

__all__ = ["WIDEFIELD_FIELDS", "WidefieldPanel"]

#: The form's fields: text as on the command line (``nvsense widefield measure``).
WIDEFIELD_FIELDS = (
    FieldSpec("range", "Range", "2.79GHz:2.95GHz:101",
              tip="START:STOP:POINTS, at least 8 points (--range)"),
    FieldSpec("sweeps", "Sweeps", "10", tip="number of sweeps (--sweeps)"),
    FieldSpec("exposure", "Exposure", "5ms", tip="camera exposure per frame (--exposure)"),
    FieldSpec("binning", "Bin", "1", tip="camera binning, N×N pixels summed at readout (--bin)"),
    FieldSpec("reference", "Reference", "none", "choice", ("none", "every"),
              "every: a reference frame (RF far off resonance) after every point (--reference)"),
    FieldSpec("out", "Output cube", "", tip="the run file to write (*.nc, must not exist); "
              "relative to the data folder; blank: a new file in the data folder (--out)",
              placeholder="new file in the data folder"),
)
#: The form fields a :class:`~nvsense.instruments.LimitError` is about, by its quantity.
_LIMIT_FIELDS = {"frequency": ("range",), "exposure": ("exposure",), "binning": ("binning",)}


class _Mailbox(QObject):
    """Keeps the newest document from any thread and wakes the GUI thread once."""

    wake = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._map: WidefieldMap | None = None
        self._sweep: WidefieldSweep | None = None

    def put(self, document: Any) -> None:
        with self._lock:
            empty = self._map is None and self._sweep is None
            if isinstance(document, WidefieldMap):
                self._map = document
            elif isinstance(document, WidefieldSweep):
                self._sweep = document
            else:
                return
        if empty:
            self.wake.emit()

    def take(self) -> tuple[WidefieldMap | None, WidefieldSweep | None]:
        with self._lock:
            out = (self._map, self._sweep)
            self._map = self._sweep = None
        return out


class WidefieldPanel(ThreadRunPanel):
    """A widefield run's form, and its live map, spectrum under the cursor and success mask.

    Parameters
    ----------
    bench, data_dir, busy
        Callables giving the window's bench (or ``None``), its data folder, and whether the
        window is busy with another run; without a bench the panel only displays documents.

    Attributes
    ----------
    last_map
        The map document shown (``None`` before the first).
    cursor
        (row, column) of the map pixel whose spectrum is shown.
    last_result
        The :class:`~nvsense.measure.widefield.WidefieldResult` of the last run started here
        (or the exception that ended it), ``None`` while none has ended.

    Signals
    -------
    run_ended(object)
        The run's result (or the exception that stopped it), in the GUI thread.
    """

    def __init__(self, bench: Callable[[], Any] | None = None,
                 data_dir: Callable[[], Any] | None = None,
                 busy: Callable[[], bool] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(WIDEFIELD_FIELDS, "widefield", bench=bench, data_dir=data_dir,
                         busy=busy, parent=parent)
        self.last_map: WidefieldMap | None = None
        self.cursor: tuple[int, int] | None = None
        self._mailbox = _Mailbox()
        self._mailbox.wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

        self.map_view = pg.PlotWidget(title="B∥ (mT)")
        self.mask_view = pg.PlotWidget(title="fit success")
        self.spectrum = pg.PlotWidget(title="spectrum under the cursor")
        for view in (self.map_view, self.mask_view):
            view.setAspectLocked(True)
            view.invertY(True)
        self.field_image = pg.ImageItem(axisOrder="row-major")
        self.field_image.setColorMap(pg.colormap.get("viridis"))
        self.map_view.addItem(self.field_image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False,
                                        width=12)
        self.colorbar.setImageItem(self.field_image, insert_in=self.map_view.getPlotItem())
        self.mask_image = pg.ImageItem(axisOrder="row-major")
        self.mask_image.setColorMap(pg.ColorMap([0.0, 1.0], [(200, 60, 60), (60, 170, 90)]))
        self.mask_view.addItem(self.mask_image)
        self.marker = pg.ScatterPlotItem(size=10, symbol="s", brush=None,
                                         pen=pg.mkPen("w", width=2))
        self.map_view.addItem(self.marker)
        sp = self.spectrum.getPlotItem()
        sp.setLabel("bottom", "frequency", units="Hz")
        sp.setLabel("left", "counts")
        self.data_curve = sp.plot([], [], name="data", symbol="o", symbolSize=4)
        self.fit_curve = sp.plot([], [], name="fit")
        self.status = QLabel("no widefield run yet")
        self.status.setWordWrap(True)
        self._build_layout()
        self.set_theme(LIGHT)
        self.map_view.scene().sigMouseMoved.connect(self._mouse_moved)

    def _build_layout(self) -> None:
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.map_view)
        top.addWidget(self.mask_view)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(self.spectrum)
        right.setSizes([600, 300])
        self.place(self.settings_column(None, self.result_label, stretch=True), right,
                   min_width=280, margins=None, footer=self.status)

    def set_theme(self, theme: PlotTheme) -> None:
        """Colours of the plots (the window's View → Dark plots)."""
        apply_theme([self.map_view, self.mask_view, self.spectrum], theme)
        self.data_curve.setPen(None)
        self.data_curve.setSymbolBrush(pg.mkBrush(theme.average))
        self.data_curve.setSymbolPen(None)
        self.fit_curve.setPen(pg.mkPen(theme.fit, width=2))

    # -- the form and the run -----------------------------------------------------------------

    def read_settings(self, bench: Any = None) -> tuple[Any, Path | None] | None:
        """The form's :class:`~nvsense.measure.widefield.WidefieldSettings` and output cube
        (``None``: a new file in the data folder), or ``None`` with the error shown in the
        banner and its field marked."""
        from ..cli.options import parse_settings
        from ..measure import SettingsError
        from ..measure.widefield import WidefieldSettings

        labels = {k: f"{spec.label} ({k})" for k, spec in self.form.specs.items()}
        values = {k: self.form.value(k) for k in ("range", "sweeps", "exposure", "binning",
                                                   "reference")}
        try:
            settings = parse_settings(WidefieldSettings,
                                      {k: v for k, v in values.items() if v}, labels)
            out = self._output_cube()
        except (SettingsError, ValueError) as exc:
            return self._show_error(str(exc))
        return self.accept((settings, out))

    def _output_cube(self) -> Path | None:
        """The run file the form names: a new ``.nc`` file, relative to the data folder."""
        from ..measure import SettingsError

        text = self.form.value("out").strip()
        if not text:
            return None
        path = Path(text).expanduser()
        if not path.is_absolute() and self._data_dir() is not None:
            path = Path(self._data_dir()) / path
        if path.suffix.lower() != ".nc" or not path.stem or path.name.startswith("."):
            raise SettingsError(f"Output cube (out) {text!r}: name a new NetCDF run file, "
                                "e.g. wire.nc")
        if path.exists() or path.is_symlink():
            raise SettingsError(f"Output cube (out) {path}: the file exists; a run file is "
                                "never overwritten (choose a new file name)")
        return path

    def _show_error(self, text: str, fields: Any = None) -> None:
        if fields is None:
            fields = [k for k, spec in self.form.specs.items()
                      if f"{spec.label} ({k})" in text or re.search(rf"\b{k}\b", text)]
        self.reject(text, fields)

    def begin(self, bench: Any, settings_and_cube: tuple[Any, Path | None]) -> bool:
        """Check the settings against the bench and the camera (sending nothing) and start
        the run, writing the cube the form names."""
        settings, out = settings_and_cube
        from ..instruments import LimitError
        from ..measure import SettingsError
        from ..measure.widefield import check_widefield

        try:
            check_widefield(bench, settings)
        except LimitError as exc:
            self._show_error(str(exc), limit_fields(exc, _LIMIT_FIELDS))
            return False
        except SettingsError as exc:
            self._show_error(str(exc))
            return False
        from ..storage import Catalog

        self.last_result = None
        self.last_map, self.cursor = None, None
        self.result_label.setText("starting…")
        self.status.setText(f"widefield run: waiting for the first of {settings.sweeps} sweeps")
        catalog = Catalog(self._data_dir())

        def procedure(control: Any) -> Any:
            from ..measure.widefield import run_widefield

            return run_widefield(bench, settings, out=out, catalog=catalog, control=control,
                                 subscribers=[self._mailbox.put])

        self.launch("widefield", procedure)
        return True

    def save(self, store: QSettings) -> None:
        """Remember the form but the output cube: a run file is never overwritten, so the
        next session starts with a blank one (a new file in the data folder)."""
        super().save(store)
        store.remove(f"{self.form.group}/out")

    def finish(self, outcome: Any) -> None:
        """Show the run's result: sweeps, frames, dropped frames, drift, the file (or why it
        failed)."""
        self._drain()  # the last map, if the display had not drawn it yet
        self.last_result = outcome
        if isinstance(outcome, BaseException):
            self.result_label.setText("")
            self._show_error(str(outcome), ())
        else:
            self.result_label.setText("\n".join(result_lines(outcome)))

    # -- documents ------------------------------------------------------------------------

    def subscriber(self) -> Callable[[Any], None]:
        """The callable a run subscribes; safe to call from the measurement thread."""
        return self._mailbox.put

    def handle(self, document: Any) -> None:
        """Show a document now (GUI thread): a run's start, a sweep or a map."""
        if isinstance(document, RunStarted) and document.kind == "widefield":
            self.last_map, self.cursor = None, None
            self.status.setText(f"run {document.run_id}: waiting for the first sweep")
        elif isinstance(document, WidefieldMap):
            self.show_map(document)
        elif isinstance(document, WidefieldSweep):
            self._show_sweep(document)

    def run_started(self, event: RunStarted) -> None:
        """A run shown through the window (a replay) starts."""
        self.banner.clear()
        self.result_label.setText("")
        self.handle(event)

    def run_finished(self, event: RunFinished) -> None:
        """A run shown through the window (a replay) has ended: its stored result."""
        self.result_label.setText("\n".join(finished_lines(event)))
        if event.status == "completed":
            self.banner.clear()
        elif (event.reason or "").startswith("stopped by user"):
            self.banner.show_note("The run was stopped by the user; its sweeps are kept.")
        else:
            self.banner.show_error(f"The run {event.status}: {event.reason}")

    @Slot()
    def _drain(self) -> None:
        latest_map, sweep = self._mailbox.take()
        if sweep is not None:
            self._show_sweep(sweep)
        if latest_map is not None:
            self.show_map(latest_map)

    def _show_sweep(self, sweep: WidefieldSweep) -> None:
        if self.last_map is None or self.last_map.index < sweep.index:
            dy, dx = sweep.drift
            planned = f"/{sweep.sweeps_planned}" if sweep.sweeps_planned else ""
            self.status.setText(f"sweep {sweep.index + 1}{planned} recorded; drift "
                                f"{dy:+.2f}, {dx:+.2f} px; fitting the map…")

    def show_map(self, doc: WidefieldMap) -> None:
        """Draw a map document: the field, the mask, and the spectrum under the cursor."""
        if doc.message or doc.success.size == 0:
            self.status.setText(f"after sweep {doc.index + 1}: {doc.message}")
            return
        first = self.last_map is None or self.last_map.success.shape != doc.success.shape
        self.last_map = doc
        field = np.where(doc.success, doc.field_parallel, np.nan) * 1e3
        finite = field[np.isfinite(field)]
        if finite.size:
            low, high = np.percentile(finite, [1, 99])
            if high <= low:
                high = low + 1e-6
            self.field_image.setImage(np.nan_to_num(field, nan=low), levels=(low, high))
            self.colorbar.setLevels((low, high))
        self.mask_image.setImage(doc.success.astype(float), levels=(0.0, 1.0))
        if first or self.cursor is None:
            rows, cols = doc.success.shape
            self.cursor = (rows // 2, cols // 2)
        self._show_spectrum()
        ok = float(np.mean(doc.success))
        error = np.nanmedian(doc.field_parallel_error[doc.success]) if doc.success.any() \
            else np.nan
        self.status.setText(
            f"after sweep {doc.index + 1} ({doc.n_sweeps} averaged): "
            f"{doc.success.shape[0]}×{doc.success.shape[1]} map, bin {doc.binning}; "
            f"{100 * ok:.0f} % of pixels fitted, median σ {error * 1e6:.1f} µT; "
            f"fit {doc.fit_seconds:.2f} s")

    # -- the cursor -----------------------------------------------------------------------

    def set_cursor(self, row: int, column: int) -> None:
        """Show the spectrum of map pixel (row, column)."""
        if self.last_map is None:
            return
        rows, cols = self.last_map.success.shape
        if 0 <= row < rows and 0 <= column < cols:
            self.cursor = (int(row), int(column))
            self._show_spectrum()

    def _mouse_moved(self, position: QPointF) -> None:
        if self.last_map is None:
            return
        point = self.field_image.mapFromScene(position)
        self.set_cursor(int(np.floor(point.y())), int(np.floor(point.x())))

    def _show_spectrum(self) -> None:
        doc = self.last_map
        if doc is None or self.cursor is None:
            return
        row, col = self.cursor
        f = np.asarray(doc.frequencies, float)
        self.data_curve.setData(f, np.asarray(doc.spectra[row, col], float))
        curve = np.asarray(doc.curves[row, col], float)
        if np.all(np.isfinite(curve)):
            self.fit_curve.setData(f, curve)
        else:
            self.fit_curve.setData([], [])
        self.marker.setData([col + 0.5], [row + 0.5])
        value = doc.field_parallel[row, col]
        text = (f"B∥ = {value * 1e3:.4f} ± {doc.field_parallel_error[row, col] * 1e6:.1f} µT"
                if doc.success[row, col] else "fit failed")
        self.spectrum.setTitle(f"map pixel ({row}, {col}): {text}")


def finished_lines(event: RunFinished) -> list[str]:
    """What the panel shows of a run's end document (a replayed run): status, sweeps,
    frames, dropped frames, drift, the file and the warnings, from its stored results."""
    results = event.results or {}
    head = f"run {event.run_id}: {event.status}"
    if event.reason:
        head += f" ({event.reason})"
    dy, dx = (float(results.get(k, np.nan)) for k in ("drift_y", "drift_x"))
    drift = (f"drift {dy:+.2f}, {dx:+.2f} px" if np.isfinite(dy) and np.isfinite(dx)
             else "drift: not registered")
    warnings = [w for w in str(event.attrs.get("warnings") or "").split("; ") if w]
    return [head,
            f"{results.get('sweeps', 0)} sweeps, {results.get('frames', 0)} frames, "
            f"{results.get('dropped_frames', 0)} dropped ({results.get('remeasured_frames', 0)}"
            f" measured again, {results.get('marked_points', 0)} points marked)",
            drift, *warnings, f"file: {event.file}"]


def result_lines(result: Any) -> list[str]:
    """What the panel shows of a finished widefield run: status, sweeps, frames, dropped
    frames, drift, the file and the warnings."""
    head = f"run {result.run_id}: {result.status}"
    if result.reason:
        head += f" ({result.reason})"
    dy, dx = result.drift_px
    drift = (f"drift {dy:+.2f}, {dx:+.2f} px" if np.isfinite(dy) and np.isfinite(dx)
             else "drift: not registered")
    return [head,
            f"{result.sweeps}/{result.settings.sweeps} sweeps, {result.frames} frames, "
            f"{result.dropped_frames} dropped ({result.remeasured_frames} measured again, "
            f"{result.marked_points} points marked)",
            drift, *result.warnings, f"file: {result.file}"]
