"""Reference phase for a software lock-in: from the modulation clock or a recorded sync.

Convention (shared by every reference here and by :mod:`nvsense.dsp.lockin`): the reference
phase θ(t) is that of the modulation ``m(t) = sin θ(t)``; θ = 0 at a positive-going zero
crossing of a sine sync, or the rising edge of a TTL sync.  A signal ``A·sin(hθ + φ)`` then
demodulates at harmonic h to ``X = A_rms cos φ``, ``Y = A_rms sin φ`` (the SR860 and MFLI
convention, where X is in phase with the reference sine).

Three sources of θ:

:class:`ClockReference`
    The modulation is generated on the same sample clock as the acquisition (an NI analog
    output driving the microwave source's FM input, clocked with the analog input): θ is
    computed, phase-continuous, from the absolute sample index.  No estimation error.
:class:`ZeroCrossingReference`
    A recorded sync channel (the source's modulation output, a function generator's sync):
    rising crossings of ``level`` (with hysteresis) are located to a fraction of a sample by
    linear interpolation; the phase of each sample follows from the last crossing and the
    period averaged over the previous ``average_periods`` crossings.  Causal, so the result
    does not depend on how the record is cut into blocks.
:class:`PLLReference`
    A software phase-locked loop on the sync channel: a numerically controlled oscillator whose
    phase and frequency are corrected every ``update_interval`` samples by a
    proportional-integral loop from the phase error measured by demodulating the sync (second
    order, damping 1/√2, natural frequency ``2π·loop_bandwidth``).  Tolerates noisy or
    sinusoidal syncs where zero crossings jitter.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ClockReference",
    "PLLReference",
    "Reference",
    "ZeroCrossingReference",
]

_TWO_PI = 2.0 * math.pi


def _positive(name: str, value: object, unit: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a positive number of {unit}, not {value!r}")
    return number


def _block_sync(sync: NDArray[np.float64] | None, n: int, kind: str) -> NDArray[np.float64]:
    """The recorded sync samples of an ``n``-sample block, or ValueError saying what a
    sync-driven reference needs."""
    if sync is None:
        raise ValueError(f"a {kind} needs the recorded sync samples of the block "
                         f"(pass sync=...)")
    sync = np.asarray(sync, dtype=float)
    if sync.shape != (n,):
        raise ValueError(f"sync must hold the {n} samples of the block, got shape "
                         f"{sync.shape}")
    return sync


@runtime_checkable
class Reference(Protocol):
    """What a lock-in asks of its reference."""

    #: Nominal (or current estimated) reference frequency, Hz.
    frequency: float
    #: Whether a recorded sync channel must be passed to :meth:`phases`.
    needs_sync: bool

    def phases(self, start: int, n: int, sync: NDArray[np.float64] | None = None
               ) -> NDArray[np.float64]:
        """Phase θ (radians, wrapped to [0, 2π)) of samples ``start .. start + n − 1``."""
        ...

    def reset(self) -> None:
        """Forget any state (a new acquisition starts)."""
        ...


class ClockReference:
    """A reference generated from the modulation's own sample clock.

    Parameters
    ----------
    frequency
        Modulation frequency, Hz.
    sample_rate
        The acquisition's sample rate, Hz (the modulation is generated on the same clock).
    phase_deg
        θ at sample 0, degrees (the phase of the generated modulation when the acquisition
        starts; 0 for a sine that starts at its positive-going zero crossing).
    """

    needs_sync = False

    def __init__(self, frequency: float, sample_rate: float, phase_deg: float = 0.0) -> None:
        self.frequency = _positive("frequency", frequency, "Hz")
        self.sample_rate = _positive("sample_rate", sample_rate, "Hz")
        if not math.isfinite(float(phase_deg)):
            raise ValueError(f"phase_deg must be a finite number of degrees, not {phase_deg!r}")
        self.phase_deg = float(phase_deg)
        self._ratio = self.frequency / self.sample_rate
        self._offset = (self.phase_deg / 360.0) % 1.0

    def phases(self, start: int, n: int, sync: NDArray[np.float64] | None = None
               ) -> NDArray[np.float64]:
        """θ of samples ``start .. start + n − 1`` from their absolute index (exact continuity:
        a sample's phase does not depend on the block it falls in)."""
        index = np.arange(start, start + n, dtype=np.float64)
        cycles = index * self._ratio
        cycles += self._offset
        np.mod(cycles, 1.0, out=cycles)
        cycles *= _TWO_PI
        return cycles

    def reset(self) -> None:
        """Nothing to forget: the phase follows from the sample index."""
        return None


class ZeroCrossingReference:
    """Reference phase from the rising crossings of a recorded sync channel.

    Parameters
    ----------
    frequency
        Nominal frequency, Hz: used until ``average_periods`` crossings have been seen, and to
        report :attr:`locked`.
    sample_rate
        Sample rate of the sync channel, Hz.
    level
        Crossing level, in the sync's units (0 for a sine centred on 0; ~1.5 V for TTL).
    hysteresis
        The sync must fall below ``level − hysteresis`` before the next rising crossing counts
        (rejects noise on slow edges).
    average_periods
        Periods averaged for the frequency estimate.
    phase_deg
        Phase of the modulation at the sync's rising crossing, degrees (0 when the sync is the
        modulation itself).
    """

    needs_sync = True

    def __init__(self, frequency: float, sample_rate: float, *, level: float = 0.0,
                 hysteresis: float = 0.0, average_periods: int = 4,
                 phase_deg: float = 0.0) -> None:
        self.nominal_frequency = _positive("frequency", frequency, "Hz")
        self.sample_rate = _positive("sample_rate", sample_rate, "Hz")
        if self.nominal_frequency >= self.sample_rate / 4:
            raise ValueError(f"a sync at {frequency:g} Hz is too fast for zero-crossing "
                             f"detection at {sample_rate:g} S/s (needs 4 samples per period "
                             f"at least)")
        if not (math.isfinite(hysteresis) and hysteresis >= 0):
            raise ValueError(f"hysteresis must be ≥ 0, not {hysteresis!r}")
        if isinstance(average_periods, bool) or int(average_periods) != average_periods or \
                average_periods < 1:
            raise ValueError(f"average_periods must be a whole number ≥ 1, "
                             f"not {average_periods!r}")
        self.level = float(level)
        self.hysteresis = float(hysteresis)
        self.average_periods = int(average_periods)
        self._offset = (float(phase_deg) / 360.0) % 1.0
        self.reset()

    def reset(self) -> None:
        """Forget the crossings seen so far."""
        self._crossings: list[float] = []  # absolute sample positions (fractional)
        self._count = 0  # crossings seen in all
        self._armed = False  # below level - hysteresis since the last crossing
        self._last: float | None = None  # last sample of the previous block

    @property
    def frequency(self) -> float:
        """Current frequency estimate (Hz): from the last crossings, else the nominal one."""
        c = self._crossings
        if len(c) > self.average_periods:
            period = (c[-1] - c[-1 - self.average_periods]) / self.average_periods
            return self.sample_rate / period
        return self.nominal_frequency

    @property
    def locked(self) -> bool:
        """Enough crossings seen, and the frequency within 10 % of the nominal one."""
        return (len(self._crossings) > self.average_periods and
                abs(self.frequency / self.nominal_frequency - 1) < 0.1)

    def _find_crossings(self, start: int, sync: NDArray[np.float64]) -> NDArray[np.float64]:
        """Fractional absolute positions of the rising crossings in this block."""
        above = sync >= self.level
        below = sync < self.level - self.hysteresis
        # state[k]: +1 above, -1 below, else the last of those before k (carried over blocks)
        events = np.where(above, 1, np.where(below, -1, 0)).astype(np.int8)
        idx = np.where(events != 0, np.arange(events.size), -1)
        np.maximum.accumulate(idx, out=idx)
        first_state = 1 if not self._armed else -1
        state = np.where(idx >= 0, events[np.maximum(idx, 0)], first_state)
        previous = np.empty_like(state)
        previous[0] = first_state
        previous[1:] = state[:-1]
        rising = np.flatnonzero((state == 1) & (previous == -1))
        self._armed = bool(state[-1] == -1)
        before = np.empty(rising.size)
        if rising.size:
            inside = rising > 0
            before[inside] = sync[rising[inside] - 1]
            if not inside.all():  # the crossing straddles the block boundary
                before[~inside] = self._last if self._last is not None else self.level
        after = sync[rising]
        span = after - before
        frac = np.where(span > 0, (self.level - before) / np.where(span > 0, span, 1.0), 0.0)
        return start + rising - 1 + np.clip(frac, 0.0, 1.0)

    def phases(self, start: int, n: int, sync: NDArray[np.float64] | None = None
               ) -> NDArray[np.float64]:
        """θ of samples ``start .. start + n − 1`` from the sync samples of the same block."""
        sync = _block_sync(sync, n, "ZeroCrossingReference")
        new = self._find_crossings(start, sync)
        self._last = float(sync[-1]) if n else self._last
        m = self.average_periods
        history = np.asarray(self._crossings[-(m + 1):], dtype=float)
        crossings = np.concatenate([history, new])
        first_count = self._count - history.size  # crossing number of crossings[0]
        # periods: for crossing j, average over the m crossings before it (nominal if fewer)
        nominal = self.sample_rate / self.nominal_frequency
        periods = np.full(crossings.size, nominal)
        if crossings.size > m:
            periods[m:] = (crossings[m:] - crossings[:-m]) / m
        counts_total = first_count + np.arange(crossings.size)
        periods[counts_total < m] = nominal
        index = np.arange(start, start + n, dtype=float)
        # last crossing at or before each sample
        j = np.searchsorted(crossings, index, side="right") - 1
        out = np.empty(n)
        have = j >= 0
        jj = j[have]
        cycles = (index[have] - crossings[jj]) / periods[jj]
        out[have] = cycles
        if not have.all():  # no crossing yet: run on the nominal frequency from sample 0
            out[~have] = index[~have] / nominal
        out += self._offset
        np.mod(out, 1.0, out=out)
        out *= _TWO_PI
        self._crossings.extend(new.tolist())
        del self._crossings[:-(m + 1)]
        self._count += new.size
        return out


class PLLReference:
    """A software PLL locked to a recorded sync channel.

    Parameters
    ----------
    frequency
        Free-running (starting) frequency of the oscillator, Hz.
    sample_rate
        Sample rate of the sync channel, Hz.
    loop_bandwidth
        Natural frequency of the loop, Hz (default frequency/100): the bandwidth over which
        the oscillator follows phase and frequency changes of the sync.
    update_interval
        Samples between loop updates (default: one period of the sync, at least 8 samples).
    phase_deg
        Phase of the modulation at the sync's positive-going zero crossing, degrees.

    Notes
    -----
    The first update sets the oscillator's phase to the measured one (fast acquisition); later
    updates apply the PI correction.  :attr:`locked` is true once the last 8 phase errors are
    below 0.05 rad.
    """

    needs_sync = True

    def __init__(self, frequency: float, sample_rate: float, *,
                 loop_bandwidth: float | None = None, update_interval: int | None = None,
                 phase_deg: float = 0.0) -> None:
        self.nominal_frequency = _positive("frequency", frequency, "Hz")
        self.sample_rate = _positive("sample_rate", sample_rate, "Hz")
        if self.nominal_frequency >= self.sample_rate / 4:
            raise ValueError(f"a sync at {frequency:g} Hz is too fast for a PLL at "
                             f"{sample_rate:g} S/s (needs 4 samples per period at least)")
        bw = (self.nominal_frequency / 100 if loop_bandwidth is None
              else _positive("loop_bandwidth", loop_bandwidth, "Hz"))
        if update_interval is None:
            update_interval = max(8, round(self.sample_rate / self.nominal_frequency))
        if isinstance(update_interval, bool) or int(update_interval) != update_interval or \
                update_interval < 2:
            raise ValueError(f"update_interval must be a whole number of samples ≥ 2, "
                             f"not {update_interval!r}")
        self.update_interval = int(update_interval)
        t_update = self.update_interval / self.sample_rate
        if bw * t_update > 0.1:
            raise ValueError(f"loop_bandwidth {bw:g} Hz is too wide for updates every "
                             f"{self.update_interval} samples; use at most "
                             f"{0.1 / t_update:g} Hz")
        self.loop_bandwidth = bw
        wn = _TWO_PI * bw * t_update
        self._kp = math.sqrt(2.0) * wn  # 2ζω_n T, ζ = 1/√2
        self._ki = wn * wn
        self._offset = (float(phase_deg) / 360.0) % 1.0
        self.reset()

    def reset(self) -> None:
        """Back to the free-running oscillator at the nominal frequency."""
        self._cycles = 0.0  # NCO phase (cycles, wrapped) at the start of the current update
        self._step = self.nominal_frequency / self.sample_rate  # cycles per sample
        self._filled = 0  # samples of the current update seen so far
        self._acc = 0j
        self._updates = 0
        self._errors: list[float] = []

    @property
    def frequency(self) -> float:
        """Current oscillator frequency, Hz."""
        return self._step * self.sample_rate

    @property
    def locked(self) -> bool:
        """The last 8 phase errors were all below 0.05 rad."""
        return len(self._errors) >= 8 and max(abs(e) for e in self._errors[-8:]) < 0.05

    def phases(self, start: int, n: int, sync: NDArray[np.float64] | None = None
               ) -> NDArray[np.float64]:
        """θ of the block's samples, updating the loop at every ``update_interval`` boundary."""
        sync = _block_sync(sync, n, "PLLReference")
        out = np.empty(n)
        pos = 0
        length = self.update_interval
        while pos < n:
            take = min(n - pos, length - self._filled)
            k = np.arange(self._filled, self._filled + take, dtype=float)
            cycles = self._cycles + self._step * k
            theta = _TWO_PI * np.mod(cycles, 1.0)
            out[pos:pos + take] = theta
            # phase detector: the sync's component along e^{iθ} (sin θ convention: times i)
            self._acc += complex(np.dot(sync[pos:pos + take], np.exp(-1j * theta)))
            self._filled += take
            pos += take
            if self._filled == length:
                self._update()
        out += _TWO_PI * self._offset
        np.mod(out, _TWO_PI, out=out)
        return out

    def _update(self) -> None:
        error = math.atan2((1j * self._acc).imag, (1j * self._acc).real) if self._acc else 0.0
        advance = self._step * self.update_interval
        if self._updates == 0:
            correction = error / _TWO_PI  # acquire: jump to the measured phase
        else:
            correction = self._kp * error / _TWO_PI
            self._step += self._ki * error / (_TWO_PI * self.update_interval)
        self._cycles = (self._cycles + advance + correction) % 1.0
        self._errors.append(error)
        del self._errors[:-8]
        self._updates += 1
        self._filled = 0
        self._acc = 0j
