"""The simulated NV sample: physics, instrument state and the simulated clock.

The simulated microwave source, laser, counter and coil of one bench share one
:class:`SimulatedSample`.  The instruments only change its state (RF frequency, power, output,
frequency list; laser power and emission; coil current); the counter asks it for the counts
of each bin, which follow from the physics:

- transition frequencies of every configured NV axis from the ground-state Hamiltonian
  (:func:`nvsense.physics.transition_frequencies`) for the total field at the time of the bin
  (static field + coil field + AC tones), with D from the temperature and E from the strain;
  with a nucleus, every line becomes its hyperfine multiplet
  (:func:`nvsense.physics.hyperfine_offsets`), the line's contrast shared equally;
- Lorentzian dips: depth ``C(P) = C_sat·s/(1+s)`` and FWHM ``Γ(P) = Γ0·sqrt(1+s)``,
  ``s = P/P_sat`` with P the RF power in mW, calibrated so that ``linewidth`` and ``contrast``
  hold at ``mw_reference_power`` (default −10 dBm, with P_sat = −10 dBm: s = 1 there);
- detected rate ``R(P_L) = R_sat·p/(1+p)``, ``p = P_L/laser_saturation_power``, equal to
  ``count_rate`` at ``laser_reference_power`` (100 mW by default), times
  ``1 − Σ dips``, times ``1 + intensity noise``, plus ``dark_count_rate`` (which is all that is
  left with the laser off);
- Poisson shot noise on the counts of each bin.

Time is simulated: each acquisition advances it by ``n_bins × bin_time``.  With
``pace="fast"`` (the default) that costs only CPU time; with ``pace="realtime"`` (the GUI) the
simulated clock keeps step with the wall clock: acquisitions wait until their data would have
been taken, and idle wall time passes in the simulation too.
"""

from __future__ import annotations

import os
import threading
import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...physics import NV_AXES, ZFS_HZ, hyperfine_offsets, transition_frequencies
from ...physics.temperature import zfs_at
from ..config import SampleConfig, load_bench_config
from .faults import FaultPlan

__all__ = ["SEED_ENV", "CoilState", "LaserState", "MicrowaveState", "SimulatedSample",
           "default_seed"]

#: Environment variable with the seed of every simulated sample whose configuration gives
#: none: makes demos, tests and subprocesses reproducible (the test suite sets it).
SEED_ENV = "NVSENSE_SIM_SEED"

Pace = Literal["fast", "realtime"]

#: Bins evaluated per block: keeps the (bins × lines) temporaries small for long traces.
_BLOCK = 16384


def default_seed() -> int | None:
    """The seed of a sample configured without one: ``$NVSENSE_SIM_SEED`` if set, else None
    (fresh noise every time)."""
    text = os.environ.get(SEED_ENV, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_ENV}={text!r}: give a whole number, e.g. {SEED_ENV}=1, or "
                         "unset it") from None


@dataclass
class MicrowaveState:
    """What the simulated microwave source outputs (SI units, dBm)."""

    frequency: float = ZFS_HZ
    power: float = -10.0
    output: bool = False
    list_frequencies: NDArray[np.float64] | None = None
    list_power: float = -10.0
    list_active: bool = False
    list_index: int = 0
    fm_deviation: float = 0.0
    fm_rate: float = 1e3
    fm_internal: bool = True
    fm_enabled: bool = False
    #: Extra tones of a multi-tone drive (photodiode chain only): ``(offset Hz, FM sign)`` of
    #: each tone relative to the carrier, the power shared equally; empty: the carrier alone.
    tones: tuple[tuple[float, float], ...] = ()


@dataclass
class LaserState:
    """Simulated laser: set-point power (W), emission, standby."""

    power: float = 0.1
    on: bool = False
    standby: bool = False


@dataclass
class CoilState:
    """Simulated coil supply: current set-point (A) and output."""

    current: float = 0.0
    output: bool = False


@dataclass
class _Derived:
    """Constants that follow from the configuration (recomputed when it changes)."""

    axes: NDArray[np.float64]
    hyperfine: NDArray[np.float64]
    line_contrast_sat: NDArray[np.float64]  # (n_lines,), C_sat of each line
    width_zero: float  # Γ0, FWHM without power broadening
    p_sat_mw: float  # RF saturation power in mW
    rate_sat: float  # R_sat, detected rate for infinite laser power


class SimulatedSample:
    """An NV sample on a simulated bench, shared by its simulated instruments.

    Parameters
    ----------
    config
        The ``sample:`` section of a bench file (a :class:`SampleConfig` or a mapping);
        ``None`` for the defaults.
    pace
        ``"fast"`` or ``"realtime"``; overrides ``config.pace``.  Settable later
        (``sample.pace = "realtime"``).
    clock, sleep
        Wall clock and sleep used for real-time pacing (replaceable in tests).

    Attributes
    ----------
    time : float
        Simulated time in s since the sample was made.
    sweep_count : int
        Acquisitions of more than one bin so far (what sweep faults count).
    mw, laser, coil
        Instrument state, changed by the simulated instruments.
    faults : FaultPlan
        Injected faults.
    lock
        Held while state changes or bins are computed (the GUI acquires from a worker thread).
    """

    def __init__(
        self,
        config: SampleConfig | Mapping[str, Any] | None = None,
        *,
        pace: Pace | None = None,
        clock: Callable[[], float] = _time.monotonic,
        sleep: Callable[[float], None] = _time.sleep,
    ) -> None:
        if config is None:
            config = SampleConfig()
        elif not isinstance(config, SampleConfig):  # validated like a bench file's sample:
            config = load_bench_config({"sample": dict(config)})[0].sample
        self.config = config
        self.time = 0.0
        self.sweep_count = 0
        self.faults = FaultPlan(config.faults)
        #: The seed of everything this sample simulates: the configured one, else
        #: ``$NVSENSE_SIM_SEED`` (None: fresh noise every time).
        self.seed = config.seed if config.seed is not None else default_seed()
        self.rng = np.random.default_rng(self.seed)
        self.mw = MicrowaveState(power=config.mw_reference_power,
                                 list_power=config.mw_reference_power)
        self.laser = LaserState(power=config.laser_reference_power)
        self.coil = CoilState()
        self.lock = threading.RLock()
        self._clock = clock
        self._sleep = sleep
        self._anchor: tuple[float, float] | None = None  # (wall, simulated) when paced
        self._pace: Pace = "fast"
        self.pace = pace or config.pace
        self._static_field = np.array(config.field, dtype=float)
        self._temperature = float(config.temperature)
        self._zfs = float(zfs_at(self._temperature, model=config.zfs_model))
        self._tones = [(t.amplitude, t.frequency, np.array(t.direction), t.phase)
                       for t in config.field_ac]
        self._coil_vector = config.coil_constant * np.array(config.coil_direction)
        self._derived = self._derive()
        # lines for the last static field and D: ((Bx, By, Bz, D), lines)
        self._static_cache: tuple[tuple[float, ...], NDArray[np.float64]] | None = None
        #: The pulsed side (spin parameters, the pulser's program): a
        #: :class:`~nvsense.instruments.simulated.pulsed.PulsedSample`, made by the simulated
        #: pulser or gated counter on first use (``pulsed_state``).
        self.pulsed: Any = None
        #: The photodiode chain (lock-in detection): a
        #: :class:`~nvsense.instruments.simulated.photodiode.SimulatedPhotodiodeBench` made
        #: from ``config.photodiode`` on first use (``photodiode_chain``).
        self.photodiode: Any = None

    # --- configuration that may change during a run -------------------------------------

    @property
    def pace(self) -> Pace:
        """``"fast"`` (simulated time costs nothing) or ``"realtime"`` (keeps wall time)."""
        return self._pace

    @pace.setter
    def pace(self, value: Pace) -> None:
        if value not in ("fast", "realtime"):
            raise ValueError(f"pace must be 'fast' or 'realtime', not {value!r}")
        with self.lock:
            self._pace = value
            self._anchor = None

    @property
    def static_field(self) -> NDArray[np.float64]:
        """The static field (T, crystal frame) without the coil's; settable."""
        return self._static_field.copy()

    @static_field.setter
    def static_field(self, value: ArrayLike) -> None:
        B = np.asarray(value, dtype=float)
        if B.shape != (3,) or not np.all(np.isfinite(B)):
            raise ValueError(f"static_field must be three finite components in T, not {value!r}")
        with self.lock:
            self._static_field = B

    @property
    def temperature(self) -> float:
        """Sample temperature in K (sets D); settable within the range of ``zfs_model``."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        zfs = float(zfs_at(float(value), model=self.config.zfs_model))  # checks the range
        with self.lock:
            self._temperature, self._zfs = float(value), zfs

    @property
    def zfs(self) -> float:
        """Zero-field splitting D in Hz at the current temperature (``zfs_model``)."""
        return self._zfs

    def _derive(self) -> _Derived:
        cfg = self.config
        axes = NV_AXES[list(cfg.axes)]
        hf = hyperfine_offsets(cfg.nucleus)
        per_axis = np.asarray(cfg.axis_contrasts()) / hf.size  # shared across the multiplet
        s_ref = 10 ** ((cfg.mw_reference_power - cfg.mw_saturation_power) / 10)
        line_c = np.repeat(per_axis, 2 * hf.size) * (1 + s_ref) / s_ref
        p_ref = cfg.laser_reference_power / cfg.laser_saturation_power
        return _Derived(
            axes=axes,
            hyperfine=hf,
            line_contrast_sat=line_c,
            width_zero=cfg.linewidth / np.sqrt(1 + s_ref),
            p_sat_mw=10 ** (cfg.mw_saturation_power / 10),
            rate_sat=cfg.count_rate * (1 + p_ref) / p_ref,
        )

    # --- clock -----------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated time in s; in real-time pace, first catch up with the wall clock."""
        with self.lock:
            if self._pace == "realtime":
                wall = self._clock()
                if self._anchor is None:
                    self._anchor = (wall, self.time)
                else:
                    self.time = max(self.time, self._anchor[1] + wall - self._anchor[0])
            return self.time

    def _wait_until(self, sim_time: float) -> None:
        """In real-time pace, sleep until the wall clock reaches ``sim_time``."""
        if self._pace != "realtime" or self._anchor is None:
            return
        delay = self._anchor[0] + (sim_time - self._anchor[1]) - self._clock()
        if delay > 0:
            self._sleep(delay)

    # --- physics ---------------------------------------------------------------------------

    def field_at(self, times: ArrayLike | None = None) -> NDArray[np.float64]:
        """Total field (T, crystal frame) at simulated ``times`` (default: now).

        Returns shape (3,) for a scalar time, (n, 3) for n times.
        """
        t = np.asarray(self.time if times is None else times, dtype=float)
        return self._field(t.reshape(-1), 0.0).reshape(*t.shape, 3)

    def _dc_field(self) -> NDArray[np.float64]:
        """Static field plus the coil's, (3,)."""
        if self.coil.output:
            return self._static_field + self._coil_vector * self.coil.current
        return self._static_field

    def _field(self, t: NDArray[np.float64], bin_time: float) -> NDArray[np.float64]:
        """Field (n, 3) at bin centres ``t`` (n,), each AC tone averaged over the bin."""
        out = np.tile(self._dc_field(), (t.size, 1))
        for amplitude, freq, direction, phase in self._tones:
            # the mean of sin(2πf t) over a bin of length T is sinc(fT)·sin(2πf t_centre)
            a = amplitude * np.sinc(freq * bin_time)
            out += (a * np.sin(2 * np.pi * freq * t + phase))[:, None] * direction
        return out

    def line_frequencies(self, time: float | None = None) -> NDArray[np.float64]:
        """Every resonance line in Hz at simulated ``time`` (default: now).

        Returns
        -------
        ndarray
            Shape (n_axes, 2, n_hyperfine): per configured axis, the lower and upper
            electron-spin transition, each split into its hyperfine lines.
        """
        d = self._derived
        lines = self._lines(np.array([self.time if time is None else time]), 0.0)
        return lines.reshape(d.axes.shape[0], 2, d.hyperfine.size)

    def _lines(self, t: NDArray[np.float64], bin_time: float) -> NDArray[np.float64]:
        """Line frequencies (n_lines,) if static, else (n, n_lines) for bin centres ``t``."""
        if not self._tones:  # the common case: computed once per field and temperature
            B = self._dc_field()
            key = (float(B[0]), float(B[1]), float(B[2]), self._zfs)
            cache = self._static_cache
            if cache is None or cache[0] != key:
                cache = self._static_cache = (key, self._lines_for(B[None, :])[0])
            return cache[1]
        return self._lines_for(self._field(t, bin_time))

    def _lines_for(self, B: NDArray[np.float64]) -> NDArray[np.float64]:
        d = self._derived
        f = transition_frequencies(B, self.zfs, self.config.strain, d.axes)  # (n, axes, 2)
        return (f[..., None] + d.hyperfine).reshape(B.shape[0], -1)

    def dip_parameters(self, power: float) -> tuple[NDArray[np.float64], float]:
        """Depth of every line and the FWHM (Hz) at RF power ``power`` (dBm)."""
        d = self._derived
        s = 10 ** (power / 10) / d.p_sat_mw
        return d.line_contrast_sat * (s / (1 + s)), d.width_zero * float(np.sqrt(1 + s))

    def detected_rate(self) -> float:
        """Detected photon rate (1/s) off resonance, from the laser state, without dark counts."""
        laser = self.laser
        if not laser.on or laser.power <= 0:
            return 0.0
        p = laser.power / self.config.laser_saturation_power
        return self._derived.rate_sat * p / (1 + p)

    def expected_rate(self, frequencies: ArrayLike, times: ArrayLike | None = None,
                      bin_time: float = 0.0, *, power: float | None = None) -> NDArray[np.float64]:
        """Noise-free count rate (1/s) with the RF at ``frequencies`` (Hz) at ``times``.

        Uses the current laser and RF output state; ``power`` (dBm) defaults to the source's
        CW power.  For checks and benchmarks: the counter draws its counts from this rate.
        """
        f = np.atleast_1d(np.asarray(frequencies, dtype=float))
        t = np.broadcast_to(np.asarray(self.time if times is None else times, dtype=float),
                            f.shape)
        return self._rate(f, t, bin_time, self.mw.power if power is None else power,
                          noise=False)

    def _rate(self, f: NDArray[np.float64], t: NDArray[np.float64], bin_time: float,
              power: float, *, noise: bool) -> NDArray[np.float64]:
        """Count rate per bin for RF frequencies ``f`` at bin centres ``t``."""
        rate = self.detected_rate()
        dark = self.config.dark_count_rate
        if rate == 0.0:
            return np.full(f.shape, dark)
        signal = np.ones(f.shape)
        mw = self.mw
        if mw.output:
            contrast, width = self.dip_parameters(power)
            dips = self._dips(f, t, bin_time, self._lines(t, bin_time), contrast, 0.5 * width)
            np.subtract(signal, dips, out=signal)
            np.maximum(signal, 0.0, out=signal)
        if noise and self.config.laser_noise > 0 and bin_time > 0:
            sigma = self.config.laser_noise / np.sqrt(2 * bin_time)
            signal *= np.maximum(1 + sigma * self.rng.standard_normal(f.shape), 0.0)
        return rate * signal + dark

    def _dips(self, f: NDArray[np.float64], t: NDArray[np.float64], bin_time: float,
              lines: NDArray[np.float64], contrast: NDArray[np.float64],
              hw: float) -> NDArray[np.float64]:
        """Summed dip depth per bin: Lorentzians of half width ``hw`` at ``lines`` ((L,) or
        (n, L)), averaged over internal FM when it is on."""
        mw = self.mw
        hw2 = hw * hw
        if not (mw.fm_enabled and mw.fm_internal and mw.fm_deviation > 0):
            x = f[:, None] - lines
            return (contrast * hw2 / (x * x + hw2)).sum(axis=-1)
        d = mw.fm_deviation
        if mw.fm_rate * bin_time >= 4:
            # Many periods per bin: the exact phase average of a Lorentzian under sine FM,
            # <hw²/((x + d sin φ)² + hw²)> = hw·Im[1/sqrt((z − d)(z + d))], z = x − i·hw.
            z = (f[:, None] - lines) - 1j * hw
            mean = hw * (1.0 / (np.sqrt(z - d) * np.sqrt(z + d))).imag
            return (contrast * mean).sum(axis=-1)
        # Few periods per bin: sample the frequency in time, densely enough that the sweep
        # through a line (fastest at 2π·rate·d Hz/s) is resolved.
        m = int(np.clip(np.ceil(4 * np.pi * mw.fm_rate * d * bin_time / hw), 16, 512))
        total = np.zeros(f.shape)
        for j in range(m):
            offset = d * np.sin(2 * np.pi * mw.fm_rate * (t + bin_time * ((j + 0.5) / m - 0.5)))
            x = (f + offset)[:, None] - lines
            total += (contrast * hw2 / (x * x + hw2)).sum(axis=-1)
        return total / m

    # --- acquisition -----------------------------------------------------------------------

    def bin_frequencies(self, n_bins: int, trigger_mw: bool, lead: int = 0
                        ) -> tuple[NDArray[np.float64], float]:
        """RF frequency of each of the next ``n_bins`` bins and the RF power (dBm).

        In CW mode every bin sees the CW frequency.  With a list running, bin k sees
        ``list[(i0 + lead + k) % len]`` when the counter's sample clock triggers the source
        (``trigger_mw``; ``lead`` edges come before the first bin), else ``list[i0]``.
        """
        mw = self.mw
        if mw.list_active and mw.list_frequencies is not None:
            freqs = mw.list_frequencies
            if trigger_mw:
                idx = (mw.list_index + lead + np.arange(n_bins)) % freqs.size
            else:
                idx = np.full(n_bins, mw.list_index)
            return freqs[idx], mw.list_power
        return np.full(n_bins, mw.frequency), mw.power

    def acquire(self, n_bins: int, bin_time: float, *, trigger_mw: bool = False,
                lead: int = 0) -> NDArray[np.float64]:
        """Photon counts of the next ``n_bins`` bins; advances the clock and the list.

        With ``trigger_mw`` the clock sends ``lead`` trigger edges before the first bin and one
        at the start of every later bin, as an NI X-series sample clock does (the list steps
        ``n_bins + lead`` times in all).

        Returns
        -------
        ndarray
            Counts per bin (float64), Poisson distributed.
        """
        with self.lock:
            start = self.now()
            f, power = self.bin_frequencies(n_bins, trigger_mw, lead)
            counts = np.empty(n_bins)
            for lo in range(0, n_bins, _BLOCK):
                hi = min(n_bins, lo + _BLOCK)
                centres = start + bin_time * (np.arange(lo, hi) + 0.5)
                rate = self._rate(f[lo:hi], centres, bin_time, power, noise=True)
                counts[lo:hi] = self.rng.poisson(rate * bin_time)
            self.advance(n_bins * bin_time, trigger_mw=trigger_mw, n_bins=n_bins + lead)
            end = self.time
        self._wait_until(end)
        return counts

    def advance(self, duration: float, *, trigger_mw: bool = False, n_bins: int = 0) -> None:
        """Let ``duration`` seconds of simulated time pass (``n_bins`` list triggers sent)."""
        with self.lock:
            self.time += duration
            mw = self.mw
            if trigger_mw and mw.list_active and mw.list_frequencies is not None:
                mw.list_index = (mw.list_index + n_bins) % mw.list_frequencies.size
