"""The tracking magnetometer: lock onto NV resonances and report B(t) at a steady rate.

>>> from nvsense.instruments import load_bench
>>> from nvsense.measure import TrackSettings, run_track
>>> with load_bench() as bench:                                      # doctest: +SKIP
...     result = run_track(bench, TrackSettings(duration=10, both_lines=True))
>>> result.summary()["noise_floor_t_per_rthz"]                      # doctest: +SKIP

The kind itself (:class:`~nvsense.measure.tracking.measurement.TrackMeasurement`) is its
check, its variables and its loop (calibrate, then lock); the run lifecycle
(:mod:`nvsense.measure.lifecycle`) does the rest.  The package's modules, by concern:

- :mod:`~nvsense.measure.tracking.settings`: :class:`TrackSettings`;
- :mod:`~nvsense.measure.tracking.measurement`: the kind (check, variables, loop);
- :mod:`~nvsense.measure.tracking.lock_setup`: the sweeps and fits that set a lock up
  (initial sweep, fine sweeps, field model, noise budget);
- :mod:`~nvsense.measure.tracking.calibration`: line selection and each line's calibration
  (dither depth, slope, lock thresholds);
- :mod:`~nvsense.measure.tracking.budget`: the shot-noise budget and the loss detector's
  windows;
- :mod:`~nvsense.measure.tracking.dither`: the square-wave dither acquisitions (list or
  stepped);
- :mod:`~nvsense.measure.tracking.loop`: the PI lock loop and its loss detector;
- :mod:`~nvsense.measure.tracking.field`: locked frequencies to field with the exact
  Hamiltonian;
- :mod:`~nvsense.measure.tracking.noise`: the noise summary of the samples;
- :mod:`~nvsense.measure.tracking.file`: the run file's layout and attributes;
- :mod:`~nvsense.measure.tracking.result`: :class:`TrackCalibration`, :class:`TrackResult`.

Whatever happens — normal end, a stop request, Ctrl-C, an instrument fault, a bug — the bench
is made safe (RF off, laser off or standby) and the run file closed with its status before
:func:`run_track` returns or raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..control import RunControl
from ..documents import Event
from ..lifecycle import execute, run_md
from .measurement import CALIBRATION_POINTS, TrackMeasurement, calibration_record, check_track
from .noise import MIN_NOISE_SAMPLES, noise_band_for
from .result import TrackCalibration, TrackResult
from .settings import TrackSettings

__all__ = ["CALIBRATION_POINTS", "MIN_NOISE_SAMPLES", "TrackCalibration", "TrackMeasurement",
           "TrackResult", "TrackSettings", "calibration_record", "check_track",
           "noise_band_for", "run_track"]


def run_track(
    bench: Any,
    settings: TrackSettings | Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    catalog: Any = None,
    subscribers: Iterable[Callable[[Event], None]] = (),
    control: RunControl | None = None,
    campaign: str | None = None,
    campaign_point: int | None = None,
    md: Mapping[str, Any] | None = None,
) -> TrackResult:
    """Run the tracking magnetometer on ``bench`` and return the result.

    Parameters
    ----------
    bench
        A :class:`nvsense.instruments.Bench`; connected here if it is not already (and then
        closed at the end).
    settings
        :class:`TrackSettings` or a mapping of them (quantities with units accepted).
    data_dir, catalog
        Where the run file and its catalogue row go (``catalog`` wins).
    subscribers
        Called with every document in the measurement thread (RunStarted, one TrackingBlock
        per block of samples, RunFinished); wrap slow ones in
        :class:`nvsense.measure.events.Mailbox`.
    control
        Lets another thread (or a Ctrl-C handler) stop the run; honoured within one block
        (within the sweep, while re-acquiring).
    campaign, campaign_point
        Recorded in the run file and the catalogue for campaign runs (the same as
        ``md={"campaign": ..., "campaign_point": ...}``).
    md
        Metadata recorded with the run (see :func:`nvsense.measure.lifecycle.execute`).

    Returns
    -------
    TrackResult
        Also when the run was aborted (a stop, a lost lock, a failed calibration, an
        instrument fault): ``status``, ``reason`` and ``error`` say so.

    Raises
    ------
    SettingsError, LimitError
        Invalid settings or settings outside the instrument's or the bench's limits; raised
        before anything is sent to an instrument.
    """
    if not isinstance(settings, TrackSettings):
        settings = TrackSettings.parse(dict(settings or {}))
    measurement = TrackMeasurement(settings)
    outcome = execute(measurement, bench, catalog=catalog, data_dir=data_dir,
                      subscribers=subscribers, control=control,
                      md=run_md(md, campaign, campaign_point))
    return measurement.result(outcome)
