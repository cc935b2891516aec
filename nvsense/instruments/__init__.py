"""The hardware layer: instrument protocols, drivers, the simulated bench, bench files, limits.

The measurement layer uses :func:`load_bench` and the protocols only::

    from nvsense.instruments import load_bench

    with load_bench("bench.yaml") as bench:   # no argument: the built-in simulated bench
        bench.mw.frequency = 2.87e9

Optional features (hardware-timed lists, FM, a counter that triggers the source, a counter
gate input) are capability protocols checked with ``isinstance``; :func:`sweep_mode` decides
between list and stepped sweeps from them.  Every instrument and the bench have
``snapshot()``: the read-back state as JSON-ready data.

The instruments of lock-in, pulsed and widefield measurements are optional slots of a bench
(``bench.lockin``, ``bench.analog_input``, ``bench.fm_drive``, ``bench.pulser``,
``bench.gated_counter``, ``bench.camera``, or ``bench.require(...)``), built on first use; their
protocols live in :mod:`.lockin`, :mod:`.analog_input`, :mod:`.fm_drive`, :mod:`.pulser`,
:mod:`.gated_counter` and :mod:`.camera`.

Importing this package imports no driver: each is imported when a bench names it (see
:mod:`nvsense.instruments.registry`).
"""

from .bench import Bench, load_bench
from .capabilities import sweep_mode
from .config import BUILTIN_BENCHES, BenchConfig, load_bench_config
from .errors import (
    BackendUnavailableError,
    BenchConfigError,
    CapabilityError,
    InstrumentError,
    LimitError,
)
from .limits import BenchLimits
from .protocols import (
    CoilLimits,
    CoilSupply,
    Counter,
    ExternalGate,
    FrequencyModulation,
    Laser,
    LaserLimits,
    ListSweep,
    MicrowaveLimits,
    MicrowaveSource,
    MicrowaveTrigger,
    Snapshottable,
)
from .registry import DRIVERS, DriverInfo, DriverUnavailableError
from .sample_info import SampleInfo
from .simulated import SimulatedSample

__all__ = [
    "BUILTIN_BENCHES",
    "DRIVERS",
    "BackendUnavailableError",
    "Bench",
    "BenchConfig",
    "BenchConfigError",
    "BenchLimits",
    "CapabilityError",
    "CoilLimits",
    "CoilSupply",
    "Counter",
    "DriverInfo",
    "DriverUnavailableError",
    "ExternalGate",
    "FrequencyModulation",
    "InstrumentError",
    "Laser",
    "LaserLimits",
    "LimitError",
    "ListSweep",
    "MicrowaveLimits",
    "MicrowaveSource",
    "MicrowaveTrigger",
    "SampleInfo",
    "SimulatedSample",
    "Snapshottable",
    "load_bench",
    "load_bench_config",
    "sweep_mode",
]


def __getattr__(name: str) -> object:
    # Deprecated: ``GatedCounter`` was the counter capability now called ExternalGate.
    if name == "GatedCounter":
        from . import protocols

        return protocols.__getattr__("GatedCounter")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
