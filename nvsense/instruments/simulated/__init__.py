"""The simulated bench: an NV sample and the instruments that act on it.

:class:`SimulatedSample` holds the physics and the simulated clock; the simulated microwave
source, laser, counter and coil of one bench share it.  ``load_bench()`` without a bench file
builds them; on their own::

    sample = SimulatedSample({"field": ["0", "0", "2 mT"], "seed": 1})
    mw, counter = SimulatedMicrowave("mw", sample), SimulatedCounter("counter", sample)
"""

from .coil import SimulatedCoil
from .counter import SimulatedCounter
from .faults import FaultPlan
from .laser import SimulatedLaser
from .microwave import SimulatedCWMicrowave, SimulatedMicrowave
from .sample import SimulatedSample

__all__ = [
    "FaultPlan",
    "SimulatedCWMicrowave",
    "SimulatedCoil",
    "SimulatedCounter",
    "SimulatedLaser",
    "SimulatedMicrowave",
    "SimulatedSample",
]
