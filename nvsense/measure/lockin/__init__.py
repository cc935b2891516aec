"""The lock-in tracking magnetometer: photodiode detection with frequency modulation, a
software lock-in, reference-beam subtraction against laser noise, and a closed loop that keeps
the line centred — optionally on both lines of an axis (dual resonance), on the three ¹⁴N
hyperfine lines, and with two sensors (a gradiometer).

>>> from nvsense.instruments import load_bench
>>> from nvsense.measure.lockin import LockinTrackSettings, run_lockin_track
>>> with load_bench() as bench:                                   # doctest: +SKIP
...     result = run_lockin_track(bench, LockinTrackSettings(duration=2.0))
>>> result.summary["noise_floor_t_per_rthz"]                     # doctest: +SKIP

The kind (:class:`~nvsense.measure.lockin.measurement.LockinTracking`) runs inside the one
run lifecycle (:mod:`nvsense.measure.lifecycle`): a coarse sweep finds the lines, lock-in
sweeps calibrate the derivative slope (Lorentzian-derivative fit) and the modulation depth
(slope over noise), then the run file is created and every block is recorded — the
demodulated signal and reference photodiodes and their subtraction, each sensor's field and the
gradient — as the loop follows the line.  Whatever happens the FM drive and the acquisition are
stopped and the bench is left safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..control import RunControl
from ..documents import Event
from ..lifecycle import execute, run_md
from .measurement import LockinTracking, check_lockin_track
from .result import LockinTrackResult
from .settings import PARAMETER_UNITS, LockinTrackSettings

__all__ = ["PARAMETER_UNITS", "LockinTrackResult", "LockinTrackSettings", "LockinTracking",
           "check_lockin_track", "run_lockin_track"]


def run_lockin_track(
    bench: Any,
    settings: LockinTrackSettings | Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    catalog: Any = None,
    subscribers: Iterable[Callable[[Event], None]] = (),
    control: RunControl | None = None,
    md: Mapping[str, Any] | None = None,
) -> LockinTrackResult:
    """Track a line by photodiode lock-in detection on ``bench`` and return the result.

    Parameters
    ----------
    bench
        A :class:`nvsense.instruments.Bench` with ``analog_input`` and ``fm_drive`` (the
        simulated bench has both); connected here if it is not already.
    settings
        :class:`LockinTrackSettings` or a mapping of them (quantities with units accepted).
    data_dir, catalog, subscribers, control, md
        As for :func:`nvsense.measure.lifecycle.execute`.

    Raises
    ------
    SettingsError, LimitError
        Invalid settings, or settings outside the instruments' or the bench's limits; raised
        before anything is sent.
    """
    if not isinstance(settings, LockinTrackSettings):
        from ..settings import SettingsError, format_validation_error

        try:
            settings = LockinTrackSettings.model_validate(dict(settings or {}))
        except ValueError as exc:
            if hasattr(exc, "errors"):
                raise SettingsError(format_validation_error(exc, "lock-in tracking")) from None
            raise SettingsError(str(exc)) from None
    measurement = LockinTracking(settings)
    outcome = execute(measurement, bench, catalog=catalog, data_dir=data_dir,
                      subscribers=subscribers, control=control, md=run_md(md))
    return measurement.result(outcome)
