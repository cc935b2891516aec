"""Exceptions of the hardware layer."""

from __future__ import annotations

from typing import Any, Literal

__all__ = [
    "BackendUnavailableError",
    "BenchConfigError",
    "CapabilityError",
    "InstrumentError",
    "LimitError",
    "LimitSource",
]

#: Whose limit a :class:`LimitError` is about.
LimitSource = Literal["instrument", "bench"]


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


class BackendUnavailableError(InstrumentError):
    """The software an instrument needs on this computer is missing or unusable.

    A VISA library (pyvisa-py, NI-VISA), the pyvisa-sim backend or a pyvisa-sim model file, or
    NI-DAQmx: the instrument itself was never reached, so the fix is an installation, not a
    cable.  ``cause`` names what is missing and how to install it.
    """


class LimitError(ValueError):
    """A setting is outside the instrument's or the bench's limits; nothing was sent.

    The message says it in words; the attributes say it for programs (the GUI marks the field
    of ``quantity`` without reading the text).  Each is ``None`` where it does not apply (an
    empty list has no ``limit``).

    Parameters
    ----------
    message
        The whole explanation, ending in "nothing was sent" where that holds.
    quantity
        Which setting: ``"frequency"``, ``"mw_power"``, ``"laser_power"``, ``"coil_current"``,
        ``"bin_time"``, ``"n_bins"``, ``"list_points"``, ``"fm_deviation"``, ``"fm_rate"``,
        ``"fm_source"``; for the optional instruments also ``"modulation_voltage"`` (a lock-in's
        sine output or the FM drive against the bench's ``max_modulation_voltage``),
        ``"mw_duty_cycle"`` (a pulse program against ``max_mw_duty_cycle``), ``"sample_rate"``,
        ``"block_size"``, ``"channels"`` (an analog input), ``"exposure"``, ``"binning"``,
        ``"roi"``, ``"trigger_mode"``, ``"buffer_frames"`` (a camera).
    value
        The value asked for (the first offending one of a list), in ``unit``.
    limit
        The limit it breaks, in ``unit``.
    unit
        SI unit of ``value`` and ``limit`` (``"Hz"``, ``"dBm"``, ``"W"``, ``"A"``, ``"s"``,
        ``""`` for counts).
    bound
        ``"upper"`` or ``"lower"``: which end of the range ``limit`` is; ``None`` for a value
        that is not a finite number or a rule that is not a range.
    source
        ``"instrument"`` (what the instrument accepts) or ``"bench"`` (the bench file's
        ``limits:``).
    instrument
        The bench slot (``"mw"``) or instrument name the setting was for.
    """

    def __init__(self, message: str, *, quantity: str | None = None, value: Any = None,
                 limit: float | None = None, unit: str | None = None,
                 bound: Literal["upper", "lower"] | None = None,
                 source: LimitSource | None = None, instrument: str | None = None) -> None:
        super().__init__(message)
        self.quantity = quantity
        self.value = value
        self.limit = limit
        self.unit = unit
        self.bound = bound
        self.source = source
        self.instrument = instrument

    def as_dict(self) -> dict[str, Any]:
        """The fields and the message, JSON-serialisable (for events and logs)."""
        value = self.value
        if not isinstance(value, str | int | float | bool | type(None)):
            value = repr(value)
        return {"message": str(self), "quantity": self.quantity, "value": value,
                "limit": self.limit, "unit": self.unit, "bound": self.bound,
                "source": self.source, "instrument": self.instrument}


class BenchConfigError(ValueError):
    """A bench file (or mapping) is invalid: the message names the key and the fix."""


class CapabilityError(ValueError):
    """A bench was asked for a feature its instruments do not have (a hardware-timed list
    on a source without list mode, FM on a source without FM); nothing was sent."""
