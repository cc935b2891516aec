"""Fault injection for the simulated bench: timeouts, lost connections, unreachable devices."""

from __future__ import annotations

from ..config import FaultsConfig

__all__ = ["FaultPlan"]


class FaultPlan:
    """When each simulated instrument fails, from ``sample.faults`` of the bench file.

    Sweeps are counted by the sample (one ``counter.acquire()`` of more than one bin is one
    sweep, from 1); times are simulated seconds.  Each fault fires once: a timeout fails one
    acquisition; a disconnect makes the instrument fail every call until ``connect()`` is
    called again.
    """

    def __init__(self, config: FaultsConfig | None = None) -> None:
        self.config = config or FaultsConfig()
        self._lost: dict[str, str] = {}  # slot -> reason, while disconnected
        self._fired: set[str] = set()

    def unreachable(self, slot: str) -> str | None:
        """The reason ``connect()`` of ``slot`` fails, or ``None``."""
        key = f"{slot}_unreachable"
        return f"simulated fault {key}" if getattr(self.config, key, False) else None

    def link_lost(self, slot: str, time: float, sweep: int) -> str | None:
        """The reason ``slot`` no longer answers at ``time`` / ``sweep``, or ``None``."""
        if slot in self._lost:
            return self._lost[slot]
        for key, due in ((f"{slot}_disconnect_at_time", lambda at: time >= at),
                         (f"{slot}_disconnect_at_sweep", lambda at: sweep >= at)):
            at = getattr(self.config, key, None)
            if at is not None and key not in self._fired and due(at):
                self._fired.add(key)
                self._lost[slot] = f"simulated fault {key} = {at:g}"
                return self._lost[slot]
        return None

    def reconnect(self, slot: str) -> None:
        """``slot`` was connected again: it answers again (its disconnect fault is spent)."""
        self._lost.pop(slot, None)

    def counter_timeout(self, sweep: int | None, end: float) -> str | None:
        """The reason the acquisition of sweep ``sweep`` (``None``: not a sweep) ending at
        simulated time ``end`` times out, or ``None``.  A time fault fires in the first
        acquisition that ends after it."""
        cfg = self.config
        key = "counter_timeout_at_sweep"
        if sweep is not None and cfg.counter_timeout_at_sweep == sweep and key not in self._fired:
            self._fired.add(key)
            return f"simulated fault {key} = {sweep}"
        key = "counter_timeout_at_time"
        at = cfg.counter_timeout_at_time
        if at is not None and key not in self._fired and at < end:
            self._fired.add(key)
            return f"simulated fault {key} = {at:g} s"
        return None
