"""A simulated NI-style multi-channel analog input reading the simulated photodiode chain."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ..analog_input import AnalogBlock
from ..errors import InstrumentError, LimitError
from .base import SimulatedInstrument
from .photodiode import SimulatedPhotodiodeBench

__all__ = ["INPUT_RANGES", "SimulatedAnalogInput"]

#: Bipolar input ranges of an NI X-series card (e.g. PCIe-6363), V.
INPUT_RANGES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class SimulatedAnalogInput(SimulatedInstrument):
    """Continuous acquisition of the channels of a :class:`SimulatedPhotodiodeBench`.

    Parameters
    ----------
    name
        Bench key (``"ai"``).
    bench
        The photodiode chain whose channels are digitised (its sample rate is the card's).
    input_range
        Bipolar range ±V of every channel (one of :data:`INPUT_RANGES`).
    resolution_bits
        ADC resolution (16 for an NI X-series card; 24 for a dynamic-signal card); ``None``
        does not quantise.
    max_aggregate_rate
        Highest total sample rate over all channels, S/s (2 MS/s for a PCIe-6363 on one
        channel, 1 MS/s aggregate; default 4 MS/s, a simultaneous-sampling card).

    Notes
    -----
    Quantisation matters here: at 10¹⁵ photons/s and 10 kΩ, the photodiode sits at 1.6 V
    with a shot noise of ~23 µV per sample at 200 kS/s, while a 16-bit ADC on ±10 V has steps
    of 305 µV (quantisation noise 88 µV rms).  Choose the range (and the transimpedance)
    so that the shot noise spans several steps, or use 24 bits.
    """

    model: ClassVar[str] = "SimulatedAI"
    slot: ClassVar[str] = "daq"

    def __init__(self, name: str = "ai", bench: SimulatedPhotodiodeBench | None = None, *,
                 input_range: float = 10.0, resolution_bits: int | None = 16,
                 max_aggregate_rate: float = 4e6) -> None:
        if bench is None:
            raise ValueError(f"{name}: a SimulatedAnalogInput needs the photodiode bench whose "
                             f"channels it digitises (bench=...)")
        super().__init__(name, bench.sensors[0].sample)
        if input_range not in INPUT_RANGES:
            raise ValueError(f"{name}: input_range must be one of "
                             f"{', '.join(f'{r:g}' for r in INPUT_RANGES)} V, not "
                             f"{input_range!r}")
        if resolution_bits is not None and not (isinstance(resolution_bits, int)
                                                and 8 <= resolution_bits <= 32):
            raise ValueError(f"{name}: resolution_bits must be 8..32 or None, "
                             f"not {resolution_bits!r}")
        self.bench = bench
        self.input_range = float(input_range)
        self.resolution_bits = resolution_bits
        self.max_aggregate_rate = float(max_aggregate_rate)
        self._channels: tuple[str, ...] = ()
        self._block = 0
        self._running = False

    @property
    def available_channels(self) -> tuple[str, ...]:
        """The bench's channels."""
        return self.bench.channels

    def configure(self, channels: Sequence[str], sample_rate: float, block_size: int) -> float:
        """Select channels and the block size; the rate must be the bench's.

        Raises
        ------
        LimitError
            Unknown channel, a rate other than the bench's, an aggregate rate above the card's,
            or a block size outside 1..10⁷.
        """
        names = tuple(channels)
        unknown = [c for c in names if c not in self.bench.channels]
        if not names or unknown or len(set(names)) != len(names):
            raise LimitError(f"{self.name}: channels must be distinct names among "
                             f"{', '.join(self.bench.channels)}; got {list(names)}; "
                             f"nothing was started")
        rate = float(sample_rate)
        if not math.isclose(rate, self.bench.sample_rate, rel_tol=1e-12):
            raise LimitError(f"{self.name}: the simulated card samples at the bench's "
                             f"{self.bench.sample_rate:g} S/s, not {rate:g}; build the "
                             f"photodiode bench with sample_rate={rate:g}")
        if rate * len(names) > self.max_aggregate_rate:
            raise LimitError(f"{self.name}: {len(names)} channels at {rate:g} S/s exceed the "
                             f"card's {self.max_aggregate_rate:g} S/s aggregate; nothing was "
                             f"started")
        if isinstance(block_size, bool) or int(block_size) != block_size or \
                not 1 <= block_size <= 10_000_000:
            raise LimitError(f"{self.name}: block_size must be 1..10000000 samples, "
                             f"not {block_size!r}")
        self._require("configure")
        self._channels, self._block = names, int(block_size)
        return rate

    def start(self) -> None:
        """Start the acquisition at the bench's current time."""
        if not self._channels:
            raise InstrumentError(self.name, "start", "not configured; call configure first")
        self._require("start")
        self.bench.restart()
        self._running = True

    def read(self, timeout: float | None = None) -> AnalogBlock:
        """The next block of every configured channel, quantised and clipped like an ADC."""
        if not self._running:
            raise InstrumentError(self.name, "read", "not started; call start() first")
        self._require("read")
        raw = self.bench.read(self._block)
        data = np.vstack([raw.data[c] for c in self._channels])
        over = np.abs(data) >= self.input_range
        np.clip(data, -self.input_range, self.input_range, out=data)
        if self.resolution_bits is not None:
            step = 2 * self.input_range / 2 ** self.resolution_bits
            np.round(data / step, out=data)
            data *= step
        return AnalogBlock(time=raw.time, data=data, channels=self._channels,
                           sample_rate=self.bench.sample_rate, first_sample=raw.first_sample,
                           overrange=tuple(bool(o) for o in over.any(axis=1)))

    def stop(self) -> None:
        """Stop the acquisition."""
        self._running = False

    def safe(self) -> None:
        """Stop the acquisition (no outputs to switch off)."""
        self._running = False
