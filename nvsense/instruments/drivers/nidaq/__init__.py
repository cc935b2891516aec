"""National Instruments X-series DAQ cards, through the ``nidaqmx`` package.

Five bench drivers, one module each, sharing :mod:`.common` (names, errors, identity):

``NIDAQCounter`` (:mod:`.counter`, bench driver ``nidaq``, a
:class:`~nvsense.instruments.protocols.Counter`)
    APD edge counting or photodiode analog input in bins clocked by a second counter, whose
    pulse train also steps the microwave list; optional gating for pulsed read-out.
``NIDAQGate`` (:mod:`.gate`, bench driver ``nidaq_gate``, a
:class:`~nvsense.instruments.protocols.Laser`)
    Switches the laser or its AOM with one digital output line.
``NIDAQAnalogInput`` (:mod:`.analog_input`, ``driver: nidaq`` in ``analog_input``, an
:class:`~nvsense.instruments.analog_input.AnalogInputStream`)
    Continuous hardware-timed multi-channel analog input read in blocks (photodiodes, sync,
    trigger), overflow detected and reported.
``NIDAQFMDrive`` (:mod:`.fm_drive`, ``driver: nidaq`` in ``fm_drive``, an
:class:`~nvsense.instruments.fm_drive.FMDrive`)
    A sine on an analog output clocked by the analog input's sample clock, into the source's
    external FM input.
``NIDAQGatedCounter`` (:mod:`.gated_counter`, ``driver: nidaq`` in ``gated_counter``, a
:class:`~nvsense.instruments.gated_counter.GatedCounter`)
    Photon counts per read-out window of a pulse program, the pulser's gate pausing the
    counter and latching it at the end of each window, summed over passes.

Each takes ``task_factory`` (and a reader or writer factory) so that tests run them on
doubles of ``nidaqmx.Task`` and its stream readers: NI-DAQmx does not install on Linux CI.
"""

from .analog_input import NIDAQAnalogInput
from .common import (
    MAX_BIN_TIME,
    MAX_OVERSAMPLE,
    MIN_BIN_TIME,
    NIDAQ_NOT_INSTALLED,
    READS_PER_SECOND,
    TIMEBASE_HZ,
)
from .counter import NIDAQCounter
from .fm_drive import NIDAQFMDrive
from .gate import NIDAQGate
from .gated_counter import NIDAQGatedCounter

__all__ = [
    "MAX_BIN_TIME",
    "MAX_OVERSAMPLE",
    "MIN_BIN_TIME",
    "NIDAQ_NOT_INSTALLED",
    "READS_PER_SECOND",
    "TIMEBASE_HZ",
    "NIDAQAnalogInput",
    "NIDAQCounter",
    "NIDAQFMDrive",
    "NIDAQGate",
    "NIDAQGatedCounter",
]
