"""Pulsed measurements: Rabi, Ramsey, Hahn echo, XY8-N, T1 and pulsed ODMR on the lifecycle.

>>> from nvsense.instruments import load_bench
>>> from nvsense.measure.pulsed import run_pulsed
>>> with load_bench("single_nv") as bench:                           # doctest: +SKIP
...     result = run_pulsed(bench, {"protocol": "rabi", "mw_frequency": "2.842 GHz",
...                                 "mw_power": "-20 dBm", "averages": 5})
>>> result.summary()["rabi_frequency_hz"]                          # doctest: +SKIP

The kind (:class:`~.measurement.PulsedMeasurement`) is its check, variables and loop; the run
lifecycle (:mod:`nvsense.measure.lifecycle`) checks the settings, writes the run file, leaves
the bench safe (pulser stopped with its outputs low, RF off, laser off) whatever happens, and
closes the file with its status.  Results flow on: a Rabi run's π pulse and a pulsed-ODMR
run's resonance are stored in the data folder (:mod:`.calibration`) and used by the next run
on the same bench unless it is given its own (:func:`resolve_settings`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..control import RunControl
from ..documents import Event
from ..lifecycle import execute, run_md
from ..settings import SettingsError
from .calibration import CALIBRATION_FILE, latest_calibration, pi_pulse_at, store_calibration
from .fits import RESULT_KEYS, ProtocolFit, fit_signal, result_keys
from .measurement import (
    COMPILED_ATTR,
    PARAMETER_UNITS,
    PROGRAM_ATTR,
    PulsedMeasurement,
    check_pulsed,
)
from .result import PulsedResult
from .settings import (
    DEFAULT_TAUS,
    PULSED_PROTOCOLS,
    PulsedSettings,
    TauRange,
    build_program,
    parse_tau_range,
)

__all__ = [
    "CALIBRATION_FILE",
    "COMPILED_ATTR",
    "DEFAULT_TAUS",
    "PARAMETER_UNITS",
    "PROGRAM_ATTR",
    "PULSED_PROTOCOLS",
    "RESULT_KEYS",
    "ProtocolFit",
    "PulsedMeasurement",
    "PulsedResult",
    "PulsedSettings",
    "TauRange",
    "build_program",
    "check_pulsed",
    "compiled_of_run",
    "fit_signal",
    "latest_calibration",
    "parse_tau_range",
    "program_of_run",
    "resolve_settings",
    "result_keys",
    "run_pulsed",
]

log = logging.getLogger(__name__)


def resolve_settings(settings: PulsedSettings | Mapping[str, Any], bench: Any,
                     data_dir: str | Path | None = None) -> PulsedSettings:
    """``settings`` with what they leave out taken from the bench's latest calibration.

    The π pulse (scaled to this run's microwave power, :func:`.calibration.pi_pulse_at`) of
    the latest successful Rabi run and the resonance of the latest pulsed-ODMR run, stored in
    ``data_dir``'s :data:`CALIBRATION_FILE` under the bench's name.  Where a setting comes
    from is recorded among the parameters (``pi_pulse_source``, ``mw_frequency_source``).

    Raises
    ------
    SettingsError
        Invalid settings.
    """
    from ...storage import resolve_data_dir

    if not isinstance(settings, PulsedSettings):
        settings = PulsedSettings.parse(dict(settings))
    stored = latest_calibration(resolve_data_dir(data_dir), bench.label)
    changes: dict[str, Any] = {}
    if settings.pi_pulse is None and "pi_pulse" in stored:
        changes["pi_pulse"] = pi_pulse_at(stored["pi_pulse"], settings.mw_power)
    if settings.mw_frequency is None and "mw_frequency" in stored:
        changes["mw_frequency"] = float(stored["mw_frequency"]["value"])
    if not changes:
        return settings
    return settings.model_copy(update=changes)


def run_pulsed(
    bench: Any,
    settings: PulsedSettings | Mapping[str, Any],
    *,
    data_dir: str | Path | None = None,
    catalog: Any = None,
    subscribers: Iterable[Callable[[Event], None]] = (),
    control: RunControl | None = None,
    campaign: str | None = None,
    campaign_point: int | None = None,
    md: Mapping[str, Any] | None = None,
    store: bool = True,
) -> PulsedResult:
    """Run a pulsed protocol on ``bench`` and return the result.

    Parameters
    ----------
    bench
        A :class:`nvsense.instruments.Bench` with a ``pulser`` and a ``gated_counter``;
        connected here if it is not already (and then closed at the end).
    settings
        :class:`PulsedSettings` or a mapping of them (quantities with units accepted); the π
        pulse and the microwave frequency, if not given, come from the bench's latest
        calibration (:func:`resolve_settings`).
    data_dir, catalog
        Where the run file, its catalogue row and the calibration go (``catalog`` wins).
    subscribers, control, campaign, campaign_point, md
        As for :func:`nvsense.measure.lifecycle.execute`.
    store
        Store a successful Rabi π pulse or pulsed-ODMR resonance as the bench's latest
        calibration.

    Raises
    ------
    SettingsError, LimitError
        Invalid settings, or a program or setting outside the instruments' or the bench's
        limits (the error names the block); raised before anything is sent.
    """
    from ...storage import Catalog

    catalog = catalog if catalog is not None else Catalog(data_dir)
    settings = resolve_settings(settings, bench, catalog.data_dir)
    measurement = PulsedMeasurement(settings, nucleus=_nucleus(bench))
    extra = dict(md or {})
    outcome = execute(measurement, bench, catalog=catalog, subscribers=subscribers,
                      control=control, md=run_md(extra, campaign, campaign_point))
    error = outcome.error if isinstance(outcome.error, Exception) else None
    result = PulsedResult(
        run_id=outcome.run_id, file=outcome.file, status=outcome.status, reason=outcome.reason,
        settings=settings, averages=measurement.averages, x=measurement.x,
        signal=measurement.signal, signal_error=measurement.error, fit=measurement.fit,
        program=measurement.program, compiled=measurement.compiled,
        safe_report=outcome.safe_report, error=error, retracks=measurement.retracks)
    if store and result.success:
        _store(catalog.data_dir, bench.label, result)
    return result


def _nucleus(bench: Any) -> str | None:
    try:
        return bench.sample_info.nucleus
    except Exception:  # an undeclared sample: fit one line
        return None


def _store(data_dir: Path, bench: str, result: PulsedResult) -> None:
    """Store what flows on to the next protocol (a failure is logged, never raised)."""
    assert result.fit is not None
    common = {"run_id": result.run_id, "mw_power": result.settings.mw_power}
    values = result.fit.values
    try:
        if result.protocol == "rabi" and math.isfinite(values.get("pi_pulse_s", math.nan)):
            store_calibration(data_dir, bench, pi_pulse={
                "value": values["pi_pulse_s"], "error": values.get("pi_pulse_s_error"),
                **common})
        elif result.protocol == "podmr":
            store_calibration(data_dir, bench, mw_frequency={
                "value": values["mw_frequency_hz"],
                "error": values.get("mw_frequency_hz_error"), **common})
    except OSError as exc:
        log.warning("could not store the pulsed calibration in %s: %s", data_dir, exc)


def program_of_run(source: Any) -> Any:
    """The pulse program a run played, as given (a run file's ``pulse_program``).

    ``source`` is a run file path or an open dataset.

    Raises
    ------
    SettingsError
        The run holds no pulse program.
    """
    from ...pulses import PulseProgram

    return PulseProgram.from_json(_attr(source, PROGRAM_ATTR))


def compiled_of_run(source: Any) -> dict[str, Any]:
    """The program as compiled for the device when the run played it (plain JSON data:
    :meth:`nvsense.instruments.pulser.CompiledProgram.to_dict`)."""
    return json.loads(_attr(source, COMPILED_ATTR))


def _attr(source: Any, name: str) -> str:
    if isinstance(source, str | Path):
        import nvsense

        with nvsense.open_run(source) as ds:
            value = ds.attrs.get(name)
    else:
        value = source.attrs.get(name)
    if not isinstance(value, str):
        raise SettingsError(f"{source}: not a pulsed run (it has no {name} attribute)")
    return value
