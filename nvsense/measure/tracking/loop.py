"""The lock: error signal, PI loop and loss-of-lock detection, one sample at a time.

For each locked line the sample gives N₊ and N₋, the counts at f0 + δ and f0 − δ.  The
normalised error e = (N₋ − N₊)/(N₋ + N₊) (insensitive to the laser power) is turned into the
line's offset x above the dither centre by inverting the calibrated discriminator, and

- the line frequency of the sample is f̂ = f0 + x — the dither centre corrected by the residual
  error, so the reported field does not lag the loop and its noise does not depend on the
  loop gain (within the discriminator's range);
- the PI loop moves the centre: I ← I + kᵢ·x, f0 ← I + kₚ·x.  kᵢ = 1, kₚ = 0 re-centres on
  the last measurement (dead-beat); smaller kᵢ averages the centre over ~1/kᵢ samples.

Lock detection uses the dip depth at the dither points, 1 − (line level / reference level),
over the depth expected when locked (the *quality*: 1 in lock, 0 with no line).  The
reference level is the off-resonance bin's, averaged over ``reference_window`` samples.

- Loss of lock is declared when the quality, averaged over ``window`` samples, falls below
  ``depth_threshold`` (the depth at the capture range): the line moved beyond the capture range
  or its contrast has gone; or when the line level falls below a quarter of the locked level:
  the light has gone.
- A sample is flagged out of lock (``locked`` False) when the loss is declared, when its error
  is at the discriminator's maximum, or when its own quality is far (5σ) below the quality
  its offset implies: the line then sits beyond the discriminator's peak, where the error
  under-reports the offset (during the pull-in after a large step).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .calibration import LIGHT_THRESHOLD, LineCalibration

__all__ = ["LockLoop", "SampleOutcome", "stable_gains"]

#: Share of the discriminator's maximum beyond which a sample is flagged out of lock.
SATURATION_FRACTION = 0.95


def stable_gains(ki: float, kp: float) -> bool:
    """Whether the sampled PI loop on a pure offset is stable (poles inside the unit circle).

    State (Iₖ, xₖ₋₁) with xₖ = −(Iₖ + kₚ·xₖ₋₁) for a still line:
    A = [[1 − kᵢ, −kᵢ·kₚ], [−1, −kₚ]].
    """
    a = np.array([[1 - ki, -ki * kp], [-1.0, -kp]])
    return bool(np.max(np.abs(np.linalg.eigvals(a))) < 1 - 1e-9)


@dataclass(frozen=True)
class SampleOutcome:
    """What one sample told about the lock (arrays over the locked lines).

    Attributes
    ----------
    frequency
        Line frequency f̂ = f0 + x, Hz.
    center
        Dither centre f0 the sample used, Hz.
    error
        Normalised error e.
    quality
        Windowed dip depth over the locked depth (1 when locked, → 0 when the line is gone).
    locked
        All lines in lock for this sample.
    lost
        Why the lock is declared lost (after the window), or None.
    """

    frequency: NDArray[np.float64]
    center: NDArray[np.float64]
    error: NDArray[np.float64]
    quality: NDArray[np.float64]
    locked: bool
    lost: str | None


class LockLoop:
    """PI lock of several lines with loss detection.

    Parameters
    ----------
    lines
        Calibration of each locked line.
    ki, kp
        Integral and proportional gain (per sample).
    window
        Samples averaged by the loss detector.
    reference_window
        Samples the reference level is averaged over (at least ``window``).
    locked_level
        Line level expected in lock (counts/s, or V for a photodiode).
    quality_noise
        Standard deviation of one sample's quality per line from its own counts, and from one
        reference bin, or None to skip the per-sample consistency check (a photodiode, whose
        noise is not known).
    counts
        True for photon counts (levels are counts per second), False for volts.
    """

    def __init__(self, lines: Sequence[LineCalibration], *, ki: float, kp: float, window: int,
                 reference_window: int, locked_level: float,
                 quality_noise: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
                 counts: bool = True) -> None:
        self.lines = tuple(lines)
        self.ki, self.kp = float(ki), float(kp)
        self.window = max(1, int(window))
        self.reference_window = max(self.window, int(reference_window))
        self.locked_level = float(locked_level)
        self.quality_noise = quality_noise
        self.counts = counts
        self._depth = np.array([c.lock_depth for c in self.lines])
        self._threshold = np.array([c.depth_threshold for c in self.lines])
        self._saturation = np.array([c.saturation for c in self.lines])
        self.reset(np.array([c.center for c in self.lines]))

    @property
    def centers(self) -> NDArray[np.float64]:
        """Dither centres for the next sample, Hz."""
        return self._center.copy()

    def reset(self, centers: NDArray[np.float64]) -> None:
        """Lock afresh at ``centers`` (after the initial sweep or a re-acquisition)."""
        self._integral = np.asarray(centers, dtype=float).copy()
        self._center = self._integral.copy()
        # windows with running sums: the loop runs once per sample
        self._lines: deque[NDArray[np.float64]] = deque()
        self._refs: deque[float] = deque()
        self._line_sum = np.zeros(len(self.lines))
        self._ref_sum = 0.0

    def update(self, plus: NDArray[np.float64], minus: NDArray[np.float64], reference: float,
               bin_time: float, periods: int) -> SampleOutcome:
        """Digest one sample (counts or volts summed over each half-cycle's bins)."""
        total = plus + minus
        with np.errstate(invalid="ignore", divide="ignore"):
            error = np.where(total > 0, (minus - plus) / total, 0.0)
        offset = np.array([c.offset(e) for c, e in zip(self.lines, error, strict=True)])
        center = self._center.copy()
        # levels per bin: rate for counts, mean voltage for a photodiode
        scale = 1.0 / bin_time if self.counts else 1.0
        level = total / (2 * periods) * scale
        self._lines.append(level)
        self._line_sum = self._line_sum + level
        if len(self._lines) > self.window:
            self._line_sum = self._line_sum - self._lines.popleft()
        self._refs.append(reference * scale)
        self._ref_sum += reference * scale
        if len(self._refs) > self.reference_window:
            self._ref_sum -= self._refs.popleft()
        line_mean = self._line_sum / len(self._lines)
        ref_mean = self._ref_sum / len(self._refs)
        if ref_mean > 0:
            quality = (1 - line_mean / ref_mean) / self._depth
            sample_quality = (1 - level / ref_mean) / self._depth
        else:
            quality = sample_quality = np.zeros_like(self._depth)
        light = float(np.min(line_mean)) >= LIGHT_THRESHOLD * self.locked_level
        deep_enough = quality >= self._threshold
        lost = None
        if len(self._lines) >= self.window:
            if not light:
                lost = (f"the count rate fell to {np.min(line_mean) / self.locked_level:.0%} "
                        "of the locked level (laser off, or the optics moved?)")
            elif not np.all(deep_enough):
                j = int(np.argmin(quality - self._threshold))
                c = self.lines[j]
                lost = (f"{c.label}: its dip is {quality[j]:.0%} of the locked depth (below "
                        f"{self._threshold[j]:.0%}): the line moved beyond the capture range "
                        f"({c.capture_range / 1e6:.3g} MHz) or its contrast has gone")
        saturated = np.abs(offset) >= SATURATION_FRACTION * self._saturation
        consistent = True
        if self.quality_noise is not None:
            own, per_reference = self.quality_noise
            sigma = np.sqrt(own ** 2 + per_reference ** 2 / len(self._refs))
            expected = np.array([c.depth_ratio(x) for c, x in zip(self.lines, offset,
                                                                   strict=True)])
            consistent = bool(np.all(sample_quality >= expected - 5 * sigma))
        locked = bool(light and np.all(deep_enough) and not np.any(saturated) and consistent)
        # PI update of the dither centres for the next sample
        self._integral = self._integral + self.ki * offset
        self._center = self._integral + self.kp * offset
        return SampleOutcome(frequency=center + offset, center=center, error=error,
                             quality=quality, locked=locked and lost is None, lost=lost)
