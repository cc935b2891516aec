"""The widefield ODMR measurement: camera frames, frame-synchronised sweeps, a streaming cube
and a live field map, on the common run lifecycle.

>>> from nvsense.instruments import load_bench
>>> from nvsense.measure.widefield import WidefieldSettings, run_widefield
>>> with load_bench("bench.yaml") as bench:                          # doctest: +SKIP
...     result = run_widefield(bench, {"range": "2.79GHz:2.95GHz:101", "sweeps": 10},
...                            out="wire.nc")
>>> result.summary()["dropped_frames"]                               # doctest: +SKIP

The kind (:class:`~.measurement.WidefieldMeasurement`) is its check, its variables and its
loop; the lifecycle (:mod:`nvsense.measure.lifecycle`) checks the settings before anything is
sent, creates the run file (:class:`~.run_file.WidefieldFileWriter`: a streaming cube that
``nvsense widefield fit`` reads unchanged, catalogued like every run), leaves the bench safe
(RF off, laser off or standby, camera stopped) whatever happens and closes the file with its
status.  Each sweep is in the file, flushed, before it is published, so a crash or a stop keeps
every completed sweep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..control import RunControl
from ..documents import Event
from ..lifecycle import execute, run_md
from .live_map import LiveMapProcessor, fitted_curves, live_binning
from .measurement import KIND, WidefieldMeasurement, check_widefield
from .result import JSON_KEYS, WidefieldResult
from .run_file import WidefieldFileWriter
from .settings import DEFAULT_WIDEFIELD_RANGE, LIVE_MAP_PIXELS, PARAMETER_UNITS, WidefieldSettings

__all__ = ["DEFAULT_WIDEFIELD_RANGE", "JSON_KEYS", "KIND", "LIVE_MAP_PIXELS", "PARAMETER_UNITS",
           "LiveMapProcessor", "WidefieldFileWriter", "WidefieldMeasurement", "WidefieldResult",
           "WidefieldSettings", "check_widefield", "fitted_curves", "live_binning",
           "run_widefield"]


def run_widefield(
    bench: Any,
    settings: WidefieldSettings | Mapping[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    catalog: Any = None,
    subscribers: Iterable[Callable[[Event], None]] = (),
    control: RunControl | None = None,
    campaign: str | None = None,
    campaign_point: int | None = None,
    md: Mapping[str, Any] | None = None,
) -> WidefieldResult:
    """Record a widefield ODMR run on ``bench`` (which needs a camera and a list-capable
    microwave source) and return the result.

    Parameters
    ----------
    bench
        A :class:`nvsense.instruments.Bench`; connected here if it is not already.
    settings
        :class:`WidefieldSettings` or a mapping of them (quantities with units accepted).
    out
        The run file (``.nc``, must not exist); default: a new file in the data folder.  It is
        catalogued in the data folder's catalogue either way.
    data_dir, catalog, subscribers, control, campaign, campaign_point, md
        As for :func:`nvsense.measure.run_odmr`.

    Raises
    ------
    SettingsError, LimitError
        Before anything is sent to an instrument.
    """
    if not isinstance(settings, WidefieldSettings):
        settings = WidefieldSettings.parse(dict(settings or {}))
    measurement = WidefieldMeasurement(settings, out=out)
    outcome = execute(measurement, bench, catalog=catalog, data_dir=data_dir,
                      subscribers=subscribers, control=control,
                      md=run_md(md, campaign, campaign_point))
    return measurement.result(outcome)
