"""A hardware-timed, continuous, multi-channel analog input read in blocks.

Photodiode lock-in magnetometry digitises the signal photodiode, the reference photodiode,
the modulation sync and the stimulus trigger on one sample clock (an NI X-series or
dynamic-signal card, ≥ 200 kS/s per channel) and processes them in blocks
(:mod:`nvsense.dsp`).  This protocol is what such an acquisition needs; the simulated one is
:class:`nvsense.instruments.simulated.analog_input.SimulatedAnalogInput`.

Guarantees, as for the other protocols: SI units (V, Hz, s); settings outside the
instrument's limits raise :class:`~nvsense.instruments.errors.LimitError` before anything
starts; a block that clipped says so (``overrange``), it is never silently passed on as
valid; ``safe()`` stops the acquisition; ``close()`` may be called twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from .protocols import Instrument

__all__ = ["AnalogBlock", "AnalogInputStream"]


@dataclass(frozen=True)
class AnalogBlock:
    """One block of a continuous acquisition.

    Attributes
    ----------
    time
        Time of each sample, s (the bench clock), shape (n,).
    data
        Volts, shape (n_channels, n), rows in the order of ``channels``.
    channels
        Channel names.
    sample_rate
        Hz.
    first_sample
        Index of the block's first sample since the acquisition started.
    overrange
        Per channel: whether any sample of the block reached the input range (clipped).
    """

    time: NDArray[np.float64]
    data: NDArray[np.float64]
    channels: tuple[str, ...]
    sample_rate: float
    first_sample: int
    overrange: tuple[bool, ...]

    def channel(self, name: str) -> NDArray[np.float64]:
        """The samples of one channel."""
        try:
            return self.data[self.channels.index(name)]
        except ValueError:
            raise KeyError(f"no channel {name!r} in this block; it has "
                           f"{', '.join(self.channels)}") from None


@runtime_checkable
class AnalogInputStream(Instrument, Protocol):
    """Continuous multi-channel analog input on one sample clock."""

    @property
    def available_channels(self) -> tuple[str, ...]:
        """Channels that can be acquired."""

    def configure(self, channels: Sequence[str], sample_rate: float, block_size: int) -> float:
        """Select channels, the per-channel sample rate (Hz) and the samples per block; returns
        the rate the hardware will use."""

    def start(self) -> None:
        """Start the continuous acquisition."""

    def read(self, timeout: float | None = None) -> AnalogBlock:
        """The next ``block_size`` samples of every channel (blocks until they are there)."""

    def stop(self) -> None:
        """Stop the acquisition (nothing happens if none runs)."""

    def safe(self) -> None:
        """Stop the acquisition and release the clock."""
