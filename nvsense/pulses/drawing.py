"""A picture of a pulse program: channels as rows, one shot at one sweep point.

:func:`draw_program` draws the shot with its repeats shown once under a "× N" bracket, the
blocks that depend on the sweep shaded and labelled with the swept parameter, microwave pulses
coloured and labelled by phase (x, y, −x, −y), readout windows labelled, and every block's
length written under it.  The default time axis is compressed (a block's width grows as the
square root of its length) so that 50 ns pulses stay visible next to 100 µs waits; pass
``time_axis="linear"`` for true time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .program import PulseProgram, ResolvedBlock, ResolvedRepeat, is_digital_channel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["draw_program", "layout_program"]

#: Row order of the known channels (spares follow).
ROW_ORDER = ("laser", "mw", "gate", "trigger")
_PHASE_NAMES = {0.0: "x", 90.0: "y", 180.0: "−x", 270.0: "−y"}
_PHASE_COLOURS = {0.0: "#1f77b4", 90.0: "#ff7f0e", 180.0: "#2ca02c", 270.0: "#d62728"}
_CHANNEL_COLOURS = {"laser": "#2ca02c", "gate": "#9467bd", "trigger": "#7f7f7f"}


@dataclass(frozen=True)
class Segment:
    """A block placed on the drawing's x axis."""

    x: float
    width: float
    block: ResolvedBlock


@dataclass(frozen=True)
class Bracket:
    """A repeat: its body spans [x0, x1] and plays ``count`` times."""

    x0: float
    x1: float
    count: int
    name: str
    depth: int


def _fmt_ns(ns: float) -> str:
    if ns < 1000:
        return f"{ns:g} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.4g} µs"
    return f"{ns / 1e6:.4g} ms"


def _fmt_value(program: PulseProgram, value: float) -> str:
    unit = program.sweep.unit if program.sweep is not None else ""
    if unit == "s":
        return _fmt_ns(value * 1e9)
    if unit == "Hz":
        return f"{value / 1e6:.6g} MHz"
    if unit == "deg":
        return f"{value:g}°"
    return f"{value:g}"


def layout_program(program: PulseProgram, point: int, *, time_axis: str = "compressed"
                   ) -> tuple[list[Segment], list[Bracket], float]:
    """Place the blocks of the shot at ``point`` on the x axis.

    Returns the segments, the repeat brackets and the total width.  With
    ``time_axis="linear"`` x is in µs and a repeat's body is drawn once (so x is the time of
    the first pass through each repeat); with ``"compressed"`` widths are √(ns).
    """
    if time_axis not in ("compressed", "linear"):
        raise ValueError(f"time_axis must be 'compressed' or 'linear', not {time_axis!r}")

    def width(ns: int) -> float:
        return ns / 1e3 if time_axis == "linear" else max(ns, 1) ** 0.5

    segments: list[Segment] = []
    brackets: list[Bracket] = []

    def place(elements: Sequence[ResolvedBlock | ResolvedRepeat], x: float, depth: int) -> float:
        for el in elements:
            if isinstance(el, ResolvedRepeat):
                x0 = x
                x = place(el.body, x, depth + 1)
                brackets.append(Bracket(x0, x, el.count, el.name, depth))
            elif el.duration_ns > 0:
                w = width(el.duration_ns)
                segments.append(Segment(x, w, el))
                x += w
        return x

    total = place(program.resolve(point), 0.0, 0)
    return segments, brackets, total


def draw_program(program: PulseProgram, ax: Axes | None = None, *, point: int | None = None,
                 time_axis: str = "compressed", title: str | None = None) -> Axes:
    """Draw one shot of ``program``: channels as rows, the swept parameter shown.

    Parameters
    ----------
    program
        The program.
    ax
        Axes to draw on; a new figure sized to the program if ``None``.
    point
        Sweep point to draw (default: the last, usually the longest shot).
    time_axis
        ``"compressed"`` (√-scaled widths, lengths written under the blocks) or ``"linear"``.
    title
        Title; by default the program's name, the swept value drawn and the sweep's range.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = program.n_points
    point = n - 1 if point is None else int(point)
    if not 0 <= point < n:
        raise IndexError(f"point {point} is outside 0..{n - 1}")
    segments, brackets, total = layout_program(program, point, time_axis=time_axis)
    present = set().union(*(s.block.on for s in segments)) if segments else set()
    rows = [c for c in ROW_ORDER if c in present]
    rows += sorted(c for c in present if c not in ROW_ORDER and is_digital_channel(c))
    if not rows:
        rows = ["laser"]
    if ax is None:
        width_in = min(16.0, max(8.0, 0.9 + len(segments) * 0.12))
        _fig, ax = plt.subplots(figsize=(width_in, 1.4 + 0.75 * len(rows)))
    y_of = {c: len(rows) - 1 - k for k, c in enumerate(rows)}
    height = 0.62
    sweep = program.sweep
    sweep_label = (sweep.label or sweep.name) if sweep is not None else ""

    label_end = [-float("inf")] * 3
    for seg in segments:
        b = seg.block
        if b.swept:  # shade what the sweep changes, across all rows
            ax.add_patch(Rectangle((seg.x, -0.45), seg.width, len(rows) - 0.1,
                                   facecolor="#fff3b0", edgecolor="none", zorder=0))
        for ch in b.on:
            if ch not in y_of:
                continue
            y = y_of[ch]
            colour = _CHANNEL_COLOURS.get(ch, "#8c564b")
            label = None
            if ch == "mw":
                ph = (b.phase or 0.0) % 360.0
                colour = _PHASE_COLOURS.get(round(ph, 6), "#17becf")
                label = _PHASE_NAMES.get(round(ph, 6), f"{ph:g}°")
            elif ch == "gate":
                label = b.readout
            ax.add_patch(Rectangle((seg.x, y - height / 2), seg.width, height,
                                   facecolor=colour, edgecolor="black", linewidth=0.4,
                                   zorder=2))
            if label:
                ax.text(seg.x + seg.width / 2, y + height / 2 + 0.04, label, ha="center",
                        va="bottom", fontsize=7, zorder=3)
        # the block's length (and how it depends on the sweep) under the bottom row,
        # staggered over three lines where neighbours would overlap
        text = _fmt_ns(b.duration_ns)
        if b.swept and b.formula:
            text = f"{b.formula}\n= {text}"
        chars = max(len(line) for line in text.split("\n"))
        need = 0.0085 * total * chars  # rough text width in data units
        if seg.width > 0.02 * total or b.swept:
            centre = seg.x + seg.width / 2
            level = next((k for k in range(3) if centre - need / 2 >= label_end[k]), None)
            if level is not None:
                ax.text(centre, -0.58 - 0.42 * level, text, ha="center", va="top",
                        fontsize=6, color="#444444", zorder=3)
                label_end[level] = centre + need / 2
    for br in brackets:
        y = len(rows) - 0.35 + 0.28 * br.depth
        ax.plot([br.x0, br.x0, br.x1, br.x1], [y - 0.08, y, y, y - 0.08], color="black",
                linewidth=0.9, zorder=3)
        ax.text((br.x0 + br.x1) / 2, y + 0.04, f"× {br.count}  ({br.name})", ha="center",
                va="bottom", fontsize=8, zorder=3)
    for y in y_of.values():
        ax.axhline(y - height / 2, color="#bbbbbb", linewidth=0.5, zorder=1)
    depth = max((br.depth + 1 for br in brackets), default=0)
    ax.set_xlim(-0.01 * total, 1.01 * total if total > 0 else 1.0)
    ax.set_ylim(-2.2, len(rows) - 0.2 + 0.3 * depth + 0.25)
    ax.set_yticks([y_of[c] for c in rows])
    ax.set_yticklabels(rows)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if time_axis == "linear":
        ax.set_xlabel("time (µs; repeats drawn once)")
    else:
        ax.set_xticks([])
        ax.set_xlabel("time (not to scale: widths ∝ √length; lengths written under blocks)")
    if title is None:
        title = program.name or program.protocol or "pulse program"
        if sweep is not None:
            lo, hi = min(sweep.values), max(sweep.values)
            title += (f" — {sweep_label} = {_fmt_value(program, sweep.values[point])} "
                      f"(point {point + 1} of {n}; swept {_fmt_value(program, lo)} to "
                      f"{_fmt_value(program, hi)}, shaded)")
        title += f"; shot {_fmt_ns(program.shot_duration_ns(point))}"
    ax.set_title(title, fontsize=9)
    return ax

