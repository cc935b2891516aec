"""Exceptions of the hardware layer."""

from __future__ import annotations

__all__ = ["BenchConfigError", "InstrumentError", "LimitError"]


class InstrumentError(RuntimeError):
    """An instrument failed: a VISA timeout, a lost connection, or an error it reported.

    Every driver turns its failures into this one type, naming the instrument, the command
    and the cause, so that the measurement layer can abort cleanly and tell the user which
    instrument to look at.

    Parameters
    ----------
    instrument
        The instrument's name on the bench (``"mw"``) or its model (``"SG384"``).
    command
        The command or operation that failed (``"FREQ 2870000000"``, ``"read counts"``).
    cause
        What went wrong, in words (``"VISA timeout after 2000 ms"``, ``"-222,Data out of
        range"``).
    """

    def __init__(self, instrument: str, command: str, cause: str) -> None:
        self.instrument = instrument
        self.command = command
        self.cause = cause
        super().__init__(f"{instrument}: {command!s} failed: {cause}")


class LimitError(ValueError):
    """A setting is outside the instrument's or the bench's limits; nothing was sent."""


class BenchConfigError(ValueError):
    """A bench file (or mapping) is invalid: the message names the key and the fix."""
