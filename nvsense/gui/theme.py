"""Light and dark plot themes (the window's View menu switches between them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyqtgraph as pg

__all__ = ["DARK", "LIGHT", "PlotTheme", "apply_theme"]


@dataclass(frozen=True)
class PlotTheme:
    """Colours of the plots: background, axes and text, and the data pens."""

    name: str
    background: str
    foreground: str
    sweep: str  # the latest raw sweep
    average: str  # the running average / the B(t) trace
    fit: str  # fit curves
    floor: str  # the shot-noise floor
    grid_alpha: float = 0.25


LIGHT = PlotTheme("light", background="w", foreground="#202020", sweep="#9a9a9a",
                  average="#1f5fbf", fit="#d62728", floor="#2ca02c")
DARK = PlotTheme("dark", background="#111318", foreground="#d8d8d8", sweep="#6c6c6c",
                 average="#58a6ff", fit="#ff7b72", floor="#56d364")


def apply_theme(widgets: Iterable[pg.GraphicsView | pg.PlotWidget], theme: PlotTheme) -> None:
    """Set background, axis and label colours of plot widgets (curves keep their pens: the
    panels re-create them from the theme)."""
    for widget in widgets:
        widget.setBackground(theme.background)
        for item in _plot_items(widget):
            for name in ("left", "bottom", "right", "top"):
                axis = item.getAxis(name)
                axis.setPen(theme.foreground)
                axis.setTextPen(theme.foreground)
            item.titleLabel.setAttr("color", theme.foreground)
            item.titleLabel.setText(item.titleLabel.text)


def _plot_items(widget: pg.GraphicsView) -> list[pg.PlotItem]:
    if isinstance(widget, pg.PlotWidget):
        return [widget.getPlotItem()]
    if isinstance(widget, pg.GraphicsLayoutWidget):
        return [i for i in widget.ci.items if isinstance(i, pg.PlotItem)]
    return []
