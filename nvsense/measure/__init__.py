"""Measurement procedures (ODMR sweeps, tracking), run control and events.

Procedures depend on the instrument protocols, the fitting engine and the storage layer; they
publish :mod:`events <nvsense.measure.events>` to subscribers (the CLI, the GUI) and never
import Qt.
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
    "run_track": "tracking",
}

if TYPE_CHECKING:  # pragma: no cover
    from .analysis import SweepAnalysis, analyse_spectrum
    from .control import STOPPED_BY_USER, RunControl, stop_on_sigint
    from .events import (
        Event,
        EventBus,
        Mailbox,
        RunFinished,
        RunStarted,
        SweepDone,
        TrackingBlock,
    )
    from .odmr import OdmrResult, run_odmr
    from .resonance import ResonanceCheck, check_resonance
    from .settings import FIT_MODELS, FrequencyRange, OdmrSettings, SettingsError, parse_range
    from .tracking import TrackCalibration, TrackResult, TrackSettings, run_track


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
    "FrequencyRange",
    "Mailbox",
    "OdmrResult",
    "OdmrSettings",
    "ResonanceCheck",
    "RunControl",
    "RunFinished",
    "RunStarted",
    "SettingsError",
    "SweepAnalysis",
    "SweepDone",
    "TrackCalibration",
    "TrackResult",
    "TrackSettings",
    "TrackingBlock",
    "analyse_spectrum",
    "check_resonance",
    "parse_range",
    "run_odmr",
    "run_track",
    "stop_on_sigint",
]
