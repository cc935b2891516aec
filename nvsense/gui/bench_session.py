"""The window's bench: loading its file, connecting, reading instrument state, leaving it safe.

Plain Python (no Qt): the window calls these in a worker thread, because a real instrument may
take seconds to answer.  The window owns one :class:`BenchSession`; runs use its connected
:class:`~nvsense.instruments.Bench`, and closing the window makes it safe and closes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..instruments import Bench, InstrumentError, load_bench

__all__ = ["BenchSession", "InstrumentState", "describe_safe_report"]

log = logging.getLogger(__name__)

Pace = Literal["fast", "realtime"]


@dataclass(frozen=True)
class InstrumentState:
    """What the bench panel shows for one instrument.

    ``state`` is a short text ("RF off", "laser on (0.100 W)"); ``error`` the message of an
    instrument that failed, which the panel shows in red.
    """

    slot: str
    driver: str
    identity: str = ""
    connected: bool = False
    state: str = ""
    error: str = ""


class BenchSession:
    """The bench of one window session.

    Parameters
    ----------
    source
        Bench file, built-in bench name, mapping, or ``None`` for the built-in simulated bench.
    pace
        Pace of a simulated sample (the window default is ``"realtime"``).

    Raises
    ------
    BenchConfigError
        The bench file is invalid (from :func:`~nvsense.instruments.load_bench`).
    """

    def __init__(self, source: str | Path | dict[str, Any] | None = None,
                 pace: Pace | None = "realtime") -> None:
        self.source = source
        self.pace = pace
        self.bench: Bench = load_bench(source, pace=pace)

    @property
    def label(self) -> str:
        """Bench name and file, e.g. ``"simulated (built-in)"``."""
        where = str(self.bench.source) if self.bench.source else "built-in"
        return f"{self.bench.label} ({where})" if self.bench.config.name else where

    def connect(self) -> Bench:
        """Connect every instrument (no-op when connected).  Raises InstrumentError."""
        return self.bench.connect()

    def check(self) -> list[InstrumentState]:
        """Connect if needed and read every instrument's identity and state.

        An instrument that no longer answers (a lost link) gets one reconnection of the bench;
        what still fails is reported in its row, not raised.  Raises InstrumentError when the
        bench cannot be connected at all.
        """
        if not self.bench.connected:
            self.bench.connect()
        states = self.states()
        if any(s.error for s in states):
            log.warning("reconnecting the bench: %s",
                        "; ".join(s.error for s in states if s.error))
            self.bench.safe()
            self.bench.close()
            self.bench.connect()
            states = self.states()
        return states

    def states(self) -> list[InstrumentState]:
        """Read each instrument's identity and state now (needs the instruments' attention:
        never while a run is going)."""
        out = []
        for slot, inst in self.bench.instruments.items():
            driver = self.bench.driver_of(slot)
            if not self.bench.connected:
                out.append(InstrumentState(slot, driver, state="not connected"))
                continue
            try:
                out.append(InstrumentState(slot, driver, str(inst.identity), True,
                                           _read_state(slot, inst)))
            except InstrumentError as exc:
                out.append(InstrumentState(slot, driver, connected=True, error=str(exc)))
        return out

    def offline_states(self) -> list[InstrumentState]:
        """Rows without touching any instrument (before connecting, or during a run)."""
        return [InstrumentState(slot, self.bench.driver_of(slot), connected=self.bench.connected,
                                state="" if self.bench.connected else "not connected")
                for slot in self.bench.instruments]

    def safe(self) -> list[str]:
        """Leave every connected instrument safe; returns the bench's safe report."""
        return self.bench.safe()

    def close(self) -> list[str]:
        """Make safe and close the connections (closing the window)."""
        report: list[str] = []
        try:
            if self.bench.connected:
                report = self.bench.safe()
        finally:
            self.bench.close()
        return report


def _read_state(slot: str, inst: Any) -> str:
    if slot == "mw":
        on = bool(inst.output)
        return (f"RF {'on' if on else 'off'} · {inst.frequency / 1e9:.6f} GHz · "
                f"{inst.power:.1f} dBm")
    if slot == "laser":
        if bool(inst.on):
            return f"laser on · {inst.power * 1e3:.1f} mW"
        standby = getattr(inst, "in_standby", False)
        return "laser standby" if standby else "laser off"
    if slot == "coil":
        return f"output {'on' if inst.output else 'off'} · {inst.current:.3f} A"
    if slot == "counter":
        return f"ready ({getattr(inst, 'kind', 'counts')})"
    return "connected"


def describe_safe_report(report: list[str] | tuple[str, ...]) -> dict[str, tuple[str, bool]]:
    """Slot -> (what the safe action did, whether it failed) from a bench's safe report
    (``"mw: RF off, list stopped"``, ``"laser: NOT made safe: ..."``)."""
    out: dict[str, tuple[str, bool]] = {}
    for line in report:
        slot, _, text = line.partition(": ")
        failed = text.startswith("NOT made safe")
        out[slot] = (text, failed)
    return out
