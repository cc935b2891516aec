"""National Instruments X-series DAQ cards, through the ``nidaqmx`` package.

Two bench drivers, one module each, sharing :mod:`.common` (names, errors, identity):

``NIDAQCounter`` (:mod:`.counter`, bench driver ``nidaq``, a
:class:`~nvsense.instruments.protocols.Counter`)
    APD edge counting or photodiode analog input in bins clocked by a second counter, whose
    pulse train also steps the microwave list; optional gating for pulsed read-out.
``NIDAQGate`` (:mod:`.gate`, bench driver ``nidaq_gate``, a
:class:`~nvsense.instruments.protocols.Laser`)
    Switches the laser or its AOM with one digital output line.

Both take ``task_factory`` (and the counter ``reader_factory``) so that tests run them on
doubles of ``nidaqmx.Task`` and its stream readers: NI-DAQmx does not install on Linux CI.
"""

from .common import (
    MAX_BIN_TIME,
    MAX_OVERSAMPLE,
    MIN_BIN_TIME,
    NIDAQ_NOT_INSTALLED,
    READS_PER_SECOND,
    TIMEBASE_HZ,
)
from .counter import NIDAQCounter
from .gate import NIDAQGate

__all__ = [
    "MAX_BIN_TIME",
    "MAX_OVERSAMPLE",
    "MIN_BIN_TIME",
    "NIDAQ_NOT_INSTALLED",
    "READS_PER_SECOND",
    "TIMEBASE_HZ",
    "NIDAQCounter",
    "NIDAQGate",
]
