"""Measurements (ODMR sweeps, tracking), their one run lifecycle, run control and documents.

Every measurement kind is its settings, check, variables and loop
(:class:`~nvsense.measure.lifecycle.Measurement`); :func:`~nvsense.measure.lifecycle.execute`
runs it through the one lifecycle (check, connect, create the run, loop, leave the bench safe,
close with status and reason).  Runs publish plain :mod:`documents
<nvsense.measure.documents>` to subscribers: the run-file writer first, then the CLI and the
GUI.  Measurements depend on the instrument protocols, the fitting engine and the storage
layer, and never import Qt.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each name is imported from its module on first use (PEP 562): `nvsense odmr` does not pay
# for the tracking magnetometer's stack (noise analysis), nor `nvsense track` for ODMR's.
_LAZY = {
    "SweepAnalysis": "analysis",
    "analyse_spectrum": "analysis",
    "STOPPED_BY_USER": "control",
    "RunControl": "control",
    "stop_on_sigint": "control",
    "Event": "events",
    "EventBus": "events",
    "FitSummary": "documents",
    "Record": "documents",
    "VariablesAdded": "documents",
    "Measurement": "lifecycle",
    "RunAborted": "lifecycle",
    "execute": "lifecycle",
    "OdmrMeasurement": "odmr",
    "Mailbox": "events",
    "RunFinished": "events",
    "RunStarted": "events",
    "SweepDone": "events",
    "TrackingBlock": "events",
    "OdmrResult": "odmr",
    "run_odmr": "odmr",
    "ResonanceCheck": "resonance",
    "check_resonance": "resonance",
    "FIT_MODELS": "settings",
    "FrequencyRange": "settings",
    "OdmrSettings": "settings",
    "SettingsError": "settings",
    "parse_range": "settings",
    "TrackCalibration": "tracking",
    "TrackResult": "tracking",
    "TrackSettings": "tracking",
    "TrackMeasurement": "tracking",
    "run_track": "tracking",
}

if TYPE_CHECKING:  # pragma: no cover
    from .analysis import SweepAnalysis, analyse_spectrum
    from .control import STOPPED_BY_USER, RunControl, stop_on_sigint
    from .documents import FitSummary, Record, VariablesAdded
    from .events import (
        Event,
        EventBus,
        Mailbox,
        RunFinished,
        RunStarted,
        SweepDone,
        TrackingBlock,
    )
    from .lifecycle import Measurement, RunAborted, execute
    from .odmr import OdmrMeasurement, OdmrResult, run_odmr
    from .resonance import ResonanceCheck, check_resonance
    from .settings import FIT_MODELS, FrequencyRange, OdmrSettings, SettingsError, parse_range
    from .tracking import TrackCalibration, TrackMeasurement, TrackResult, TrackSettings, run_track


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "FIT_MODELS",
    "STOPPED_BY_USER",
    "Event",
    "EventBus",
    "FitSummary",
    "FrequencyRange",
    "Mailbox",
    "Measurement",
    "OdmrMeasurement",
    "OdmrResult",
    "OdmrSettings",
    "Record",
    "ResonanceCheck",
    "RunAborted",
    "RunControl",
    "RunFinished",
    "RunStarted",
    "SettingsError",
    "SweepAnalysis",
    "SweepDone",
    "TrackCalibration",
    "TrackMeasurement",
    "TrackResult",
    "TrackSettings",
    "TrackingBlock",
    "VariablesAdded",
    "analyse_spectrum",
    "check_resonance",
    "execute",
    "parse_range",
    "run_odmr",
    "run_track",
    "stop_on_sigint",
]
