"""What every simulated instrument shares: connection state, identity, injected faults."""

from __future__ import annotations

from typing import Any, ClassVar

from ... import __version__
from ..errors import InstrumentError
from .sample import SimulatedSample

__all__ = ["SimulatedInstrument"]


class SimulatedInstrument:
    """Base of the simulated instruments.

    Parameters
    ----------
    name
        The bench key (``"mw"``), used in error messages.
    sample
        The shared sample; a fresh default one if ``None`` (an instrument on its own).
    """

    #: Model name in the identity string.
    model: ClassVar[str] = "Simulated"
    #: Which slot's faults apply (``mw``, ``laser``, ``counter``, ``coil``).
    slot: ClassVar[str] = ""

    def __init__(self, name: str, sample: SimulatedSample | None = None) -> None:
        self.name = name
        self.sample = sample if sample is not None else SimulatedSample()
        self.connected = False

    def connect(self) -> None:
        """Open the (simulated) connection; fails if the bench file says it is unreachable."""
        reason = self.sample.faults.unreachable(self.slot)
        if reason:
            raise InstrumentError(self.name, "connect", f"no response ({reason})")
        self.sample.faults.reconnect(self.slot)
        self.connected = True

    def close(self) -> None:
        """Release the connection (idempotent)."""
        self.connected = False

    @property
    def identity(self) -> str:
        """``nvsense,<model>,0,<version>``, like a SCPI ``*IDN?`` answer."""
        self._require("*IDN?")
        return f"nvsense,{self.model},0,{__version__}"

    def snapshot(self) -> dict[str, Any]:
        """Identity and the simulated state (the ``Snapshottable`` protocol), JSON-ready."""
        self._require("snapshot")
        return {"name": self.name,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity, **self._snapshot_state()}

    def _snapshot_state(self) -> dict[str, Any]:
        return {}

    def _require(self, command: str, *, at: float | None = None) -> None:
        """Raise like a real instrument would if ``command`` cannot reach it now."""
        if not self.connected:
            raise InstrumentError(self.name, command,
                                  "not connected; call connect() first (a Bench connects its "
                                  "instruments in a with-block)")
        sample = self.sample
        reason = sample.faults.link_lost(self.slot, sample.now() if at is None else at,
                                         sample.sweep_count)
        if reason:
            raise InstrumentError(self.name, command, f"connection lost ({reason})")

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<{type(self).__name__} {self.name!r} ({state})>"
