"""Signal processing for photodiode magnetometry: software lock-in, references, subtraction.

A low-level package: numpy and scipy only, nothing else of nvsense.  Blocks of samples go in,
demodulated outputs (or cleaned records) come out; every object keeps the state it needs so a
stream can be processed block by block with the same result as the whole record at once.

- :mod:`.filters`: the lock-in's cascaded RC output filter and its closed forms (ENBW, step
  response, transfer function);
- :mod:`.reference`: reference phase from the modulation clock, or from a recorded sync
  channel (zero crossings or a PLL);
- :mod:`.lockin`: :class:`SoftwareLockIn`, X/Y/R/Θ at the modulation frequency and harmonics;
- :mod:`.subtraction`: reference-beam (laser-noise) subtraction with a fitted gain, and the
  suppression it achieves.
"""

from .filters import CascadedRC, rc_bandwidth_3db, rc_enbw, rc_step_response, rc_transfer
from .lockin import LockInOutput, SoftwareLockIn
from .reference import ClockReference, PLLReference, Reference, ZeroCrossingReference
from .subtraction import (
    AdaptiveSubtraction,
    RinSuppression,
    SubtractionBlock,
    rin_suppression,
)

__all__ = [
    "AdaptiveSubtraction",
    "CascadedRC",
    "ClockReference",
    "LockInOutput",
    "PLLReference",
    "Reference",
    "RinSuppression",
    "SoftwareLockIn",
    "SubtractionBlock",
    "ZeroCrossingReference",
    "rc_bandwidth_3db",
    "rc_enbw",
    "rc_step_response",
    "rc_transfer",
    "rin_suppression",
]
