"""The nvsense window (PySide6 + pyqtgraph): the only part of nvsense that imports Qt.

Start it with ``nvsense gui``, or from Python::

    from nvsense.gui.app import GuiOptions, run_gui
    run_gui(GuiOptions(bench="bench.yaml", start="odmr"))

Modules: :mod:`~nvsense.gui.main_window` (the window and its run control),
:mod:`~nvsense.gui.bridge` (events to coalesced Qt signals), :mod:`~nvsense.gui.worker`
(measurement threads), :mod:`~nvsense.gui.bench_session` (the window's bench), and one module
per panel.
"""

__all__ = ["MainWindow"]


def __getattr__(name: str) -> object:
    # importing nvsense.gui must not start Qt; the window class is loaded on first use
    if name == "MainWindow":
        from .main_window import MainWindow

        return MainWindow
    raise AttributeError(name)
