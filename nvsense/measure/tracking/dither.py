"""Acquiring one tracking sample: square-wave dithering f0 ± δ of every locked line.

One output sample of duration 1/rate holds ``periods`` dither cycles.  A cycle visits every
locked line in turn, each at f0 + δ then f0 − δ (time-multiplexing lines and axes), and the
sample ends with one bin at an off-resonance reference frequency that measures the count rate
(the lock detector compares the dip depth with it, so laser-power drifts are not mistaken for
a lost line).  With n lines a sample has ``2·n·periods + 1`` equal bins.

Two ways to step the frequencies, like ODMR sweeps (:mod:`nvsense.measure.sweeps`):

- ``list``: the whole sample is one frequency list stepped by the counter's sample clock and
  one acquisition.  The list is re-loaded for every sample (the centres move), rotated by the
  counter's ``mw_trigger_lead`` and re-armed, so bin k always sees entry k.  On the simulated
  bench this costs ~0.1 ms of CPU per sample.  On real sources re-loading a list takes time
  (an SG384 takes one ``LSTP`` command per entry): that dead time lowers the duty cycle and
  raises the noise by √(sample time / (sample time − dead time)).  Labs avoid it with the
  source's external FM input driven by a square wave (``set_fm(deviation=δ,
  source="external")``) and a DAQ that gates the counts by the square wave's phase; that is
  not implemented here.
- ``stepped``: the frequency is set by command before each half-cycle, one acquisition per
  half-cycle (one dither cycle per sample): any source works, at the cost of a command round
  trip per frequency.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from ...instruments.capabilities import sweep_mode_for

__all__ = ["Dither", "ListDither", "SteppedDither", "make_dither"]

Counts = tuple[NDArray[np.float64], NDArray[np.float64], float]


class Dither(Protocol):
    """Acquires one sample: counts at f0 + δ and f0 − δ per line, and the reference bin."""

    mode: str
    bins: int
    bin_time: float
    periods: int

    def prepare(self) -> None: ...

    def acquire(self, centers: NDArray[np.float64], deltas: NDArray[np.float64],
                reference: float) -> Counts: ...

    def finish(self) -> None: ...


class ListDither:
    """One frequency list and one acquisition per sample (hardware-timed)."""

    mode = "list"

    def __init__(self, mw, counter, n_lines: int, periods: int, rate: float,
                 power: float) -> None:
        self.mw, self.counter = mw, counter
        self.n_lines, self.periods, self.power = int(n_lines), int(periods), float(power)
        self.bins = 2 * self.n_lines * self.periods + 1
        self.bin_time = 1.0 / (rate * self.bins)
        self.lead = int(getattr(counter, "mw_trigger_lead", 0))

    def prepare(self) -> None:
        self.counter.configure(self.bins, self.bin_time, trigger_mw=True)

    def acquire(self, centers: NDArray[np.float64], deltas: NDArray[np.float64],
                reference: float) -> Counts:
        cycle = np.column_stack([centers + deltas, centers - deltas]).ravel()
        frequencies = np.append(np.tile(cycle, self.periods), reference)
        # rotated by the clock's lead edges, re-armed: bin k sees frequencies[k]
        self.mw.load_list(np.roll(frequencies, self.lead), self.power)
        self.mw.start_list()
        counts = np.asarray(self.counter.acquire(), dtype=float)
        per_line = counts[:-1].reshape(self.periods, self.n_lines, 2).sum(axis=0)
        return per_line[:, 0], per_line[:, 1], float(counts[-1])

    def finish(self) -> None:
        self.mw.stop_list()


class SteppedDither:
    """Frequencies set by command: for each line f0 + δ then f0 − δ, each for half the line's
    time (one dither cycle per sample), then the reference bin."""

    mode = "stepped"

    def __init__(self, mw, counter, n_lines: int, periods: int, rate: float,
                 power: float) -> None:
        self.mw, self.counter = mw, counter
        self.n_lines, self.periods, self.power = int(n_lines), int(periods), float(power)
        self.bins = 2 * self.n_lines * self.periods + 1
        self.bin_time = 1.0 / (rate * self.bins)

    def prepare(self) -> None:
        self.mw.power = self.power

    def _count(self, frequency: float, n_bins: int) -> float:
        self.mw.frequency = frequency
        self.counter.configure(n_bins, self.bin_time, trigger_mw=False)
        return float(np.sum(self.counter.acquire()))

    def acquire(self, centers: NDArray[np.float64], deltas: NDArray[np.float64],
                reference: float) -> Counts:
        plus = np.empty(self.n_lines)
        minus = np.empty(self.n_lines)
        for j in range(self.n_lines):
            plus[j] = self._count(float(centers[j] + deltas[j]), self.periods)
            minus[j] = self._count(float(centers[j] - deltas[j]), self.periods)
        return plus, minus, self._count(float(reference), 1)

    def finish(self) -> None:
        return None


def make_dither(mw, counter, n_lines: int, periods: int, rate: float, power: float,
                mode: Literal["auto", "list", "stepped"] = "auto") -> ListDither | SteppedDither:
    """The dither acquisition for ``mode`` (``auto``: list mode when the source has it)."""
    cls = ListDither if sweep_mode_for(mw, counter, mode) == "list" else SteppedDither
    return cls(mw, counter, n_lines, periods, rate, power)
