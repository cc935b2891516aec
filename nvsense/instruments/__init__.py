"""The hardware layer: instrument protocols, drivers, the simulated bench, bench files, limits.

The measurement layer uses :func:`load_bench` and the protocols only::

    from nvsense.instruments import load_bench

    with load_bench("bench.yaml") as bench:   # no argument: the built-in simulated bench
        bench.mw.frequency = 2.87e9

Importing this package imports no driver: each is imported when a bench names it (see
:mod:`nvsense.instruments.registry`).
"""

from .bench import Bench, load_bench
from .config import BUILTIN_BENCHES, BenchConfig, load_bench_config
from .errors import BenchConfigError, InstrumentError, LimitError
from .limits import BenchLimits
from .protocols import (
    CoilLimits,
    CoilSupply,
    Counter,
    Laser,
    LaserLimits,
    MicrowaveLimits,
    MicrowaveSource,
)
from .registry import DRIVERS, DriverInfo, DriverUnavailableError
from .simulated import SimulatedSample

__all__ = [
    "BUILTIN_BENCHES",
    "DRIVERS",
    "Bench",
    "BenchConfig",
    "BenchConfigError",
    "BenchLimits",
    "CoilLimits",
    "CoilSupply",
    "Counter",
    "DriverInfo",
    "DriverUnavailableError",
    "InstrumentError",
    "Laser",
    "LaserLimits",
    "LimitError",
    "MicrowaveLimits",
    "MicrowaveSource",
    "SimulatedSample",
    "load_bench",
    "load_bench_config",
]
