"""nvsense instruments as Bluesky devices (the ``bluesky.protocols``: Readable, Movable,
Triggerable, Stageable, Configurable, Stoppable), for any bench, the simulated one included::

    from bluesky import RunEngine
    from bluesky.plans import scan
    from nvsense.bluesky import bench_devices
    from nvsense.instruments import load_bench

    dev = bench_devices(load_bench())          # connects the bench
    RE = RunEngine({})
    RE(scan([dev.counter], dev.mw_frequency, 2.80e9, 2.94e9, 57))

Staging a device of the bench (the RunEngine does it at the start of a plan) connects the
bench and switches the excitation on: laser on, RF output on.  Unstaging the last one (at the
end of the plan, and on an abort or an error) leaves the bench safe (RF off, laser off or in
standby), as does ``stop()``.  Settings outside the instrument's or the bench's limits give a
failed status naming the limit; nothing is sent.  Needs the optional extra ``bluesky`` only
to run plans (the devices themselves import nothing of Bluesky).
"""

from .devices import (
    BenchDevices,
    CoilCurrent,
    Counter,
    LaserPower,
    MicrowaveFrequency,
    MicrowavePower,
    bench_devices,
)
from .status import Status

__all__ = ["BenchDevices", "CoilCurrent", "Counter", "LaserPower", "MicrowaveFrequency",
           "MicrowavePower", "Status", "bench_devices"]
