"""Magnetic fields around a simulated sensor: the lab environment and a local test source.

:class:`MagneticEnvironment`
    What every sensor in the room sees (common mode): the mains field at 50 or 60 Hz and its
    harmonics (unshielded labs: nT–µT, REFERENCES.md "MEG context") and urban field noise with
    a 1/f spectrum (nT/√Hz near 1 Hz) over a white floor.
:class:`LocalTestSource`
    A source near one sensor (a current-dipole phantom, or a subject): a 10 Hz rhythm whose
    amplitude waxes and wanes (the alpha rhythm), and an evoked response repeated at
    stimulus onsets, each onset marked on a trigger line (a TTL pulse), as an MEG stimulus
    computer does.  The evoked waveform is a gamma-shaped deflection peaking at ``latency``
    (an M100-like component).

Both produce the field along their ``direction`` (a unit vector in the crystal frame) at
absolute simulated times, continuous from block to block: deterministic parts are functions of
time, noise comes from seeded streaming generators, and stimulus onsets are drawn once, in
order, from their own generator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .noise_sources import PowerLawNoise

__all__ = ["LocalTestSource", "MagneticEnvironment"]


def _unit(direction: ArrayLike, name: str) -> NDArray[np.float64]:
    v = np.asarray(direction, dtype=float)
    norm = float(np.linalg.norm(v)) if v.shape == (3,) else 0.0
    if not (np.all(np.isfinite(v)) and norm > 0):
        raise ValueError(f"{name} must be three finite components, not all zero; got "
                         f"{direction!r}")
    return v / norm


def _non_negative(name: str, value: float) -> float:
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a finite number ≥ 0, not {value!r}")
    return number


class MagneticEnvironment:
    """Mains and urban field noise, common to every sensor of a bench.

    Parameters
    ----------
    sample_rate
        Hz (the acquisition's).
    mains_frequency
        50 or 60 Hz (any positive value is accepted).
    mains_amplitude
        Peak field of the fundamental, T.
    mains_harmonics
        ``{order: amplitude relative to the fundamental}``; default 2nd 5 %, 3rd 30 %, 5th
        10 % (rectifier loads make the odd harmonics strong).
    urban_noise
        ASD of the 1/f field noise at 1 Hz, T/√Hz.
    urban_floor
        White floor of the field noise, T/√Hz.
    direction
        Direction of the environmental field at the sensors (crystal frame).
    rng
        Random generator of the noise.
    """

    def __init__(self, sample_rate: float, *, mains_frequency: float = 50.0,
                 mains_amplitude: float = 100e-9,
                 mains_harmonics: Mapping[int, float] | None = None,
                 urban_noise: float = 1e-9, urban_floor: float = 5e-12,
                 direction: ArrayLike = (1.0, 1.0, 1.0),
                 rng: np.random.Generator | None = None) -> None:
        self.sample_rate = float(sample_rate)
        self.mains_frequency = float(mains_frequency)
        if not (math.isfinite(self.mains_frequency) and self.mains_frequency > 0):
            raise ValueError(f"mains_frequency must be positive (50 or 60 Hz), not "
                             f"{mains_frequency!r}")
        self.mains_amplitude = _non_negative("mains_amplitude", mains_amplitude)
        harmonics = {2: 0.05, 3: 0.3, 5: 0.1} if mains_harmonics is None else mains_harmonics
        self.mains_harmonics = {int(k): _non_negative(f"mains_harmonics[{k}]", v)
                                for k, v in harmonics.items()}
        if any(k < 2 for k in self.mains_harmonics):
            raise ValueError("mains_harmonics keys are harmonic orders ≥ 2")
        self.urban_noise = _non_negative("urban_noise", urban_noise)
        self.urban_floor = _non_negative("urban_floor", urban_floor)
        if self.urban_noise > 0 and self.urban_floor == 0:
            raise ValueError("urban_floor must be > 0 when urban_noise is set (the corner of "
                             "the 1/f part is where it meets the floor)")
        self.direction = _unit(direction, "direction")
        corner = (self.urban_noise / self.urban_floor) ** 2 if self.urban_noise > 0 else 0.0
        self._noise = PowerLawNoise(self.sample_rate, self.urban_floor, corner, alpha=1.0,
                                    f_min=min(0.01, corner / 10) if corner else 0.01, rng=rng)
        # mains phases: fixed, distinct per harmonic (any fixed values do)
        self._phases = {k: 0.7 * k for k in (1, *self.mains_harmonics)}

    def __repr__(self) -> str:
        return (f"MagneticEnvironment(mains_frequency={self.mains_frequency!r}, "
                f"mains_amplitude={self.mains_amplitude!r}, urban_noise={self.urban_noise!r}, "
                f"urban_floor={self.urban_floor!r})")

    def mains(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """The mains field at absolute times ``t`` (deterministic), T."""
        w = 2 * np.pi * self.mains_frequency
        out = self.mains_amplitude * np.sin(w * t + self._phases[1])
        for order, rel in self.mains_harmonics.items():
            out += self.mains_amplitude * rel * np.sin(order * w * t + self._phases[order])
        return out

    def field(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Mains plus the next ``len(t)`` samples of urban noise, T along :attr:`direction`."""
        t = np.asarray(t, dtype=float)
        return self.mains(t) + self._noise(t.size)


class LocalTestSource:
    """A 10 Hz rhythm and a repeated evoked response near one sensor, with its trigger line.

    Parameters
    ----------
    rhythm_amplitude
        Peak field of the rhythm at the near sensor, T (0: none).
    rhythm_frequency
        Hz (10 for the alpha rhythm).
    rhythm_modulation
        Depth (0–1) of the slow waxing and waning of the rhythm's amplitude.
    rhythm_envelope_frequency
        Rate of the waxing and waning, Hz.
    evoked_amplitude
        Peak field of one evoked response at the near sensor, T (0: none).
    latency
        Time from the stimulus to the peak of the response, s.
    shape
        Sharpness k of the gamma-shaped response ``(τ/latency)^k e^{k(1 − τ/latency)}``
        (FWHM ≈ 2.35·latency/√k).
    interval
        Mean time between stimuli, s.
    jitter
        Stimulus times vary uniformly by ± this, s (avoids locking to the mains).
    first_onset
        Time of the first stimulus, s (simulated time).
    trigger_width, trigger_level
        The TTL pulse marking each onset: length (s) and high level (V).
    direction
        Direction of the source's field at the near sensor (crystal frame).
    rng
        Random generator of the onset jitter.
    """

    def __init__(self, *, rhythm_amplitude: float = 2e-12, rhythm_frequency: float = 10.0,
                 rhythm_modulation: float = 0.5, rhythm_envelope_frequency: float = 0.2,
                 evoked_amplitude: float = 1e-12, latency: float = 0.1, shape: float = 8.0,
                 interval: float = 1.0, jitter: float = 0.1, first_onset: float = 0.5,
                 trigger_width: float = 5e-3, trigger_level: float = 5.0,
                 direction: ArrayLike = (1.0, 1.0, 1.0),
                 rng: np.random.Generator | None = None) -> None:
        self.rhythm_amplitude = _non_negative("rhythm_amplitude", rhythm_amplitude)
        self.rhythm_frequency = _non_negative("rhythm_frequency", rhythm_frequency)
        self.rhythm_modulation = _non_negative("rhythm_modulation", rhythm_modulation)
        if self.rhythm_modulation > 1:
            raise ValueError(f"rhythm_modulation is a depth in [0, 1], not {rhythm_modulation}")
        self.rhythm_envelope_frequency = _non_negative("rhythm_envelope_frequency",
                                                       rhythm_envelope_frequency)
        self.evoked_amplitude = _non_negative("evoked_amplitude", evoked_amplitude)
        self.latency = _non_negative("latency", latency)
        self.shape = _non_negative("shape", shape)
        self.interval = _non_negative("interval", interval)
        self.jitter = _non_negative("jitter", jitter)
        if self.latency <= 0 or self.shape < 1:
            raise ValueError("latency must be > 0 s and shape ≥ 1")
        if not self.interval > 2 * self.jitter:
            raise ValueError(f"interval ({interval} s) must exceed twice the jitter "
                             f"({jitter} s) so that stimuli stay in order")
        self.first_onset = float(first_onset)
        self.trigger_width = _non_negative("trigger_width", trigger_width)
        self.trigger_level = _non_negative("trigger_level", trigger_level)
        self.direction = _unit(direction, "direction")
        self.rng = rng if rng is not None else np.random.default_rng()
        self._onsets: list[float] = []
        self._next_nominal = self.first_onset
        #: The response lasts until it has decayed below 1e-6 of its peak.
        self.duration = self._response_duration()

    def __repr__(self) -> str:
        return (f"LocalTestSource(rhythm_amplitude={self.rhythm_amplitude!r}, "
                f"evoked_amplitude={self.evoked_amplitude!r}, latency={self.latency!r}, "
                f"interval={self.interval!r})")

    def _response_duration(self) -> float:
        u = np.linspace(1.0, 50.0, 20000)
        tail = u[self.shape * (np.log(u) + 1 - u) < math.log(1e-6)]
        return float(tail[0] * self.latency) if tail.size else 50 * self.latency

    def evoked_waveform(self, tau: ArrayLike) -> NDArray[np.float64]:
        """One evoked response at times ``tau`` after its stimulus, T (0 before it)."""
        tau = np.asarray(tau, dtype=float)
        u = np.maximum(tau, 0.0) / self.latency
        with np.errstate(divide="ignore"):
            log = self.shape * (np.log(u) + 1.0 - u)
        out = self.evoked_amplitude * np.exp(log)
        return np.where(tau > 0, out, 0.0)

    def onsets(self, until: float) -> list[float]:
        """Stimulus times up to ``until`` (drawn once, in order, and remembered)."""
        while self._next_nominal <= until:
            jitter = self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
            self._onsets.append(self._next_nominal + jitter)
            self._next_nominal += self.interval
        return [t for t in self._onsets if t <= until]

    def rhythm(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """The rhythm at absolute times ``t``, T."""
        if self.rhythm_amplitude == 0:
            return np.zeros(np.shape(t))
        envelope = 1.0 + self.rhythm_modulation * np.sin(
            2 * np.pi * self.rhythm_envelope_frequency * t)
        return (self.rhythm_amplitude / (1 + self.rhythm_modulation) * envelope
                * np.sin(2 * np.pi * self.rhythm_frequency * t))

    def evoked(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """The sum of the evoked responses at absolute times ``t``, T."""
        t = np.asarray(t, dtype=float)
        out = np.zeros(t.shape)
        if self.evoked_amplitude == 0 or t.size == 0:
            return out
        for onset in self.onsets(float(t[-1]) + self.jitter):
            if onset + self.duration < t[0] or onset > t[-1]:
                continue
            lo, hi = np.searchsorted(t, [onset, onset + self.duration])
            out[lo:hi] += self.evoked_waveform(t[lo:hi] - onset)
        return out

    def field(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Rhythm plus evoked responses at absolute times ``t``, T along :attr:`direction`."""
        return self.rhythm(np.asarray(t, dtype=float)) + self.evoked(t)

    def trigger(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """The trigger line at absolute times ``t``: ``trigger_level`` for ``trigger_width``
        from each stimulus onset, 0 otherwise (V)."""
        t = np.asarray(t, dtype=float)
        out = np.zeros(t.shape)
        if t.size == 0:
            return out
        for onset in self.onsets(float(t[-1])):
            if onset + self.trigger_width < t[0]:
                continue
            lo, hi = np.searchsorted(t, [onset, onset + self.trigger_width])
            out[lo:hi] = self.trigger_level
        return out

    def onsets_between(self, start: float, stop: float) -> NDArray[np.float64]:
        """Stimulus times in [start, stop), s (for checks: the truth behind the trigger)."""
        return np.array([t for t in self.onsets(stop) if start <= t < stop])
