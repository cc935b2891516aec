"""From photodiode blocks to demodulated error signals: reference-beam subtraction, then the
software lock-in, for every sensor of the run.

Per sensor the signal and the reference photodiode are demodulated on one lock-in (one
clock, one filter), and the cleaned output is ``z_s − g·z_r``: by linearity, the first harmonic
of the subtracted record ``s − g·r``.  The gain ``g`` is fitted, not set: least squares of the
signal's fluctuations on the reference's, both quadratures, at the lock-in's output
(:class:`DemodSubtraction`, exponential memory :data:`GAIN_MEMORY`).  Fitting there, at the
modulation frequency and within the measurement band, is what the lock needs; a fit on the raw
samples (:class:`nvsense.dsp.AdaptiveSubtraction`) is dominated by the NV signal's own
harmonics of f_m, which in blocks of a few modulation periods scatter the gain by several
per cent.  The error signal of the lock is the cleaned first harmonic, rotated by the phase the
calibration found so that the line's response is all in X.  The raw and cleaned photodiode
records of the first sensor are kept for the last :data:`SUPPRESSION_SAMPLES` samples, to
report the laser-noise suppression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...dsp import ClockReference, SoftwareLockIn, rin_suppression

__all__ = ["GAIN_MEMORY", "SUPPRESSION_SAMPLES", "DemodBlock", "DemodPipeline",
           "DemodSubtraction", "sensor_names"]

#: Memory of the subtraction gain's fit, s.
GAIN_MEMORY = 0.25

#: Photodiode samples kept for the suppression report: 2¹⁸ (1.3 s at 200 kS/s) resolves the
#: 10 Hz edge of the 10–100 Hz band around f_m (:func:`nvsense.dsp.rin_suppression`).
SUPPRESSION_SAMPLES = 1 << 18
#: Fewest kept samples for a suppression report (0.33 s at 200 kS/s: band from 24 Hz).
MIN_SUPPRESSION_SAMPLES = 1 << 16


def sensor_names(channels: Sequence[str]) -> list[str]:
    """Sensors with both a ``.signal`` and a ``.reference`` channel, in channel order."""
    names = [c[: -len(".signal")] for c in channels if c.endswith(".signal")]
    return [n for n in names if f"{n}.reference" in channels]


@dataclass
class DemodBlock:
    """The lock-in outputs of one acquisition block.

    Attributes
    ----------
    time
        Time of each output sample, s (absolute bench time).
    signal, reference, cleaned
        First-harmonic ``X + iY`` (peak amplitude, V) of the raw signal photodiode, the
        reference photodiode and the subtracted record, shape (sensors, samples), in the
        lock-in's frame (not rotated).
    error
        The rotated in-phase part of ``cleaned`` (V): the error signal, (sensors, samples).
    gain
        The subtraction gain of each sensor in this block.
    dc_signal, dc_reference
        Mean photodiode voltages of the block, per sensor (V).
    trigger
        The trigger line at each output sample (the largest value within the sample's
        decimation window, so short TTL pulses are kept), or ``None``.
    """

    time: NDArray[np.float64]
    signal: NDArray[np.complex128]
    reference: NDArray[np.complex128]
    cleaned: NDArray[np.complex128]
    error: NDArray[np.float64]
    gain: NDArray[np.float64]
    dc_signal: NDArray[np.float64]
    dc_reference: NDArray[np.float64]
    trigger: NDArray[np.float64] | None


class DemodSubtraction:
    """The reference gain fitted on demodulated outputs, with exponential memory.

    ``g = Σ Re[(z_s − ⟨z_s⟩)·conj(z_r − ⟨z_r⟩)] / Σ |z_r − ⟨z_r⟩|²`` over both quadratures,
    weighted by ``λ^age`` (λ per output sample from ``memory`` s); the running means follow
    the same memory.  Until ``warmup`` samples are in, the DC ratio of the two photodiodes
    (what cancels a common relative intensity noise exactly) is used.

    Parameters
    ----------
    output_rate
        Output samples per second.
    memory
        Time constant of the fit, s.
    """

    def __init__(self, output_rate: float, memory: float = GAIN_MEMORY,
                 warmup: int = 20) -> None:
        self.lam = math.exp(-1.0 / (memory * output_rate))
        self.warmup = warmup
        self.mean_s: complex | None = None
        self.mean_r: complex | None = None
        self.sr = 0.0
        self.rr = 0.0
        self.count = 0

    def gain(self, zs: NDArray[np.complex128], zr: NDArray[np.complex128],
             dc_ratio: float) -> float:
        """Update with one block's outputs; the gain for this block."""
        lam = self.lam
        for a, b in zip(zs, zr, strict=True):
            if self.mean_s is None:
                self.mean_s, self.mean_r = complex(a), complex(b)
            self.mean_s = lam * self.mean_s + (1 - lam) * a
            self.mean_r = lam * self.mean_r + (1 - lam) * b
            ds, dr = a - self.mean_s, b - self.mean_r
            self.sr = lam * self.sr + float((ds * dr.conjugate()).real)
            self.rr = lam * self.rr + float(abs(dr) ** 2)
            self.count += 1
        if self.count < self.warmup or self.rr <= 0:
            return dc_ratio
        return self.sr / self.rr


class DemodPipeline:
    """Subtraction and demodulation of every sensor, block by block.

    Parameters
    ----------
    sample_rate
        The analog input's rate, S/s.
    modulation_frequency, phase_deg
        The FM played on the acquisition's clock and its phase at sample 0.
    sensors
        Sensor names (``s0``; two for a gradiometer).
    time_constant, order, output_rate
        The lock-in's filter and output rate.
    subtraction
        Fit and subtract the reference (otherwise ``cleaned`` is the raw signal).
    start_time
        Bench time of sample 0, s.
    """

    def __init__(self, sample_rate: float, modulation_frequency: float, phase_deg: float,
                 sensors: Sequence[str], *, time_constant: float, order: int,
                 output_rate: float, subtraction: bool = True, start_time: float = 0.0) -> None:
        self.sensors = list(sensors)
        n = len(self.sensors)
        self.sample_rate = float(sample_rate)
        self.modulation_frequency = float(modulation_frequency)
        self.lockin = SoftwareLockIn(
            sample_rate, ClockReference(modulation_frequency, sample_rate, phase_deg),
            time_constant=time_constant, order=order, output_rate=output_rate,
            n_channels=2 * n, scale="peak", start_time=start_time)
        self.decimation = self.lockin.decimation
        self._subtractors = [DemodSubtraction(self.lockin.output_rate) if subtraction
                             else None for _ in range(n)]
        self.rotation = np.ones(n, dtype=complex)
        self._raw: list[NDArray[np.float64]] = []
        self._clean: list[NDArray[np.float64]] = []
        self._kept = 0

    def set_phase(self, phases: Sequence[float]) -> None:
        """The calibrated phase (rad) of each sensor's line response: the error signal is
        ``Re(z·e^{−iφ})``."""
        self.rotation = np.exp(-1j * np.asarray(phases, dtype=float))

    def process(self, data: NDArray[np.float64], channels: Sequence[str]) -> DemodBlock:
        """Subtract and demodulate one block (rows named by ``channels``)."""
        index = {c: i for i, c in enumerate(channels)}
        n = len(self.sensors)
        rows = []
        for name in self.sensors:
            rows += [data[index[f"{name}.signal"]], data[index[f"{name}.reference"]]]
        stacked = np.vstack(rows)
        dc = stacked.mean(axis=1)
        start = self.lockin.samples_seen
        out = self.lockin.process(stacked)
        z = out.z[:, 0, :]
        signal, reference = z[0::2], z[1::2]
        gains = np.zeros(n)
        for k in range(n):
            sub = self._subtractors[k]
            ratio = dc[2 * k] / dc[2 * k + 1] if dc[2 * k + 1] != 0 else 0.0
            if sub is not None and out.time.size:
                gains[k] = sub.gain(signal[k], reference[k], ratio)
            elif sub is not None:
                gains[k] = ratio
        cleaned_z = signal - gains[:, None] * reference
        self._keep(rows[0], rows[0] - gains[0] * rows[1])
        error = np.real(cleaned_z * self.rotation[:, None])
        trigger = None
        if "trigger" in index and out.time.size:
            trig = data[index["trigger"]]
            d = self.decimation
            # output sample j is the filter at input sample (j + 1)·D − 1 (global index)
            first = -(-(start + 1) // d) * d - 1
            ends = np.arange(first, start + trig.size, d)[: out.time.size] - start
            trigger = np.array([trig[max(0, e - d + 1): e + 1].max() for e in ends])
        return DemodBlock(time=out.time, signal=signal, reference=reference, cleaned=cleaned_z,
                          error=error, gain=gains, dc_signal=dc[0::2],
                          dc_reference=dc[1::2], trigger=trigger)

    def _keep(self, raw: NDArray[np.float64], cleaned: NDArray[np.float64]) -> None:
        self._raw.append(np.array(raw))
        self._clean.append(np.array(cleaned))
        self._kept += raw.size
        while self._raw and self._kept - self._raw[0].size >= SUPPRESSION_SAMPLES:
            self._kept -= self._raw.pop(0).size
            self._clean.pop(0)

    def restart_record(self) -> None:
        """Forget the kept photodiode record (tracking starts: the calibration's sweeps are
        not what the suppression report is about)."""
        self._raw, self._clean, self._kept = [], [], 0

    def suppression(self) -> dict[str, Any] | None:
        """Laser-noise suppression of the first sensor over the kept record (dB, at f_m and
        in the 10–100 Hz sidebands), or ``None`` when no subtraction was made or less than
        :data:`MIN_SUPPRESSION_SAMPLES` were kept.  A shorter record than
        :data:`SUPPRESSION_SAMPLES` resolves less: the band then starts at 8 spectral bins
        (``band_hz`` says which band was used)."""
        if self._subtractors[0] is None or self._kept < MIN_SUPPRESSION_SAMPLES:
            return None
        n = min(SUPPRESSION_SAMPLES, 1 << int(math.log2(self._kept)))
        raw = np.concatenate(self._raw)[-n:]
        clean = np.concatenate(self._clean)[-n:]
        lo = max(10.0, 8 * self.sample_rate / n)
        try:
            rep = rin_suppression(raw, clean, self.sample_rate, self.modulation_frequency,
                                  band=(lo, 100.0), nperseg=n)
        except ValueError:
            return None
        if not (math.isfinite(rep.in_band_db) and math.isfinite(rep.at_modulation_db)):
            return None
        return {"in_band_db": rep.in_band_db, "at_modulation_db": rep.at_modulation_db,
                "band_hz": [lo, 100.0]}
