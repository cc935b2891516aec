"""Settings forms: labelled fields that read as the CLI's text, remember themselves in
QSettings, and show which field an error message is about."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

__all__ = ["ErrorBanner", "FieldSpec", "SettingsForm", "limit_fields"]

_ERROR_STYLE = "border: 2px solid #d62728;"
_BANNER_STYLE = ("QLabel { background: #fde8e8; color: #8b0000; border: 1px solid #d62728;"
                 " border-radius: 3px; padding: 4px; }")
_NOTE_STYLE = ("QLabel { background: #e8f0fd; color: #10305e; border: 1px solid #4a78c2;"
               " border-radius: 3px; padding: 4px; }")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a settings form.

    ``kind`` is ``"text"`` (a line edit holding a quantity with its unit, as on the command
    line), ``"choice"`` (a combo box of ``choices``) or ``"check"`` (a check box; ``default``
    "true"/"false").
    """

    key: str
    label: str
    default: str = ""
    kind: str = "text"
    choices: Sequence[str] = ()
    tip: str = ""
    placeholder: str = ""


def limit_fields(error: Any, fields: Mapping[str, Sequence[str]]) -> list[str]:
    """Form fields a :class:`~nvsense.instruments.LimitError` is about, from its ``quantity``
    (never from its text): ``fields`` maps each quantity (``"frequency"``, ``"mw_power"``,
    ...) to the form fields that set it; a quantity the form does not set marks nothing."""
    return list(fields.get(str(getattr(error, "quantity", None)), ()))


class ErrorBanner(QLabel):
    """A red message under a form or panel; hidden while there is nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet(_BANNER_STYLE)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def show_error(self, text: str) -> None:
        self.setStyleSheet(_BANNER_STYLE)
        self.setText(text)
        self.setVisible(bool(text))

    def show_note(self, text: str) -> None:
        """A neutral (blue) notice, e.g. a run stopped by the user."""
        self.setStyleSheet(_NOTE_STYLE)
        self.setText(text)
        self.setVisible(bool(text))

    def clear(self) -> None:  # type: ignore[override]
        self.setText("")
        self.hide()


class SettingsForm(QWidget):
    """A form of :class:`FieldSpec` fields.

    Signals
    -------
    edited
        A field was changed by the user (editing finished, choice or box changed).
    """

    edited = Signal()

    def __init__(self, specs: Iterable[FieldSpec], group: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = group
        self.specs = {s.key: s for s in specs}
        self.fields: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for spec in self.specs.values():
            widget = self._make(spec)
            widget.setObjectName(f"{group}.{spec.key}")
            widget.setToolTip(spec.tip)
            label = QLabel(spec.label)
            label.setToolTip(spec.tip)
            self.fields[spec.key] = widget
            self.labels[spec.key] = label
            layout.addRow(label, widget)
        self.set_values({s.key: s.default for s in self.specs.values()})

    def _make(self, spec: FieldSpec) -> QWidget:
        if spec.kind == "choice":
            box = QComboBox()
            box.addItems(list(spec.choices))
            box.currentIndexChanged.connect(lambda _i: self.edited.emit())
            return box
        if spec.kind == "check":
            check = QCheckBox()
            check.toggled.connect(lambda _b: self.edited.emit())
            return check
        edit = QLineEdit()
        edit.setPlaceholderText(spec.placeholder)
        edit.editingFinished.connect(self.edited.emit)
        return edit

    # -- values -----------------------------------------------------------------------------

    def value(self, key: str) -> str:
        """The field's text (a check box gives "true"/"false")."""
        widget = self.fields[key]
        if isinstance(widget, QComboBox):
            return widget.currentText()
        if isinstance(widget, QCheckBox):
            return "true" if widget.isChecked() else "false"
        assert isinstance(widget, QLineEdit)
        return widget.text().strip()

    def values(self) -> dict[str, str]:
        return {key: self.value(key) for key in self.fields}

    def set_value(self, key: str, text: str) -> None:
        widget = self.fields[key]
        if isinstance(widget, QComboBox):
            index = widget.findText(str(text))
            if index >= 0:
                widget.setCurrentIndex(index)
        elif isinstance(widget, QCheckBox):
            widget.setChecked(str(text).lower() in ("true", "1", "yes"))
        else:
            assert isinstance(widget, QLineEdit)
            widget.setText(str(text))

    def set_values(self, values: dict[str, str]) -> None:
        for key, text in values.items():
            if key in self.fields:
                self.set_value(key, text)

    def set_hint(self, key: str, hint: str) -> None:
        """Extra text for a field's tool tip and placeholder (e.g. the bench's limit)."""
        spec = self.specs[key]
        widget = self.fields[key]
        widget.setToolTip(f"{spec.tip}\n{hint}".strip())
        if isinstance(widget, QLineEdit):
            widget.setPlaceholderText(hint if not spec.placeholder else spec.placeholder)

    # -- persistence ------------------------------------------------------------------------

    def save(self, store: QSettings) -> None:
        for key in self.fields:
            store.setValue(f"{self.group}/{key}", self.value(key))

    def restore(self, store: QSettings) -> None:
        for key in self.fields:
            value = store.value(f"{self.group}/{key}")
            if value is not None:
                self.set_value(key, str(value))

    # -- errors -----------------------------------------------------------------------------

    def mark_errors(self, keys: Iterable[str]) -> None:
        """Outline the fields an error is about (and clear the others)."""
        bad = set(keys)
        for key, widget in self.fields.items():
            widget.setStyleSheet(_ERROR_STYLE if key in bad else "")

    def marked(self) -> list[str]:
        """Keys of the fields outlined as wrong."""
        return [k for k, w in self.fields.items() if w.styleSheet() == _ERROR_STYLE]
