"""Fixtures of the window tests: the real MainWindow on a simulated bench in fast pace, with
its settings and data folder in the test's temporary folder."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from nvsense.gui.main_window import MainWindow

sys.path.insert(0, str(Path(__file__).parent))  # gui_helpers.py


@pytest.fixture(autouse=True)
def _garbage_collected_in_the_gui_thread() -> Iterator[None]:
    """As the application does (nvsense.gui.garbage): no cyclic collection while a test runs,
    so no measurement thread destroys a Qt object of an earlier test (a deadlock on Qt's mutex
    and the GIL); what is left is collected here, in the GUI thread."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


@pytest.fixture
def store(tmp_path: Path) -> QSettings:
    """Window settings in an INI file of the test (never the user's)."""
    return QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path, store: QSettings
                ) -> Iterator[Callable[..., MainWindow]]:
    """Build shown windows; at the end any run is stopped and the bench closed."""
    windows: list[MainWindow] = []

    def make(bench: Any = None, **kwargs: Any) -> MainWindow:
        kwargs.setdefault("pace", "fast")
        kwargs.setdefault("data_dir", tmp_path / "data")
        kwargs.setdefault("settings", store)
        window = MainWindow(bench, **kwargs)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown(timeout=60)
