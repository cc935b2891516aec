"""A software lock-in amplifier for photodiode records, streaming in blocks.

:class:`SoftwareLockIn` demodulates one or more channels sampled on one clock at the
reference frequency and any of its harmonics, filters the products with N identical RC
stages (:class:`~nvsense.dsp.filters.CascadedRC`, 6·N dB/oct, like the SR860's 6–24 dB/oct
and the MFLI's 6–48 dB/oct) and decimates them to the output rate.  Blocks of any length may
be fed one after the other: the reference phase, the filter states and the decimation phase
carry over, so the outputs are the same as for the whole record processed at once.

Per harmonic h the output is ``Z_h = X + iY = √2 · i · LPF{s(t)·e^{−ihθ(t)}} · e^{−iφ}``
(``scale="rms"``; ``"peak"`` drops the √2), with θ from the reference
(:mod:`nvsense.dsp.reference`: a sine modulation is ``sin θ``) and φ the phase setting.  So
``s = A·sin(hθ + ψ)`` gives ``X = A_rms·cos(ψ − φ)``, ``Y = A_rms·sin(ψ − φ)``, ``R = A_rms``,
``Θ = ψ − φ``: the conventions of the SR860 and MFLI, whose X is in phase with their reference
sine output.

Output sample k of a stream is the filter output at input sample ``(k + 1)·D − 1`` (D the
decimation factor), stamped with that sample's time ``start_time + ((k + 1)·D − 1)/fs``.

Example
-------
>>> import numpy as np
>>> fs, f = 200e3, 10e3
>>> t = np.arange(20000) / fs
>>> lia = SoftwareLockIn(fs, f, time_constant=1e-3, order=4, output_rate=1e3)
>>> out = lia.process(0.5 * np.sin(2 * np.pi * f * t + 0.3))
>>> round(float(out.r[0, 0, -1] * np.sqrt(2)), 4), round(float(out.theta[0, 0, -1]), 4)
(0.5, 0.3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .filters import CascadedRC, check_order, check_time_constant, rc_enbw
from .reference import ClockReference, Reference

__all__ = ["LockInOutput", "SoftwareLockIn"]


@dataclass(frozen=True)
class LockInOutput:
    """One block of demodulated output.

    Attributes
    ----------
    time
        Time stamp of each output sample, s, shape (n_out,).
    z
        ``X + iY`` per channel, harmonic and output sample: shape (n_channels, n_harmonics,
        n_out), in the input's units (RMS unless the lock-in uses ``scale="peak"``).
    harmonics
        The harmonic of each row of ``z``.
    first_sample
        Absolute index of the first input sample of the block.
    """

    time: NDArray[np.float64]
    z: NDArray[np.complex128]
    harmonics: tuple[int, ...]
    first_sample: int

    @property
    def x(self) -> NDArray[np.float64]:
        """In-phase component X."""
        return self.z.real

    @property
    def y(self) -> NDArray[np.float64]:
        """Quadrature component Y."""
        return self.z.imag

    @property
    def r(self) -> NDArray[np.float64]:
        """Magnitude R = √(X² + Y²)."""
        return np.abs(self.z)

    @property
    def theta(self) -> NDArray[np.float64]:
        """Phase Θ = atan2(Y, X), radians in (−π, π]."""
        return np.angle(self.z)

    @property
    def theta_deg(self) -> NDArray[np.float64]:
        """Phase Θ in degrees."""
        return np.degrees(self.theta)

    def harmonic(self, h: int, channel: int = 0) -> NDArray[np.complex128]:
        """``X + iY`` of one channel at harmonic ``h``, shape (n_out,)."""
        try:
            row = self.harmonics.index(h)
        except ValueError:
            raise KeyError(f"harmonic {h} was not demodulated; have {self.harmonics}") from None
        return self.z[channel, row]


class SoftwareLockIn:
    """Multi-channel, multi-harmonic lock-in on a stream of sample blocks.

    Parameters
    ----------
    sample_rate
        Input sample rate, Hz.
    reference
        The modulation frequency in Hz (a :class:`~nvsense.dsp.reference.ClockReference` on
        the same clock, phase 0 at sample 0) or a reference object
        (:class:`~nvsense.dsp.reference.ZeroCrossingReference`,
        :class:`~nvsense.dsp.reference.PLLReference` on a recorded sync channel).
    time_constant
        τ of each RC stage, s.
    order
        Number of RC stages, 1–8 (6–48 dB/oct).
    harmonics
        Harmonics of the reference to demodulate (1 = the modulation frequency).
    output_rate
        Output samples per second; ``sample_rate / output_rate`` must be a whole number.
        ``None``: one output per input sample.
    phase_deg
        Phase setting φ, degrees, subtracted from every harmonic's phase (like the SR860's
        ``PHAS``).
    n_channels
        Number of input channels (rows of each block).
    scale
        ``"rms"`` (lock-in convention) or ``"peak"`` amplitudes.
    start_time
        Time of input sample 0, s (for the output time stamps).
    """

    def __init__(self, sample_rate: float, reference: float | Reference, *,
                 time_constant: float, order: int = 4, harmonics: Sequence[int] = (1,),
                 output_rate: float | None = None, phase_deg: float = 0.0,
                 n_channels: int = 1, scale: Literal["rms", "peak"] = "rms",
                 start_time: float = 0.0) -> None:
        fs = float(sample_rate)
        if not (math.isfinite(fs) and fs > 0):
            raise ValueError(f"sample_rate must be a positive number of Hz, not {sample_rate!r}")
        self.sample_rate = fs
        if isinstance(reference, int | float) and not isinstance(reference, bool):
            reference = ClockReference(float(reference), fs)
        if not isinstance(reference, Reference):
            raise TypeError(f"reference must be a frequency in Hz or a reference object "
                            f"(ClockReference, ZeroCrossingReference, PLLReference), not "
                            f"{reference!r}")
        self.reference = reference
        self.time_constant = check_time_constant(time_constant)
        self.order = check_order(order)
        hs = tuple(int(h) for h in harmonics)
        if not hs or any(h < 1 or h != hh for h, hh in zip(hs, harmonics)) or \
                len(set(hs)) != len(hs):
            raise ValueError(f"harmonics must be distinct whole numbers ≥ 1, not "
                             f"{list(harmonics)!r}")
        top = max(hs) * reference.frequency
        if top >= fs / 2:
            raise ValueError(f"harmonic {max(hs)} of {reference.frequency:g} Hz is "
                             f"{top:g} Hz, above the Nyquist frequency {fs / 2:g} Hz of "
                             f"{fs:g} S/s; sample faster or drop that harmonic")
        self.harmonics = hs
        self.decimation = self._decimation(output_rate)
        self.output_rate = fs / self.decimation
        if not math.isfinite(float(phase_deg)):
            raise ValueError(f"phase_deg must be a finite number of degrees, not {phase_deg!r}")
        self.phase_deg = float(phase_deg)
        if isinstance(n_channels, bool) or int(n_channels) != n_channels or n_channels < 1:
            raise ValueError(f"n_channels must be a whole number ≥ 1, not {n_channels!r}")
        self.n_channels = int(n_channels)
        if scale not in ("rms", "peak"):
            raise ValueError(f"scale must be 'rms' or 'peak', not {scale!r}")
        self.scale = scale
        self.start_time = float(start_time)
        # Z = c·i·LPF(s e^{-ihθ}) e^{-iφ}: c = √2 for RMS, 2 for peak amplitudes
        gain = math.sqrt(2.0) if scale == "rms" else 2.0
        self._factor = gain * 1j * np.exp(-1j * math.radians(self.phase_deg))
        self._filter = CascadedRC(self.order, self.time_constant, fs)
        self._index = 0

    def _decimation(self, output_rate: float | None) -> int:
        if output_rate is None:
            return 1
        rate = float(output_rate)
        if not (math.isfinite(rate) and 0 < rate <= self.sample_rate):
            raise ValueError(f"output_rate must be a positive number of Hz up to the sample "
                             f"rate {self.sample_rate:g}, not {output_rate!r}")
        ratio = self.sample_rate / rate
        d = round(ratio)
        if abs(ratio - d) > 1e-9 * ratio:
            raise ValueError(f"output_rate {rate:g} Hz does not divide the sample rate "
                             f"{self.sample_rate:g} S/s; nearest valid: "
                             f"{self.sample_rate / max(d, 1):g} Hz")
        return d

    @property
    def enbw(self) -> float:
        """Equivalent noise bandwidth of the output filter, Hz (one-sided)."""
        return rc_enbw(self.order, self.time_constant)

    @property
    def samples_seen(self) -> int:
        """Input samples processed since the start (or the last :meth:`reset`)."""
        return self._index

    def reset(self) -> None:
        """Start a new stream: filters discharged, sample index 0, reference reset."""
        self._filter.reset()
        self.reference.reset()
        self._index = 0

    def process(self, block: ArrayLike, sync: ArrayLike | None = None) -> LockInOutput:
        """Demodulate the next block.

        Parameters
        ----------
        block
            Samples, shape (n,) for one channel or (n_channels, n).
        sync
            The recorded sync samples of the same block, shape (n,), when the reference
            needs them.

        Returns
        -------
        LockInOutput
            The output samples whose decimation instants fall in this block (possibly none).
        """
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ValueError(f"block must have shape ({self.n_channels}, n) (or (n,) for one "
                             f"channel), got {np.shape(block)}")
        n = x.shape[1]
        start = self._index
        sync_array = None if sync is None else np.asarray(sync, dtype=np.float64)
        if self.reference.needs_sync and sync_array is None:
            raise ValueError("this lock-in's reference is a recorded sync channel: pass the "
                             "block's sync samples (sync=...)")
        theta = self.reference.phases(start, n, sync_array)
        # e^{-ihθ} for every harmonic: (n_h, n)
        hs = np.asarray(self.harmonics, dtype=float)[:, None]
        ref = np.exp(-1j * (hs * theta[None, :]))
        mixed = x[:, None, :] * ref[None, :, :]
        filtered = self._filter(mixed)
        d = self.decimation
        first = (-(start + 1)) % d  # offset in this block of the first (k+1)·D − 1 index
        picks = np.arange(first, n, d)
        z = filtered[..., picks] * self._factor
        absolute = start + picks
        time = self.start_time + absolute / self.sample_rate
        self._index = start + n
        return LockInOutput(time=time, z=z, harmonics=self.harmonics, first_sample=start)
