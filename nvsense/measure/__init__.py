"""Measurement procedures (ODMR sweeps, tracking), run control and events.

Procedures depend on the instrument protocols, the fitting engine and the storage layer; they
publish :mod:`events <nvsense.measure.events>` to subscribers (the CLI, the GUI) and never
import Qt.
"""

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
