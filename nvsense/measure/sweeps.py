"""Acquiring one ODMR sweep: hardware-timed (list mode) or software-stepped.

Hardware-timed: the microwave source holds the sweep as a list; the DAQ's sample clock steps it,
one bin per frequency, and the whole sweep is one acquisition.  The clock of an NI X-series card
sends ``mw_trigger_lead`` edges before the first bin (see
:class:`nvsense.instruments.protocols.Counter`), so the list is loaded rotated by that number
and re-armed before every sweep: bin k then always sees frequency k.

Software-stepped: the frequency is set (and read back) before every point, each point one
acquisition of one bin.  Slower (a command round trip per point), but works with any source.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from ..instruments.capabilities import sweep_mode_for

__all__ = ["ListSweeper", "SteppedSweeper", "Sweeper", "make_sweeper"]


class Sweeper(Protocol):
    """Acquires sweeps over fixed frequencies; ``prepare`` once, then ``sweep`` repeatedly."""

    mode: str

    def prepare(self) -> None: ...

    def sweep(self) -> NDArray[np.float64]: ...

    def finish(self) -> None: ...


class ListSweeper:
    """Hardware-timed sweeps: MW list stepped by the counter's sample clock."""

    mode = "list"

    def __init__(self, mw, counter, frequencies: NDArray[np.float64], dwell: float,
                 power: float) -> None:
        self.mw, self.counter = mw, counter
        self.frequencies = np.asarray(frequencies, dtype=float)
        self.dwell, self.power = dwell, power
        self.lead = int(getattr(counter, "mw_trigger_lead", 0))

    def prepare(self) -> None:
        # rotate so that after `lead` edges the list sits at frequency 0 as bin 0 starts
        self.mw.load_list(np.roll(self.frequencies, self.lead), self.power)
        self.counter.configure(self.frequencies.size, self.dwell, trigger_mw=True)

    def sweep(self) -> NDArray[np.float64]:
        self.mw.start_list()  # re-arm: the clock's extra edges would shift the next sweep
        return np.asarray(self.counter.acquire(), dtype=float)

    def finish(self) -> None:
        self.mw.stop_list()


class SteppedSweeper:
    """Software-stepped sweeps: set each frequency, count one bin."""

    mode = "stepped"

    def __init__(self, mw, counter, frequencies: NDArray[np.float64], dwell: float,
                 power: float) -> None:
        self.mw, self.counter = mw, counter
        self.frequencies = np.asarray(frequencies, dtype=float)
        self.dwell, self.power = dwell, power

    def prepare(self) -> None:
        self.mw.power = self.power
        self.counter.configure(1, self.dwell, trigger_mw=False)

    def sweep(self) -> NDArray[np.float64]:
        out = np.empty(self.frequencies.size)
        for i, f in enumerate(self.frequencies):
            self.mw.frequency = f
            out[i] = self.counter.acquire()[0]
        return out

    def finish(self) -> None:
        return None


def make_sweeper(mw, counter, frequencies: NDArray[np.float64], dwell: float, power: float,
                 mode: Literal["auto", "list", "stepped"] = "auto") -> ListSweeper | SteppedSweeper:
    """The sweeper for ``mode`` (``auto``: list mode when the bench can run lists; decided by
    :func:`nvsense.instruments.capabilities.sweep_mode_for`)."""
    use_list = sweep_mode_for(mw, counter, mode) == "list"
    cls = ListSweeper if use_list else SteppedSweeper
    return cls(mw, counter, frequencies, dwell, power)
