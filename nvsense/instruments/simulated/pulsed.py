"""The pulsed side of the simulated sample: the spin's parameters and what the pulser plays.

The simulated pulser puts its program here; the simulated gated counter asks for the counts of
its readout windows, which follow from :mod:`nvsense.physics.spin_dynamics` for every NV axis
of the sample:

- each axis's addressed transition is the one (ms=0 → −1 or → +1) closest to the microwave
  frequency, its detuning ``f_mw − f_line`` from the sample's field, D and strain; with a
  nucleus, its hyperfine lines (unpolarised) detune the ensemble's members;
- the Rabi frequency is ``rabi_frequency`` at the sample's ``mw_reference_power``, scaling
  with the microwave amplitude (``10^((P − P_ref)/20)``), zero with the RF output off;
- T2* (quasi-static spread), T2 (spin bath), T1, polarisation, the AC field along the axis;
- counts: the sample's detected rate (its laser state) times the gate window, lowered by the
  readout contrast in proportion to the ms=±1 population of each axis (axes weighted by their
  contrast), plus dark counts; Poisson per window, and for a single NV (one axis) binomial
  projection noise per shot as well.

:class:`SpinConfig` holds the spin parameters; a bench gives them on the simulated gated
counter (``spin: {t2: "50 us", ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...physics import GAMMA_NV_HZ_PER_T
from ...physics.spin_dynamics import SpinSystem, readout_photons
from ...pulses import PulseProgram
from ...pulses.simulate import expected_populations, shot_operations
from ...units import parse_quantity

if TYPE_CHECKING:
    from ..pulser import CompiledProgram
    from .sample import SimulatedSample

__all__ = ["PulsedSample", "PulserState", "SpinConfig", "pulsed_state"]

#: Units of the SpinConfig fields given with units in a bench file.
_UNITS = {"rabi_frequency": "Hz", "t2_star": "s", "t2": "s", "bath_correlation_time": "s",
          "t1": "s", "readout_decay_time": "s", "ac_field": "T", "ac_frequency": "Hz"}


@dataclass(frozen=True)
class SpinConfig:
    """Spin parameters of the simulated sample (SI; ``None``: derived or absent).

    Attributes
    ----------
    rabi_frequency
        Ω at the sample's ``mw_reference_power``, Hz.
    t2_star, t2, t1
        Coherence and relaxation times, s (see :meth:`SpinSystem.from_times`).
    bath_correlation_time
        τc of the spin bath (default 100·T2).
    polarization
        ms=0 population after the laser.
    readout_contrast, readout_decay_time
        Readout contrast of one NV in the first 300 ns, and how fast the laser erases it.
    rabi_spread
        Relative spread of Ω (microwave inhomogeneity).
    ac_field, ac_frequency, ac_phase
        AC field amplitude along each NV axis (T), frequency (Hz) and phase (rad), locked to
        the sequence: ``B·cos(2πf t + φ)`` from the end of each first pulse.
    single_nv
        Projection noise of one spin (default: when the sample has one axis).
    """

    rabi_frequency: float = 10e6
    t2_star: float = 1e-6
    t2: float = 50e-6
    bath_correlation_time: float | None = None
    t1: float = 5e-3
    polarization: float = 0.85
    readout_contrast: float = 0.3
    readout_decay_time: float = 300e-9
    rabi_spread: float = 0.0
    ac_field: float = 0.0
    ac_frequency: float = 0.0
    ac_phase: float = 0.0
    single_nv: bool | None = None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | SpinConfig | None,
                     where: str = "spin") -> SpinConfig:
        """From a bench-file mapping; quantities may carry units (``"50 us"``)."""
        if mapping is None:
            return cls()
        if isinstance(mapping, SpinConfig):
            return mapping
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in dict(mapping).items():
            if key not in known:
                raise ValueError(f"{where}.{key} is not a spin parameter; use "
                                 f"{', '.join(sorted(known))}")
            if value is None or key == "single_nv":
                values[key] = value
            elif key in _UNITS:
                values[key] = parse_quantity(value, _UNITS[key], name=f"{where}.{key}")
            else:
                values[key] = float(value)
        config = cls(**values)
        if not 0 <= config.polarization <= 1 or not 0 <= config.readout_contrast < 1:
            raise ValueError(f"{where}: polarization must be in [0, 1] and readout_contrast in "
                             f"[0, 1)")
        return config

    def with_(self, **changes: Any) -> SpinConfig:
        return replace(self, **changes)


@dataclass
class PulserState:
    """What the simulated pulser does."""

    compiled: CompiledProgram | None = None
    running: bool = False
    repetitions: int | None = None
    starts: int = 0  # how many times it was started (a counter armed before a start sees it)
    outputs_low: bool = True


class PulsedSample:
    """Pulsed physics of a :class:`SimulatedSample`, shared by its pulsed instruments."""

    def __init__(self, sample: SimulatedSample, spin: SpinConfig | None = None) -> None:
        self.sample = sample
        self.spin = spin or SpinConfig()
        self.pulser = PulserState()

    def _axis_systems(self, frequency: float, power: float, output: bool
                      ) -> list[tuple[float, SpinSystem]]:
        """(weight, system) for each NV axis of the sample at this microwave setting."""
        sample = self.sample
        cfg = sample.config
        spin = self.spin
        lines = sample.line_frequencies()  # (axes, 2, n_hf)
        hf = lines - lines.mean(axis=-1, keepdims=True)
        contrasts = np.asarray(cfg.axis_contrasts(), dtype=float)
        weights = contrasts / contrasts.sum()
        rabi = spin.rabi_frequency * 10 ** ((power - cfg.mw_reference_power) / 20)
        if not output:
            rabi = 0.0
        out = []
        for a in range(lines.shape[0]):
            centres = lines[a].mean(axis=-1)
            b = int(np.argmin(np.abs(frequency - centres)))
            ac = GAMMA_NV_HZ_PER_T * spin.ac_field  # the field is given along each axis
            system = SpinSystem.from_times(
                rabi, detuning=float(frequency - centres[b]), hyperfine=tuple(hf[a, b]),
                t2_star=spin.t2_star, t2=spin.t2,
                bath_correlation_time=spin.bath_correlation_time, t1=spin.t1,
                polarization=spin.polarization, rabi_spread=spin.rabi_spread,
                ac_amplitude=ac, ac_frequency=spin.ac_frequency, ac_phase=spin.ac_phase)
            out.append((float(weights[a]), system))
        return out

    def _mw_setting(self, program: PulseProgram) -> list[tuple[float, float, bool]]:
        """(frequency, power, output) per sweep point."""
        mw = self.sample.mw
        if (program.sweep is not None and program.sweep.unit == "Hz" and mw.list_active
                and mw.list_frequencies is not None):
            # pulsed ODMR: each point's trigger pulse steps the list before its π pulse, so
            # point k (in play order) sees entry i0 + k + 1 (load the list rotated by one)
            freqs = mw.list_frequencies
            settings = [None] * program.n_points
            for j, point in enumerate(program.play_order):
                settings[point] = (float(freqs[(mw.list_index + j + 1) % freqs.size]),
                                   mw.list_power, mw.output)
            return settings  # type: ignore[return-value]
        return [(mw.frequency, mw.power, mw.output)] * program.n_points

    def window_model(self, program: PulseProgram
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                                NDArray[np.float64]]:
        """Per point and readout (n_points, n_readouts): the mean ms=0 population (axes
        weighted), the photons of an ms=0 and of an ms=±1 shot, and the dark counts."""
        sample = self.sample
        ops = shot_operations(program)
        rate = sample.detected_rate()
        bright, dark = readout_photons(rate, ops.window_start, ops.window_length,
                                       self.spin.readout_contrast, self.spin.readout_decay_time)
        lit = ops.window_laser[None, :] >= 0
        bright = np.where(lit, bright, 0.0)
        dark = np.where(lit, dark, 0.0)
        settings = self._mw_setting(program)
        pop = np.zeros(ops.window_start.shape)
        if len(set(settings)) == 1:
            for w, system in self._axis_systems(*settings[0]):
                pop += w * np.nan_to_num(expected_populations(program, system, ops), nan=1.0)
        else:  # one microwave setting per point (pulsed ODMR): simulate point by point
            for k, setting in enumerate(settings):
                one = _point_operations(ops, k)
                for w, system in self._axis_systems(*setting):
                    pop[k] += w * np.nan_to_num(
                        expected_populations(program, system, one)[0], nan=1.0)
        background = sample.config.dark_count_rate * ops.window_length
        return pop, bright, dark, background

    def expected_counts(self, program: PulseProgram) -> NDArray[np.float64]:
        """Expected photons per shot in each window, (n_points, n_readouts)."""
        pop, bright, dark, background = self.window_model(program)
        return pop * bright + (1 - pop) * dark + background

    def draw_counts(self, program: PulseProgram, passes: int) -> NDArray[np.float64]:
        """Counts of every window of a pass, summed over ``passes`` passes, in play order."""
        rng = self.sample.rng
        pop, bright, dark, background = self.window_model(program)
        single = self.spin.single_nv
        if single is None:
            single = len(self.sample.config.axes) == 1
        if single:
            bright_shots = rng.binomial(passes, np.clip(pop, 0.0, 1.0))
            mean = bright_shots * bright + (passes - bright_shots) * dark + passes * background
        else:
            mean = passes * (pop * bright + (1 - pop) * dark + background)
        counts = rng.poisson(mean).astype(float)
        mw = self.sample.mw
        if (program.sweep is not None and program.sweep.unit == "Hz" and mw.list_active
                and mw.list_frequencies is not None):  # the triggers stepped the list
            mw.list_index = (mw.list_index + passes * program.n_points) % mw.list_frequencies.size
        idx = program.window_points()
        return counts[idx[:, 0], idx[:, 1]]


def _point_operations(ops: Any, k: int) -> Any:
    """The operations of sweep point ``k`` alone."""
    from ...pulses.simulate import ShotOperations

    return ShotOperations(ops.kinds, ops.durations[k:k + 1], ops.phases[k:k + 1],
                          ops.window_laser, ops.window_start[k:k + 1],
                          ops.window_length[k:k + 1])


def pulsed_state(sample: SimulatedSample, spin: SpinConfig | None = None) -> PulsedSample:
    """The sample's :class:`PulsedSample` (made on first use); ``spin`` replaces its spin
    parameters when given."""
    state = sample.pulsed
    if state is None:
        state = sample.pulsed = PulsedSample(sample, spin)
    elif spin is not None:
        state.spin = spin
    return state

