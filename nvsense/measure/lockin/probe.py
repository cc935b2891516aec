"""The running acquisition of a lock-in run and the one quantity the lock moves.

:class:`Probe` owns the analog input, the FM drive and the demodulation pipeline while they
run: ``read()`` is one block demodulated.  :class:`Actuator` sets the *control* value ``p``
the lock moves and the calibration sweeps: the carrier frequency (one line, or the three
hyperfine lines of one resonance), or — with dual resonance — the splitting ``S`` of the two
tone groups placed symmetrically about a fixed centre, the lower group frequency-modulated
with the opposite sign.  In every case the error signal is ``X ≈ k·(p − p_line)`` near the
lock point, so the line's position is ``p − X/k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...instruments.errors import LimitError
from .pipeline import DemodBlock, DemodPipeline

__all__ = ["Actuator", "Probe"]


class Actuator:
    """Sets the control value of the lock on the microwave source.

    Parameters
    ----------
    bench
        The bench (its guarded ``mw``).
    hyperfine
        Offsets (Hz) of the tones driven around each locked resonance (``[0]``, or the three
        ¹⁴N lines ``[−A, 0, A]``).
    dual_centre
        Centre (Hz) of the two resonances for dual resonance; ``None``: one resonance, the
        control is the carrier.
    """

    def __init__(self, bench: Any, hyperfine: Sequence[float], dual_centre: float | None
                 ) -> None:
        self.bench = bench
        self.hyperfine = [float(h) for h in hyperfine]
        self.dual_centre = dual_centre
        self.value: float | None = None

    @property
    def multitone(self) -> bool:
        """Whether the source must drive more than one tone."""
        return self.dual_centre is not None or len(self.hyperfine) > 1

    def tones(self, value: float) -> tuple[float, list[float], list[float]]:
        """Carrier, tone offsets and FM signs for control ``value``."""
        if self.dual_centre is None:
            return value, list(self.hyperfine), [1.0] * len(self.hyperfine)
        half = value / 2
        offsets = [-half + h for h in self.hyperfine] + [half + h for h in self.hyperfine]
        signs = [-1.0] * len(self.hyperfine) + [1.0] * len(self.hyperfine)
        return self.dual_centre, offsets, signs

    def frequencies(self, value: float) -> NDArray[np.float64]:
        """Every tone frequency for control ``value`` (for the limit checks)."""
        carrier, offsets, _ = self.tones(value)
        return carrier + np.asarray(offsets)

    def set(self, value: float) -> None:
        """Move the tones to control ``value`` (checked against the bench's limits)."""
        carrier, offsets, signs = self.tones(float(value))
        mw = self.bench.mw
        if self.multitone:
            self.bench.check_settings(frequencies=carrier + np.asarray(offsets))
            if self.value is None or self.dual_centre is None:
                mw.frequency = carrier
            mw.set_tones(offsets, signs)
        else:
            mw.frequency = carrier
        self.value = float(value)

    def check(self, values: NDArray[np.float64], deviation: float) -> None:
        """Every tone of every control value, ± the deviation, against the limits."""
        freqs = np.concatenate([self.frequencies(v) for v in np.atleast_1d(values)])
        self.bench.check_settings(frequencies=np.concatenate([freqs - deviation,
                                                              freqs + deviation]))


class Probe:
    """The acquisition while it runs: blocks in, demodulated blocks out.

    Parameters
    ----------
    bench, analog_input, fm_drive
        The bench and its (guarded) lock-in instruments.
    channels
        Channels acquired (signal and reference of each sensor, and ``trigger`` if any).
    sensors
        Sensor names.
    settings
        The run's :class:`~nvsense.measure.lockin.LockinTrackSettings`.
    block_size
        Samples per block.
    """

    def __init__(self, bench: Any, analog_input: Any, fm_drive: Any, channels: Sequence[str],
                 sensors: Sequence[str], settings: Any, sample_rate: float,
                 block_size: int) -> None:
        self.bench, self.ai, self.fm = bench, analog_input, fm_drive
        self.channels = tuple(channels)
        self.sensors = list(sensors)
        self.settings = settings
        self.sample_rate = float(sample_rate)
        self.block_size = int(block_size)
        self.pipeline: DemodPipeline | None = None
        self.modulation_frequency: float | None = None
        self.blocks = 0
        self.last: DemodBlock | None = None

    def start(self, deviation: float) -> None:
        """Start the FM on the acquisition's clock, then the acquisition (phase 0 at sample
        0), with a fresh pipeline."""
        s = self.settings
        if getattr(self.ai, "running", False):
            self.ai.stop()
        self.ai.configure(list(self.channels), self.sample_rate, self.block_size)
        played = self.fm.start(s.modulation_frequency, deviation, phase_deg=0.0)
        self.modulation_frequency = float(played)
        self.ai.start()
        self.pipeline = DemodPipeline(
            self.sample_rate, played, 0.0, self.sensors, time_constant=s.tau,
            order=s.filter_order, output_rate=s.rate, subtraction=s.reference_subtraction)

    def set_deviation(self, deviation: float) -> None:
        """Change the FM deviation while running: the source's setting, the drive unchanged."""
        if not (np.isfinite(deviation) and deviation > 0):
            raise LimitError(f"FM deviation must be > 0 Hz, not {deviation!r}",
                             quantity="fm_deviation", value=deviation, unit="Hz")
        self.bench.mw.set_fm(float(deviation), source="external")

    def read(self) -> DemodBlock:
        """The next block, demodulated."""
        assert self.pipeline is not None, "Probe.start first"
        block = self.ai.read()
        self.blocks += 1
        self.last = self.pipeline.process(block.data, block.channels)
        return self.last

    def settle_and_average(self, blocks: int = 1) -> NDArray[np.complex128]:
        """Discard one block (the filter settles), then the mean cleaned ``X + iY`` of each
        sensor over ``blocks`` blocks."""
        self.read()
        zs = [self.read().cleaned for _ in range(max(1, blocks))]
        return np.concatenate(zs, axis=1).mean(axis=1)

    def stop(self) -> None:
        """Stop the acquisition and the FM drive (0 V, the source's FM off)."""
        try:
            if getattr(self.ai, "running", True):
                self.ai.stop()
        finally:
            if self.fm is not None:
                self.fm.stop()
