"""The CW-ODMR measurement: sweep, fit every sweep as it arrives, report the field, keep every
sample on disk.

>>> from nvsense.instruments import load_bench
>>> from nvsense.measure import OdmrSettings, run_odmr
>>> with load_bench() as bench:                                  # doctest: +SKIP
...     result = run_odmr(bench, OdmrSettings(sweeps=10), data_dir="nvsense-data")
>>> result.final.field                                          # doctest: +SKIP

The kind itself (:class:`~nvsense.measure.odmr.measurement.OdmrMeasurement`) is its check, its
variables and its loop; the run lifecycle (:mod:`nvsense.measure.lifecycle`) checks the
settings, creates the run file, leaves the bench safe (RF off, laser off or standby) whatever
happens and closes the file with its status before :func:`run_odmr` returns or raises.  Each
sweep is written to the file (and flushed) before it is published, so a crash at any moment
keeps every completed sweep.  The live fit is a processor in the measurement thread
(:mod:`~nvsense.measure.odmr.live_fit`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..bench_defaults import odmr_settings_for
from ..control import RunControl
from ..documents import Event
from ..lifecycle import execute, run_md
from ..settings import OdmrSettings
from .measurement import DETECT_SWEEPS, PARAMETER_UNITS, OdmrMeasurement, check_odmr
from .result import OdmrResult

__all__ = ["DETECT_SWEEPS", "PARAMETER_UNITS", "OdmrMeasurement", "OdmrResult", "check_odmr",
           "run_odmr"]


def run_odmr(
    bench: Any,
    settings: OdmrSettings | Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    catalog: Any = None,
    subscribers: Iterable[Callable[[Event], None]] = (),
    control: RunControl | None = None,
    campaign: str | None = None,
    campaign_point: int | None = None,
    md: Mapping[str, Any] | None = None,
) -> OdmrResult:
    """Measure CW-ODMR on ``bench`` and return the result.

    Parameters
    ----------
    bench
        A :class:`nvsense.instruments.Bench`; connected here if it is not already (and then
        closed at the end).
    settings
        :class:`OdmrSettings` or a mapping of them (quantities with units accepted); settings
        a mapping leaves out come from the bench file's ``defaults.odmr``, if any, else from
        :class:`OdmrSettings`.
    data_dir, catalog
        Where the run file and its catalogue row go (``catalog`` wins; default data folder:
        see :func:`nvsense.storage.resolve_data_dir`).
    subscribers
        Called with every document in the measurement thread; wrap slow ones (a GUI) in
        :class:`nvsense.measure.events.Mailbox` so the measurement never waits on them.
    control
        Lets another thread (or a Ctrl-C handler) stop the run after the current sweep.
    campaign, campaign_point
        Recorded in the run file and the catalogue for campaign runs (the same as
        ``md={"campaign": ..., "campaign_point": ...}``).
    md
        Metadata recorded with the run (see :func:`nvsense.measure.lifecycle.execute`).

    Raises
    ------
    SettingsError, LimitError
        Invalid settings or settings outside the instrument's or the bench's limits (also
        the counter's bin times and the source's list length the run needs); raised before
        anything is sent to an instrument.
    """
    if not isinstance(settings, OdmrSettings):  # what is not given: the bench file's defaults
        settings = odmr_settings_for(bench, settings)
    measurement = OdmrMeasurement(settings)
    outcome = execute(measurement, bench, catalog=catalog, data_dir=data_dir,
                      subscribers=subscribers, control=control,
                      md=run_md(md, campaign, campaign_point))
    return measurement.result(outcome)

