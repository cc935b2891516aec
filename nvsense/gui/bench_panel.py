"""The bench panel: which bench file, each instrument's identity and state, connect / check,
make safe, and the errors of instruments that failed."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
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

from .bench_session import InstrumentState, describe_safe_report
from .forms import ErrorBanner

__all__ = ["BenchPanel"]

_RED = QBrush(QColor("#c00000"))
_GREEN = QBrush(QColor("#1a7f37"))
_AMBER = QBrush(QColor("#b35900"))

COLUMNS = ("instrument", "driver", "identity", "state")


class BenchPanel(QWidget):
    """Bench file, instruments and their state.

    Signals
    -------
    load_requested(str)
        The user chose another bench file (blank: the built-in simulated bench).
    check_requested
        Connect / check: connect if needed and read identities and states.
    safe_requested
        Make safe: RF off, laser off or standby.
    """

    load_requested = Signal(str)
    check_requested = Signal()
    safe_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.file_edit = QLineEdit()
        self.file_edit.setObjectName("bench.file")
        self.file_edit.setPlaceholderText("built-in simulated bench")
        self.file_edit.setToolTip("Bench file (YAML) or a built-in bench name (simulated, "
                                  "single_nv); blank: the built-in simulated bench.")
        self.file_edit.editingFinished.connect(self._file_entered)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # identities can be long: elided (full text in the tool tip), the state gets the room
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(2, 130)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.check_button = QPushButton("Connect / check")
        self.check_button.setObjectName("bench.check")
        self.check_button.setToolTip("Connect the instruments if needed and read their "
                                     "identity and state.")
        self.safe_button = QPushButton("Make safe")
        self.safe_button.setToolTip("RF off, laser off (or standby), coil off.")
        self.check_button.clicked.connect(self.check_requested)
        self.safe_button.clicked.connect(self.safe_requested)
        self.banner = ErrorBanner()
        self.banner.setObjectName("bench.banner")
        self._loaded_text: str | None = None

        file_row = QHBoxLayout()
        file_row.addWidget(QLabel("Bench file"))
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(browse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.safe_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addWidget(self.label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.banner)

    # -- bench file -------------------------------------------------------------------------

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Bench file", self.file_edit.text(),
                                              "Bench files (*.yaml *.yml);;All files (*)")
        if path:
            self.file_edit.setText(path)
            self._file_entered()

    def _file_entered(self) -> None:
        text = self.file_edit.text().strip()
        if text != self._loaded_text:
            self.load_requested.emit(text)

    def set_loaded(self, text: str, label: str) -> None:
        """The bench of ``text`` (the file field's text) is loaded; ``label`` describes it."""
        self._loaded_text = text
        self.file_edit.setText(text)
        self.label.setText(label)

    def set_failed(self, text: str, error: str) -> None:
        """The bench of ``text`` could not be loaded (entering it again retries)."""
        self._loaded_text = None
        self.file_edit.setText(text)
        self.label.setText("no bench loaded")
        self.set_states([])
        self.show_error(error)

    # -- state ------------------------------------------------------------------------------

    def set_busy(self, busy: bool, run_going: bool = False) -> None:
        """Disable what would touch the instruments while a run or a bench task goes."""
        self.file_edit.setEnabled(not busy)
        self.check_button.setEnabled(not busy)
        self.safe_button.setEnabled(not busy)
        if run_going:
            self.label.setToolTip("States shown during a run come from the run's events; the "
                                  "instruments are not queried.")

    def set_states(self, states: list[InstrumentState]) -> None:
        """Show a row per instrument; failed ones in red, with the error in the banner."""
        self.table.setRowCount(len(states))
        errors = []
        for row, s in enumerate(states):
            state = s.error or s.state or ("connected" if s.connected else "not connected")
            for col, text in enumerate((s.slot, s.driver, s.identity, state)):
                self._set(row, col, text)
            colour = _RED if s.error else (_GREEN if s.connected else None)
            self._colour(row, 3, colour)
            if s.error:
                errors.append(s.error)
        self.table.resizeRowsToContents()
        if errors:
            self.banner.show_error("Instrument error: " + "; ".join(errors)
                                   + "\nFix the connection, then press Connect / check.")
        else:
            self.banner.clear()

    def show_run_state(self, slots_on: dict[str, str]) -> None:
        """During a run: what the run turned on (from its events, not from the instruments)."""
        for row in range(self.table.rowCount()):
            slot = self._text(row, 0)
            if slot in slots_on:
                self._set(row, 3, f"{slots_on[slot]} · run")
                self._colour(row, 3, _AMBER)

    def set_identities(self, identities: dict[str, str]) -> None:
        """Fill the identity column (a run reports its instruments' identities)."""
        for row in range(self.table.rowCount()):
            slot = self._text(row, 0)
            if slot in identities:
                self._set(row, 2, identities[slot])

    def show_safe_report(self, report: list[str] | tuple[str, ...]) -> None:
        """After a run: what making the bench safe did, failures in red."""
        described = describe_safe_report(report)
        failures = []
        for row in range(self.table.rowCount()):
            slot = self._text(row, 0)
            if slot in described:
                text, failed = described[slot]
                self._set(row, 3, text if failed else f"left safe: {text}")
                self._colour(row, 3, _RED if failed else _GREEN)
                if failed:
                    failures.append(f"{slot}: {text}")
        self.table.resizeRowsToContents()
        if failures:
            self.banner.show_error("Bench NOT fully safe — check these instruments by hand: "
                                   + "; ".join(failures))

    def state_text(self, slot: str) -> str:
        """The state shown for ``slot`` (for tests and the status bar)."""
        for row in range(self.table.rowCount()):
            if self._text(row, 0) == slot:
                return self._text(row, 3)
        return ""

    def show_error(self, text: str) -> None:
        self.banner.show_error(text)

    # -- cells ------------------------------------------------------------------------------

    def _set(self, row: int, col: int, text: str) -> None:
        item = self.table.item(row, col)
        if item is None:
            item = QTableWidgetItem()
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, col, item)
        item.setText(text)
        item.setToolTip(text)

    def _text(self, row: int, col: int) -> str:
        item = self.table.item(row, col)
        return item.text() if item is not None else ""

    def _colour(self, row: int, col: int, brush: QBrush | None) -> None:
        item = self.table.item(row, col)
        if item is not None:
            item.setForeground(brush if brush is not None else QBrush())
