"""The simulated photodiode sensor chain: NV fluorescence at 10¹⁴–10¹⁵ photons/s, read by a
signal photodiode, with a reference photodiode on a pick-off of the same laser.

One :class:`SimulatedPhotodiodeBench` produces, block after block at the acquisition's sample
rate (≥ 200 kS/s), the voltages an NI analog input would record:

- ``<sensor>.signal``: transimpedance × photocurrent of the NV fluorescence,
  ``I_s = q·QE·R_s·(1 + rin(t))·(1 − Σ_k L_k(t))`` plus shot noise ``√(2qI)`` and optional
  amplifier noise;
- ``<sensor>.reference``: the same for the reference beam, ``q·QE·R_r·(1 + rin(t))``: the same
  laser noise, its own shot noise, no NV signal;
- ``sync``: the modulation waveform m(t) (±1 V at full deviation), as a modulation output or
  the analog output driving the source's FM input;
- ``trigger``: the test source's stimulus line (TTL).

The NV part reuses the sample of the simulated bench (:class:`SimulatedSample`): its resonance
lines (Hamiltonian, D(T), strain, every configured axis, 14N/15N hyperfine components), their
contrast and width at the source's power, the laser state (the photon rate scales with the
detected rate), and the microwave state (CW frequency, power, output, FM).  Per sample:

- the instantaneous microwave frequency ``f(t) = f_c + δ·m(t) + δf_φ(t)``: sine FM at the
  internal rate, or an external drive (:class:`SineDrive`, e.g. an analog output on the
  acquisition's clock) scaled by δ at ±1 V, plus the frequency noise of the source's phase
  noise; with several tones (``SimulatedMicrowave.set_tones``: dual resonance, hyperfine
  drive) each tone at ``f_c + offset ± δ·m(t)`` (its FM sign), the power shared equally;
- lines ``ν_k(t) = ν_k(0) + J_k·B(t) + (∂ν_k/∂D)·δD(t)``: linearised around the static field
  (the fields here are fT–µT, where the linearisation error is far below the noise), with
  ``B(t)`` the environment (common to all sensors) and the test source (near one sensor), each
  multiplied by the sensor's flux-concentrator gain, and ``δD(t)`` a temperature drift;
- Lorentzian dips of the lines' contrast and width at the instantaneous microwave power
  (amplitude noise of the source changes the saturation parameter);
- laser relative intensity noise with a 1/f part below a corner and white above
  (:class:`LaserNoise`), one realisation seen by every photodiode.

Every noise source has its own seeded generator; a record drawn in blocks of any size is the
record drawn at once.  ``read`` advances the samples' simulated clock by the block's length.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...physics import DZFS_DT_HZ_PER_K, NV_AXES, hyperfine_offsets, transition_frequencies
from ...physics.lockin_sensitivity import ELEMENTARY_CHARGE_C
from ...units import parse_quantity
from .environment import LocalTestSource, MagneticEnvironment
from .noise_sources import PowerLawNoise, spawn_generators
from .sample import SimulatedSample

__all__ = [
    "LaserNoise",
    "MicrowaveNoise",
    "PhotodiodeBlock",
    "PhotodiodeConfig",
    "PhotodiodeSensor",
    "SimulatedPhotodiodeBench",
    "SineDrive",
]

#: Lines farther than this many linewidths (beyond the FM deviation) from the carrier are
#: evaluated once per block at the carrier: their tails change by < 1e-4 of their depth over it.
_FAR_LINEWIDTHS = 100.0


def _quantity(value: Any, unit: str, name: str, *, minimum: float | None = 0.0,
              positive: bool = False) -> float:
    number = parse_quantity(value, unit, name=name) if isinstance(value, str) else float(value)
    if not math.isfinite(number) or (positive and number <= 0) or \
            (minimum is not None and number < minimum):
        need = "> 0" if positive else f"≥ {minimum:g}"
        raise ValueError(f"{name} must be a finite number {need} ({unit}), not {value!r}")
    return number


@dataclass(frozen=True)
class PhotodiodeConfig:
    """One sensor head's optics and detectors (SI floats; strings with units accepted).

    Attributes
    ----------
    photon_rate
        Photons/s on the signal photodiode off resonance, at the sample's
        ``laser_reference_power`` (10¹⁴–10¹⁵ for ensemble magnetometers; 1 mW at 700 nm is
        3.5×10¹⁵/s).
    reference_photon_rate
        Photons/s on the reference photodiode (default: the same, a balanced pick-off).
    quantum_efficiency
        Electrons per photon of both photodiodes (Si at 700 nm: ≈ 0.85).
    transimpedance
        Gain of the photodiode amplifiers, V/A.
    amplifier_noise
        Input-referred current noise of each amplifier, A/√Hz (white).
    flux_concentrator_gain
        Factor by which flux concentrators amplify external fields at the NV layer (1: none).
    environment_gain
        Fraction of the room's environmental field this sensor sees (1: common mode; a
        gradiometer's second sensor may differ slightly).
    source_coupling
        Fraction of the test source's field (at the near sensor) this sensor sees: 1 near
        the source, ~0.01–0.1 a few cm away.
    temperature_drift
        Linear drift of the sample temperature, K/s (moves D by −74 kHz/K).
    temperature_wander, temperature_wander_period
        Amplitude (K) and period (s) of a slow sinusoidal temperature wander.
    """

    photon_rate: float = 5e14
    reference_photon_rate: float | None = None
    quantum_efficiency: float = 0.85
    transimpedance: float = 1e4
    amplifier_noise: float = 0.0
    flux_concentrator_gain: float = 1.0
    environment_gain: float = 1.0
    source_coupling: float = 1.0
    temperature_drift: float = 0.0
    temperature_wander: float = 0.0
    temperature_wander_period: float = 600.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "photon_rate",
             _quantity(self.photon_rate, "1/s", "photon_rate", positive=True))
        if self.reference_photon_rate is not None:
            set_(self, "reference_photon_rate",
                 _quantity(self.reference_photon_rate, "1/s", "reference_photon_rate",
                           positive=True))
        qe = float(self.quantum_efficiency)
        if not 0 < qe <= 1:
            raise ValueError(f"quantum_efficiency must be in (0, 1], not {qe!r}")
        set_(self, "transimpedance",
             _quantity(self.transimpedance, "V/A", "transimpedance", positive=True))
        set_(self, "amplifier_noise", _quantity(self.amplifier_noise, "A", "amplifier_noise"))
        set_(self, "flux_concentrator_gain",
             _quantity(self.flux_concentrator_gain, "", "flux_concentrator_gain",
                       positive=True))
        for name in ("environment_gain", "source_coupling"):
            set_(self, name, _quantity(getattr(self, name), "", name, minimum=None))
        set_(self, "temperature_drift",
             _quantity(self.temperature_drift, "K/s", "temperature_drift", minimum=None))
        set_(self, "temperature_wander",
             _quantity(self.temperature_wander, "K", "temperature_wander"))
        set_(self, "temperature_wander_period",
             _quantity(self.temperature_wander_period, "s", "temperature_wander_period",
                       positive=True))


@dataclass(frozen=True)
class LaserNoise:
    """Relative intensity noise of the excitation laser: ASD ``white·√(1 + (corner/f)^α)``.

    Defaults: −120 dB/Hz (10⁻⁶/√Hz) white above a 10 kHz corner, 1/f below it, i.e.
    10⁻⁵/√Hz at 100 Hz and 10⁻⁴/√Hz at 1 Hz (green DPSS lasers: 10⁻⁴–10⁻³ /√Hz at
    1–100 Hz, falling with frequency; REFERENCES.md).  ``enabled=False`` turns it off.
    """

    white: float = 1e-6
    corner: float = 1e4
    alpha: float = 1.0
    enabled: bool = True


@dataclass(frozen=True)
class MicrowaveNoise:
    """Noise of the microwave source (0 turns a part off).

    Attributes
    ----------
    amplitude_white, amplitude_corner
        Relative power noise δP/P: white ASD (1/√Hz) and its 1/f corner (Hz).
    phase_white, phase_corner
        Phase noise ASD (rad/√Hz) and the corner (Hz) below which it rises as 1/f² (a
        random-walk phase, the close-in noise of a synthesiser).  The NV sees the
        instantaneous frequency offset ``(1/2π)·dφ/dt``.
    """

    amplitude_white: float = 0.0
    amplitude_corner: float = 0.0
    phase_white: float = 0.0
    phase_corner: float = 0.0


@dataclass(frozen=True)
class SineDrive:
    """A sine on the acquisition's clock driving the source's external FM input.

    Models an NI analog output clocked with the analog input (or a lock-in's sine out on a
    shared timebase): ``v(t) = amplitude·sin(2π·frequency·(t − t_start) + phase)`` with
    ``t_start`` the start of the acquisition, so a software lock-in on that clock knows the
    reference phase exactly (:class:`nvsense.dsp.ClockReference` with ``phase_deg``).
    """

    frequency: float
    amplitude: float = 1.0
    phase_deg: float = 0.0

    def __call__(self, t_since_start: NDArray[np.float64]) -> NDArray[np.float64]:
        """The drive voltage at times since the acquisition started."""
        return self.amplitude * np.sin(2 * np.pi * self.frequency * t_since_start
                                       + math.radians(self.phase_deg))


@dataclass
class PhotodiodeBlock:
    """One block of the simulated acquisition.

    Attributes
    ----------
    time
        Absolute simulated time of each sample, s.
    data
        Voltage of each channel (``"<sensor>.signal"``, ``"<sensor>.reference"``, ``"sync"``,
        ``"trigger"``), V.
    truth
        What was simulated, for checks: ``"<sensor>.environment"`` and ``"<sensor>.source"``
        (field at the NV along each field's direction, T, concentrator gain included),
        ``"<sensor>.zfs_shift"`` (Hz), ``"<sensor>.frequency"`` (instantaneous microwave
        frequency, Hz).
    first_sample
        Index of the block's first sample in the acquisition.
    """

    time: NDArray[np.float64]
    data: dict[str, NDArray[np.float64]]
    truth: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    first_sample: int = 0


class PhotodiodeSensor:
    """One sensor head: an NV sample and its two photodiodes.

    Parameters
    ----------
    sample
        The NV sample and instrument state (shared with the simulated microwave source and
        laser).  Two sensors driven by one microwave source share one sample.
    config
        :class:`PhotodiodeConfig` or a mapping of its fields.
    name
        Channel prefix (``"s0"``).
    """

    def __init__(self, sample: SimulatedSample,
                 config: PhotodiodeConfig | Mapping[str, Any] | None = None,
                 name: str = "s0") -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"sensor name must be a non-empty string without '.', "
                             f"not {name!r}")
        self.sample = sample
        self.config = (config if isinstance(config, PhotodiodeConfig)
                       else PhotodiodeConfig(**dict(config or {})))
        self.name = name

    def __repr__(self) -> str:
        return f"PhotodiodeSensor({self.name!r}, photon_rate={self.config.photon_rate:g})"


@dataclass
class _Linearisation:
    key: tuple[float, ...]
    lines: NDArray[np.float64]  # (L,) Hz
    d_line_d_field: NDArray[np.float64]  # (L, 3) Hz/T
    d_line_d_zfs: NDArray[np.float64]  # (L,)


class SimulatedPhotodiodeBench:
    """Signal and reference photodiodes of one or more sensors, sampled on one clock.

    Parameters
    ----------
    sensors
        One :class:`PhotodiodeSensor` or several (a gradiometer).
    sample_rate
        Samples per second of every channel (≥ 200 kS/s for FM lock-in detection).
    laser_noise
        :class:`LaserNoise` (one laser for all sensors).
    microwave_noise
        :class:`MicrowaveNoise` of the source(s).
    environment
        The room's field (:class:`MagneticEnvironment`), or ``None`` for a quiet room.
        Build it with :meth:`make_environment` to give it a generator from ``seed``.
    test_source
        A :class:`LocalTestSource` (its field reaches each sensor times its
        ``source_coupling``), or ``None``.
    fm_drive
        What drives the source's external FM input (:class:`SineDrive` or any callable of the
        time since the acquisition started), used while the source's FM is external.
    seed
        Seed of every noise generator (``None``: the first sensor's sample seed).
    """

    def __init__(self, sensors: PhotodiodeSensor | Sequence[PhotodiodeSensor], *,
                 sample_rate: float = 200e3, laser_noise: LaserNoise | None = None,
                 microwave_noise: MicrowaveNoise | None = None,
                 environment: MagneticEnvironment | None = None,
                 test_source: LocalTestSource | None = None,
                 fm_drive: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None,
                 seed: int | None = None) -> None:
        self.sensors = [sensors] if isinstance(sensors, PhotodiodeSensor) else list(sensors)
        if not self.sensors:
            raise ValueError("give at least one PhotodiodeSensor")
        names = [s.name for s in self.sensors]
        if len(set(names)) != len(names):
            raise ValueError(f"sensor names must differ, got {names}")
        fs = _quantity(sample_rate, "Hz", "sample_rate", positive=True)
        self.sample_rate = fs
        self.laser_noise = laser_noise or LaserNoise()
        self.microwave_noise = microwave_noise or MicrowaveNoise()
        self.environment = environment
        self.test_source = test_source
        self.fm_drive = fm_drive
        if seed is None:
            seed = self.sensors[0].sample.seed
        self.seed = seed
        n_sensors = len(self.sensors)
        # generators: laser, then per sensor (signal shot, reference shot, amplifiers),
        # then per sensor the microwave amplitude and phase noise
        rngs = spawn_generators(seed, 1 + 5 * n_sensors)
        lz = self.laser_noise
        self._rin = (PowerLawNoise(fs, lz.white, lz.corner, alpha=lz.alpha, rng=rngs[0])
                     if lz.enabled and lz.white > 0 else None)
        mw = self.microwave_noise
        self._shot: list[tuple[np.random.Generator, np.random.Generator]] = []
        self._mw_amplitude: list[PowerLawNoise] = []
        self._mw_phase: list[PowerLawNoise] = []
        for i in range(n_sensors):
            base = 1 + 5 * i
            self._shot.append((rngs[base], rngs[base + 1]))
            self._mw_amplitude.append(PowerLawNoise(fs, mw.amplitude_white, mw.amplitude_corner,
                                                    rng=rngs[base + 3]))
            self._mw_phase.append(PowerLawNoise(fs, mw.phase_white, mw.phase_corner,
                                                alpha=2.0, rng=rngs[base + 4]))
        self._amp_rng = [rngs[1 + 5 * i + 2] for i in range(n_sensors)]
        self._last_phase = np.zeros(n_sensors)
        self._index = 0
        self._start_time: float | None = None
        self._linear: dict[int, _Linearisation] = {}

    @staticmethod
    def make_environment(sample_rate: float, seed: int | None, **options: Any
                         ) -> MagneticEnvironment:
        """A :class:`MagneticEnvironment` whose noise generator derives from ``seed``."""
        rng = spawn_generators(None if seed is None else seed + 1_000_003, 1)[0]
        return MagneticEnvironment(sample_rate, rng=rng, **options)

    @staticmethod
    def make_test_source(seed: int | None, **options: Any) -> LocalTestSource:
        """A :class:`LocalTestSource` whose onset jitter derives from ``seed``."""
        rng = spawn_generators(None if seed is None else seed + 2_000_003, 1)[0]
        return LocalTestSource(rng=rng, **options)

    # --- channels and time ----------------------------------------------------------------

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of the channels :meth:`read` returns."""
        names = []
        for s in self.sensors:
            names += [f"{s.name}.signal", f"{s.name}.reference"]
        return (*names, "sync", "trigger")

    @property
    def samples_read(self) -> int:
        """Samples per channel produced since the acquisition started."""
        return self._index

    @property
    def start_time(self) -> float | None:
        """Simulated time of the acquisition's first sample (``None`` before the first read)."""
        return self._start_time

    def modulation_phase_deg(self) -> float | None:
        """Phase (degrees) of the modulation at the acquisition's first sample, when it is
        known in advance: an external :class:`SineDrive` starts at its ``phase_deg``; internal
        FM has phase ``360°·rate·t`` at absolute time t."""
        mw = self.sensors[0].sample.mw
        if not mw.fm_enabled:
            return None
        if not mw.fm_internal:
            return self.fm_drive.phase_deg if isinstance(self.fm_drive, SineDrive) else None
        t0 = self._start_time if self._start_time is not None else self.sensors[0].sample.time
        return (360.0 * mw.fm_rate * t0) % 360.0

    # --- physics --------------------------------------------------------------------------

    def _linearisation(self, sample: SimulatedSample) -> _Linearisation:
        """Lines and their derivatives w.r.t. field and D at the sample's static state."""
        field_now = sample.field_at()
        key = (*(float(b) for b in field_now), sample.zfs)
        cached = self._linear.get(id(sample))
        if cached is not None and cached.key == key:
            return cached
        cfg = sample.config
        axes = NV_AXES[list(cfg.axes)]
        hf = hyperfine_offsets(cfg.nucleus)

        def lines(b: NDArray[np.float64], zfs: float) -> NDArray[np.float64]:
            f = transition_frequencies(b, zfs, cfg.strain, axes)  # (axes, 2)
            return (f[..., None] + hf).ravel()

        base = lines(field_now, sample.zfs)
        eps = 1e-7
        jac = np.empty((base.size, 3))
        for j in range(3):
            step = np.zeros(3)
            step[j] = eps
            jac[:, j] = (lines(field_now + step, sample.zfs)
                         - lines(field_now - step, sample.zfs)) / (2 * eps)
        d_zfs = (lines(field_now, sample.zfs + 1e3) - lines(field_now, sample.zfs - 1e3)) / 2e3
        lin = _Linearisation(key, base, jac, d_zfs)
        self._linear[id(sample)] = lin
        return lin

    def _modulation(self, sample: SimulatedSample, t: NDArray[np.float64]
                    ) -> NDArray[np.float64]:
        """m(t): the FM waveform in units of the deviation (±1 at full scale)."""
        mw = sample.mw
        if not (mw.fm_enabled and mw.fm_deviation > 0):
            return np.zeros(t.size)
        if mw.fm_internal:
            return np.sin(2 * np.pi * mw.fm_rate * t)
        if self.fm_drive is None:
            return np.zeros(t.size)  # nothing drives the external input
        assert self._start_time is not None
        return np.clip(np.asarray(self.fm_drive(t - self._start_time), dtype=float), -1, 1)

    def _dips(self, i: int, sensor: PhotodiodeSensor, t: NDArray[np.float64],
              modulation: NDArray[np.float64], b_env: NDArray[np.float64],
              b_src: NDArray[np.float64], truth: dict[str, NDArray[np.float64]]
              ) -> NDArray[np.float64]:
        """Σ_k L_k(t) for one sensor."""
        sample, cfg = sensor.sample, sensor.config
        n = t.size
        carriers, power = sample.bin_frequencies(1, trigger_mw=False)
        carrier = float(carriers[0])
        mw = sample.mw
        # instantaneous frequency: carrier, FM, and the phase noise's frequency offset
        phase = self._mw_phase[i](n)
        dphi = np.diff(np.concatenate([[self._last_phase[i]], phase]))
        self._last_phase[i] = phase[-1] if n else self._last_phase[i]
        f_inst = carrier + mw.fm_deviation * modulation + dphi * self.sample_rate / (2 * np.pi)
        truth[f"{sensor.name}.frequency"] = f_inst
        if not mw.output:
            return np.zeros(n)
        lin = self._linearisation(sample)
        # lines follow the external field and D
        shift_b = np.zeros((lin.lines.size, n))
        if self.environment is not None:
            g = lin.d_line_d_field @ self.environment.direction
            shift_b += np.outer(g, b_env)
        if self.test_source is not None:
            g = lin.d_line_d_field @ self.test_source.direction
            shift_b += np.outer(g, b_src)
        d_temp = (cfg.temperature_drift * (t - (self._start_time or 0.0))
                  + cfg.temperature_wander * np.sin(2 * np.pi * t
                                                    / cfg.temperature_wander_period))
        zfs_shift = DZFS_DT_HZ_PER_K * d_temp
        truth[f"{sensor.name}.zfs_shift"] = zfs_shift
        # several tones (dual resonance, hyperfine drive) share the power equally
        tones = mw.tones or ((0.0, 1.0),)
        if len(tones) > 1:
            power = power - 10 * math.log10(len(tones))
        # contrast and width at the instantaneous power (amplitude noise: δP/P)
        contrast0, width0 = sample.dip_parameters(power)
        rel = self._mw_amplitude[i](n)
        if np.any(rel):
            eps = 1e-3
            contrast1, width1 = sample.dip_parameters(power + 10 * math.log10(1 + eps))
            d_contrast = (contrast1 - contrast0) / eps
            d_width = (width1 - width0) / eps
        reach = mw.fm_deviation + _FAR_LINEWIDTHS * width0
        total = np.zeros(n)
        for offset, sign in tones:
            tone = carrier + offset
            f_tone = f_inst + offset if sign > 0 else \
                f_inst + offset - 2 * mw.fm_deviation * modulation
            near = np.abs(lin.lines - tone) <= reach
            far = ~near
            if far.any():  # tails of distant lines: once per block, at the tone
                hw = 0.5 * width0
                x = tone - lin.lines[far]
                total += float(np.sum(contrast0[far] * hw * hw / (x * x + hw * hw)))
            for k in np.flatnonzero(near):
                nu = lin.lines[k] + shift_b[k] + lin.d_line_d_zfs[k] * zfs_shift
                if np.any(rel):
                    c = contrast0[k] + d_contrast[k] * rel
                    hw = 0.5 * (width0 + d_width * rel)
                    hw2 = hw * hw
                else:
                    c = contrast0[k]
                    hw2 = 0.25 * width0 * width0
                x = f_tone - nu
                total += c * hw2 / (x * x + hw2)
        return total

    # --- acquisition ----------------------------------------------------------------------

    def read(self, n: int) -> PhotodiodeBlock:
        """The next ``n`` samples of every channel; advances the simulated clock by n/fs."""
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"n must be a whole number of samples ≥ 1, not {n!r}")
        n = int(n)
        fs = self.sample_rate
        first = self.sensors[0].sample
        if self._start_time is None:
            self._start_time = first.now()
        t0 = self._start_time + self._index / fs
        t = t0 + np.arange(n) / fs
        data: dict[str, NDArray[np.float64]] = {}
        truth: dict[str, NDArray[np.float64]] = {}
        rin = self._rin(n) if self._rin is not None else np.zeros(n)
        env = self.environment.field(t) if self.environment is not None else np.zeros(n)
        src = self.test_source.field(t) if self.test_source is not None else np.zeros(n)
        q = ELEMENTARY_CHARGE_C
        for i, sensor in enumerate(self.sensors):
            cfg = sensor.config
            sample = sensor.sample
            b_env = cfg.flux_concentrator_gain * cfg.environment_gain * env
            b_src = cfg.flux_concentrator_gain * cfg.source_coupling * src
            truth[f"{sensor.name}.environment"] = b_env
            truth[f"{sensor.name}.source"] = b_src
            modulation = self._modulation(sample, t)
            dips = self._dips(i, sensor, t, modulation, b_env, b_src, truth)
            laser = sample.detected_rate() / sample.config.count_rate  # 1 at reference power
            rate_s = cfg.photon_rate * laser
            rate_r = (cfg.reference_photon_rate or cfg.photon_rate) * laser
            current_s = q * cfg.quantum_efficiency * rate_s * (1 + rin) * (1 - dips)
            current_r = q * cfg.quantum_efficiency * rate_r * (1 + rin)
            shot_s, shot_r = self._shot[i]
            # shot noise √(2qI) one-sided over fs/2: per-sample σ = √(q·I·fs)
            current_s = current_s + np.sqrt(q * np.maximum(current_s, 0) * fs) * \
                shot_s.standard_normal(n)
            current_r = current_r + np.sqrt(q * np.maximum(current_r, 0) * fs) * \
                shot_r.standard_normal(n)
            if cfg.amplifier_noise > 0:
                sigma = cfg.amplifier_noise * math.sqrt(fs / 2)
                noise = self._amp_rng[i].standard_normal((n, 2)).T * sigma  # block-proof
                current_s = current_s + noise[0]
                current_r = current_r + noise[1]
            data[f"{sensor.name}.signal"] = cfg.transimpedance * current_s
            data[f"{sensor.name}.reference"] = cfg.transimpedance * current_r
        data["sync"] = self._modulation(first, t)
        data["trigger"] = (self.test_source.trigger(t) if self.test_source is not None
                           else np.zeros(n))
        block = PhotodiodeBlock(time=t, data=data, truth=truth, first_sample=self._index)
        self._index += n
        for sample in {id(s.sample): s.sample for s in self.sensors}.values():
            sample.advance(n / fs)
        return block

    def restart(self) -> None:
        """Start a new acquisition at the samples' current time (noise streams continue)."""
        self._index = 0
        self._start_time = None
