"""The data panel: data folder, the current run's file, and recent runs from the catalogue."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..measure.resonance import RESONANCE_KEY
from ..storage import Catalog, resolve_data_dir
from .forms import ErrorBanner

__all__ = ["DataPanel", "run_summary"]

log = logging.getLogger(__name__)

#: Runs listed in the recent-runs table.
RECENT_RUNS = 25
COLUMNS = ("run", "kind", "status", "records", "result", "note")


def run_summary(row: dict[str, Any]) -> str:
    """A short key result of a catalogue row: the field and D, or the noise floor; "no
    resonance" for a run that measured none."""
    def ok(key: str) -> bool:
        value = row.get(key)
        return value is not None and isinstance(value, float | int) and math.isfinite(value)

    if ok("field_x") and ok("field_y") and ok("field_z"):
        b = math.sqrt(sum(row[k] ** 2 for k in ("field_x", "field_y", "field_z")))
        text = f"|B| = {b * 1e3:.4f} mT"
    elif ok("field_parallel"):
        text = f"B∥ = {row['field_parallel'] * 1e3:.4f} mT"
    else:
        text = ""
    if ok("D"):
        text += f"  D = {row['D'] / 1e6:.3f} MHz"
    results = row.get("results") or {}
    if isinstance(results, dict) and results.get(RESONANCE_KEY) is False:
        return "no resonance"  # its fitted "field" is noise
    floor = results.get("noise_floor_t_per_rthz") if isinstance(results, dict) else None
    if isinstance(floor, float | int) and math.isfinite(floor):
        text += f"  {floor * 1e9:.2f} nT/√Hz"
    return text.strip()


class DataPanel(QWidget):
    """Where runs go and what is already there.

    Signals
    -------
    data_dir_changed(str)
    replay_requested(str)
        *Replay* was pressed with a run selected: its file.
    """

    data_dir_changed = Signal(str)
    replay_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dir_edit = QLineEdit()
        self.dir_edit.setObjectName("data.dir")
        self.dir_edit.setToolTip("Data folder: run files and the run catalogue "
                                 "(default $NVSENSE_DATA_DIR or ./nvsense-data).")
        self.dir_edit.editingFinished.connect(self._dir_entered)
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose)
        self.open_button = QPushButton("Open data folder")
        self.open_button.clicked.connect(self.open_data_folder)
        self.run_file = QLineEdit()
        self.run_file.setObjectName("data.run_file")
        self.run_file.setReadOnly(True)
        self.run_file.setPlaceholderText("the run file appears here when a run starts")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setToolTip("Double-click a run to open its folder.")
        self.table.cellDoubleClicked.connect(self._open_run_folder)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.replay_button = QPushButton("Replay")
        self.replay_button.setObjectName("data.replay")
        self.replay_button.setToolTip("Show the selected run (ODMR, tracking or widefield) in "
                                      "its tab as if it were live; nothing is sent to the "
                                      "bench.")
        self.replay_button.clicked.connect(self._replay_selected)
        self.banner = ErrorBanner()
        self._files: list[str] = []
        self._dir = resolve_data_dir(None)

        dir_row = QHBoxLayout()
        dir_row.addWidget(QLabel("Data folder"))
        dir_row.addWidget(self.dir_edit, 1)
        dir_row.addWidget(choose)
        file_row = QHBoxLayout()
        file_row.addWidget(QLabel("Run file"))
        file_row.addWidget(self.run_file, 1)
        runs_row = QHBoxLayout()
        runs_row.addWidget(QLabel("Recent runs"))
        runs_row.addStretch(1)
        runs_row.addWidget(refresh)
        runs_row.addWidget(self.replay_button)
        runs_row.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(dir_row)
        layout.addLayout(file_row)
        layout.addLayout(runs_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.banner)

    # -- folder -----------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._dir

    def set_data_dir(self, path: str | Path | None) -> None:
        self._dir = resolve_data_dir(path)
        self.dir_edit.setText(str(self._dir))
        self.refresh()

    def _dir_entered(self) -> None:
        text = self.dir_edit.text().strip()
        if resolve_data_dir(text) != self._dir:
            self.set_data_dir(text)
            self.data_dir_changed.emit(str(self._dir))

    def _choose(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Data folder", str(self._dir))
        if path:
            self.dir_edit.setText(path)
            self._dir_entered()

    def open_data_folder(self) -> bool:
        return self._open(self._dir)

    def _open_run_folder(self, row: int, _col: int) -> None:
        if 0 <= row < len(self._files):
            self._open(Path(self._files[row]).parent)

    def _replay_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        row = rows[0].row() if rows else self.table.currentRow()
        if not 0 <= row < len(self._files):
            self.banner.show_error("Select a run in the table to replay it.")
            return
        self.banner.clear()
        self.replay_requested.emit(self._files[row])

    def _open(self, path: Path) -> bool:
        if not path.exists():
            self.banner.show_error(f"{path} does not exist yet: it is made by the first run.")
            return False
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.banner.show_error(f"Could not open {path} (no file manager found); the path "
                                   "can be copied from the field above.")
            return False
        self.banner.clear()
        return True

    # -- runs -------------------------------------------------------------------------------

    def set_run_file(self, path: str | None) -> None:
        self.run_file.setText(path or "")

    def refresh(self) -> None:
        """Reload the recent runs from the catalogue (SQLite: quick enough for the GUI)."""
        try:
            rows = Catalog(self._dir).records(limit=RECENT_RUNS)
        except Exception as exc:  # a broken catalogue must not break the window
            self.banner.show_error(f"Could not read the run catalogue in {self._dir}: {exc}")
            return
        self.banner.clear()
        rows = list(reversed(rows))  # newest first
        self.table.setRowCount(len(rows))
        self._files = []
        for i, row in enumerate(rows):
            values = (row.get("id", ""), row.get("kind", ""), row.get("status", ""),
                      "" if row.get("n_records") is None else str(row["n_records"]),
                      run_summary(row), row.get("abort_reason") or "")
            for j, text in enumerate(values):
                item = QTableWidgetItem(str(text))
                item.setToolTip(str(row.get("file", "")))
                self.table.setItem(i, j, item)
            self._files.append(str(row.get("file", "")))

    def run_ids(self) -> list[str]:
        """Ids in the table, newest first."""
        return [self.table.item(i, 0).text() for i in range(self.table.rowCount())]
