"""Checks of a planned run against what the counter and the microwave list accept, before
anything is sent.

``Bench.check_settings`` checks frequencies and powers against the instruments' and the
bench's limits; this module adds what follows from the *plan* of a run: every acquisition the
run will configure (number of bins and bin time: the ODMR dwell, the tracking dither bins that
``rate`` and ``dither_periods`` give, the initial and calibration sweeps) and every frequency
list it will load.  Without it, ``nvsense odmr --dwell 1ns`` or ``nvsense track --rate 1e-30``
failed only once the run had started, on the counter's own check.

The limits come from the driver: a ``bin_time_limits`` (s, s) / ``max_bins`` /
``max_list_points`` attribute when it has one, else the ``MIN_BIN_TIME`` / ``MAX_BIN_TIME`` /
``MAX_BINS`` / ``MAX_LIST_POINTS`` constants of its module (the simulated instruments and the
NI driver define those).  An instrument that states no limit is not checked here; its own
check then still refuses the value before sending it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

from ..instruments.errors import LimitError
from ..units import format_quantity

__all__ = ["bin_time_limits", "check_acquisition", "check_list", "check_plan",
           "check_track_plan", "list_capacity", "max_bins"]

#: Points of each fine calibration sweep of the tracking magnetometer, over ±(4 FWHM +
#: hyperfine span) around the line.
CALIBRATION_POINTS = 81


def _inner(instrument: Any) -> Any:
    """The bare driver behind a bench's limit guard."""
    return getattr(instrument, "inner", instrument)


def _module_constant(instrument: Any, name: str) -> Any:
    module = sys.modules.get(type(instrument).__module__)
    return getattr(module, name, None)


def _name(instrument: Any, default: str) -> str:
    name = getattr(instrument, "name", None)
    return name if isinstance(name, str) and name else default


def bin_time_limits(counter: Any) -> tuple[float, float] | None:
    """Shortest and longest bin (s) the counter accepts, or None if it does not say."""
    inner = _inner(counter)
    limits = getattr(inner, "bin_time_limits", None)
    if limits is None:
        low = _module_constant(inner, "MIN_BIN_TIME")
        high = _module_constant(inner, "MAX_BIN_TIME")
        if low is None or high is None:
            return None
        limits = (low, high)
    return float(limits[0]), float(limits[1])


def max_bins(counter: Any) -> int | None:
    """Most bins of one acquisition, or None if the counter does not say."""
    inner = _inner(counter)
    value = getattr(inner, "max_bins", None)
    if value is None:
        value = _module_constant(inner, "MAX_BINS")
    return None if value is None else int(value)


def list_capacity(mw: Any) -> int | None:
    """Most entries of the microwave source's frequency list, or None if it does not say."""
    inner = _inner(mw)
    value = getattr(inner, "max_list_points", None)
    if value is None:
        value = _module_constant(inner, "MAX_LIST_POINTS")
    return None if value is None else int(value)


def _quantity(value: float, unit: str) -> str:
    """``value`` with an engineering prefix where one fits, else in plain exponent form."""
    if math.isfinite(value) and (value == 0 or 1e-12 <= abs(value) < 1e12):
        return format_quantity(value, unit, 4)
    return f"{value:.3g} {unit}"


def check_acquisition(counter: Any, n_bins: int, bin_time: float, what: str) -> None:
    """Raise :class:`LimitError` unless the counter accepts ``n_bins`` bins of ``bin_time``.

    ``what`` names where the bin time comes from, for the message: the setting itself
    (``"dwell"``: "dwell 1 ns is shorter than ...") or settings it follows from (``"rate
    1e-30 Hz with 10 dither period(s) of 1 line(s)"``: "... gives bins of ...").
    """
    who = _name(counter, "counter")
    subject = (f"{what} {_quantity(bin_time, 's')} is" if " " not in what
               else f"{what} gives bins of {_quantity(bin_time, 's')},")
    fields = {"quantity": "bin_time", "value": bin_time, "unit": "s", "source": "instrument",
              "instrument": who}
    if not (math.isfinite(bin_time) and bin_time > 0):
        raise LimitError(f"{who}: {subject} not a positive time; nothing was sent", **fields)
    limits = bin_time_limits(counter)
    if limits is not None:
        low, high = limits
        if not low <= bin_time <= high:
            side = "shorter than the shortest" if bin_time < low else "longer than the longest"
            raise LimitError(
                f"{who}: {subject} {side} bin the counter takes ({_quantity(low, 's')} to "
                f"{_quantity(high, 's')}); nothing was sent",
                limit=low if bin_time < low else high,
                bound="lower" if bin_time < low else "upper", **fields)
    most = max_bins(counter)
    if most is not None and n_bins > most:
        raise LimitError(f"{who}: {what} needs {n_bins} bins in one acquisition; the counter "
                         f"takes at most {most}; nothing was sent", quantity="n_bins",
                         value=n_bins, limit=most, unit="", bound="upper",
                         source="instrument", instrument=who)


def check_list(mw: Any, n_points: int, what: str) -> None:
    """Raise :class:`LimitError` unless the source's list holds ``n_points`` entries."""
    capacity = list_capacity(mw)
    if capacity is not None and n_points > capacity:
        who = _name(mw, "mw")
        raise LimitError(f"{who}: {what} needs a frequency list of {n_points} "
                         f"points; this source holds at most {capacity}. Use fewer points, or "
                         "mode 'stepped'; nothing was sent", quantity="list_points",
                         value=n_points, limit=capacity, unit="", bound="upper",
                         source="instrument", instrument=who)


def check_plan(bench: Any, mode: str, sweeps: Sequence[int], dwell: float,
               what: str = "dwell") -> None:
    """Check the acquisitions and lists of sweeps of ``sweeps`` points each, with ``dwell``
    per point, in sweep ``mode`` (``"list"``: one acquisition and one list per sweep;
    ``"stepped"``: one bin per acquisition).

    Raises
    ------
    LimitError
        Naming the setting (``what``), the value and the limit.
    """
    for points in sweeps:
        if mode == "list":
            check_list(bench.mw, int(points), f"a sweep of {int(points)} points")
            check_acquisition(bench.counter, int(points), float(dwell), what)
        else:
            check_acquisition(bench.counter, 1, float(dwell), what)


def check_track_plan(bench: Any, settings: Any, survey: Any, mode: str) -> None:
    """Check every acquisition and list of a tracking run: the initial sweep, the fine
    calibration sweeps and the dither of the lock, in sweep ``mode`` (``"list"`` or
    ``"stepped"``, as :meth:`nvsense.instruments.Bench.sweep_mode` decided).

    Raises
    ------
    LimitError
        Naming the setting, the value and the limit.
    """
    sweeps = [int(survey.points)]
    if settings.calibration_time > 0:
        sweeps.append(CALIBRATION_POINTS)
    check_plan(bench, mode, sweeps, settings.sweep_dwell, "sweep_dwell")
    n_lines = len(settings.locked_lines)
    bins = 2 * n_lines * int(settings.dither_periods) + 1
    bin_time = 1.0 / (float(settings.rate) * bins)
    what = (f"rate {_quantity(settings.rate, 'Hz')} with {settings.dither_periods} dither "
            f"period(s) of {n_lines} line(s)")
    if mode == "list":
        check_list(bench.mw, bins, what)
        check_acquisition(bench.counter, bins, bin_time, what)
    else:
        check_acquisition(bench.counter, int(settings.dither_periods), bin_time, what)
