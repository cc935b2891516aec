"""Pulse programs: a hardware-neutral description of pulsed NV protocols.

- :mod:`.program`: channels, blocks, repeats, the swept parameter, readout windows, JSON;
- :mod:`.builders`: the standard protocols (pulsed ODMR, Rabi, Ramsey, Hahn echo, CPMG,
  XY8-N, T1) from physicist-level parameters;
- :mod:`.limits`: a device's limits and the check of a program against them;
- :mod:`.signals`: normalised signals from the counts of the readout windows;
- :mod:`.simulate`: the program as operations for the spin-dynamics simulator;
- :mod:`.drawing`: :func:`draw_program`, a picture of the sequence (matplotlib).

This package imports only numpy and :mod:`nvsense.physics` (and matplotlib when drawing).
"""

from .builders import PROTOCOLS, cpmg, hahn_echo, pulsed_odmr, rabi, ramsey, readout_blocks, t1, xy8
from .drawing import draw_program
from .errors import ProgramLimitError, PulseProgramError
from .limits import PulserLimits, check_program
from .program import (
    ANALOG_CHANNELS,
    DIGITAL_CHANNELS,
    Block,
    Param,
    PulseProgram,
    Repeat,
    ResolvedBlock,
    ResolvedRepeat,
    Sweep,
)
from .signals import normalised_signal

__all__ = [
    "ANALOG_CHANNELS",
    "DIGITAL_CHANNELS",
    "PROTOCOLS",
    "Block",
    "Param",
    "ProgramLimitError",
    "PulseProgram",
    "PulseProgramError",
    "PulserLimits",
    "Repeat",
    "ResolvedBlock",
    "ResolvedRepeat",
    "Sweep",
    "check_program",
    "cpmg",
    "draw_program",
    "hahn_echo",
    "normalised_signal",
    "pulsed_odmr",
    "rabi",
    "ramsey",
    "readout_blocks",
    "t1",
    "xy8",
]
