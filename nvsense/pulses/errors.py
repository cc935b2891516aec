"""Errors of pulse programs: one type for a bad program, one for a program a device cannot play."""

from __future__ import annotations

__all__ = ["ProgramLimitError", "PulseProgramError"]


class PulseProgramError(ValueError):
    """A pulse program is invalid in itself (negative duration, unknown channel, bad JSON).

    Attributes
    ----------
    block
        Name of the block (or repeat) at fault, ``None`` when the fault is not in one block.
    """

    def __init__(self, message: str, *, block: str | None = None) -> None:
        self.block = block
        super().__init__(message)


class ProgramLimitError(PulseProgramError):
    """A valid program that a device cannot play: a block shorter than its minimum length, off
    its timing grid, too many steps for its memory, a loop counter out of range.

    Raised by :func:`nvsense.pulses.check_program` before anything is sent to the device.

    Attributes
    ----------
    block
        Name of the block at fault (``None`` for whole-program limits such as memory).
    device
        The device (``"Pulse Streamer 8/2"``, ``"PulseBlaster ESR-PRO 500 MHz"``).
    limit
        Which limit: ``"min_duration"``, ``"resolution"``, ``"memory"``, ``"loop_count"``,
        ``"loop_depth"``, ``"channel"``, ``"phase"``, ``"max_duration"``.
    """

    def __init__(self, message: str, *, block: str | None = None, device: str = "",
                 limit: str = "") -> None:
        super().__init__(message, block=block)
        self.device = device
        self.limit = limit
