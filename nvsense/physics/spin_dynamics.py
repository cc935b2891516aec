"""Spin dynamics of the NV ms=0 ↔ ms=±1 transition under pulse sequences (two-level model).

The addressed transition is a two-level system in the frame rotating at the microwave
frequency, ``H/h = (Δ/2) σz + (Ω/2)(cos φ σx + sin φ σy)`` while the microwave is on (Ω the
Rabi frequency, φ the pulse phase) and ``(Δ/2) σz`` while it is off; ms=0 is the σz = +1
state, so the ms=0 population is ``(1 + Mz)/2`` of the Bloch vector M.  On resonance a pulse
of length t leaves ``P(ms=±1) = Ω²/(Ω²+Δ²)·sin²(π√(Ω²+Δ²)·t)``.

What acts on the spin, and how it is computed:

- **pulses**: the Bloch equations with driving and relaxation are linear, ``dM/dt = G·M``;
  each pulse applies ``exp(G t)`` (exact, by scaling and squaring);
- **free evolution**: a rotation about z by ``2π∫Δ dt`` (exact also for the AC field) with
  transverse decay and longitudinal relaxation;
- **14N/15N hyperfine lines**: the nucleus is unpolarised, so the ensemble is an equal mixture
  of two-level systems detuned by ``Δ + m_I·A`` (Ramsey beats);
- **T2\\***: a quasi-static Gaussian spread of detunings, averaged with Gauss–Hermite
  quadrature (exact for the Gaussian envelope ``exp(−(τ/T2*)²)`` to rounding);
- **Rabi inhomogeneity**: a Gaussian spread of Ω (damped Rabi oscillations), also by
  quadrature;
- **T1**: relaxation of the populations toward equal ms=0/ms=±1 populations at rate 1/T1
  (Lindblad σ+ and σ− at 1/(2T1) each; transverse decay 1/(2T1) from it);
- **Markovian dephasing**: an optional extra transverse decay rate 1/T2,M;
- **spin bath**: Ornstein–Uhlenbeck detuning noise (:mod:`.spin_bath`): its dephasing
  ``exp(−χ)`` for the sequence's toggling-frame signs (a π pulse flips the sign) is applied to
  the coherence before the last pulse of each coherent part — exact for ideal π pulses; this
  gives the echo's stretched exponential and T2 ∝ N^(2/3) under CPMG/XY8;
- **AC field**: a detuning ``a·cos(2πf t + φ_ac)`` with t counted from the end of the first
  pulse of each coherent part (a signal locked to the sequence); during a pulse it is held
  constant over slices short enough for a phase error below 1e-6 rad;
- **optics**: a laser pulse reads the spin (the ms=0 population at its start) and
  re-initialises it to ``polarization``; :func:`readout_counts` turns populations into
  expected photon counts of a gate window.

This module imports only numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .spin_bath import bath_sigma_for_t2, ou_chi

__all__ = [
    "FREE",
    "LASER",
    "PULSE",
    "SpinSystem",
    "evolve",
    "gauss_hermite",
    "readout_counts",
    "readout_photons",
]

#: Operation kinds: free evolution, microwave pulse, laser on.
FREE, PULSE, LASER = 0, 1, 2


def gauss_hermite(n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and weights of an n-point quadrature of the standard normal distribution
    (weights sum to 1)."""
    if n <= 1:
        return np.zeros(1), np.ones(1)
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


@dataclass(frozen=True)
class SpinSystem:
    """The addressed NV transition, its environment and the optics (SI units, Hz for rates).

    Parameters
    ----------
    rabi_frequency
        Ω in Hz (cycles): a π pulse on resonance lasts 1/(2Ω).
    detuning
        Δ = f_mw − f_line in Hz.
    hyperfine
        Offsets of the nuclear-spin lines (Hz), equally weighted (:func:`hyperfine_offsets`).
    dephasing_sigma
        RMS of the quasi-static detuning spread in Hz (T2* = √2/(2πσ) without bath).
    rabi_spread
        Relative RMS spread of Ω across the ensemble.
    t1
        Longitudinal relaxation time in s (``inf``: none).
    t2_markov
        Markovian pure-dephasing time in s (``inf``: none).
    bath_sigma, bath_correlation_time
        Ornstein–Uhlenbeck spin bath: RMS detuning (Hz) and correlation time (s).
    polarization
        ms=0 population after a laser pulse (1: perfect).
    ac_amplitude, ac_frequency, ac_phase
        AC detuning ``a·cos(2πf t + φ)`` along the NV axis: a = γ·B_ac in Hz, f in Hz, φ in
        rad; t from the end of the first pulse of each coherent part.
    nodes
        Gauss–Hermite nodes per Gaussian spread.
    """

    rabi_frequency: float
    detuning: float = 0.0
    hyperfine: tuple[float, ...] = (0.0,)
    dephasing_sigma: float = 0.0
    rabi_spread: float = 0.0
    t1: float = math.inf
    t2_markov: float = math.inf
    bath_sigma: float = 0.0
    bath_correlation_time: float = math.inf
    polarization: float = 1.0
    ac_amplitude: float = 0.0
    ac_frequency: float = 0.0
    ac_phase: float = 0.0
    nodes: int = 24

    def __post_init__(self) -> None:
        object.__setattr__(self, "hyperfine", tuple(float(h) for h in self.hyperfine))
        checks = (
            ("rabi_frequency", self.rabi_frequency >= 0 and math.isfinite(self.rabi_frequency)),
            ("detuning", math.isfinite(self.detuning)),
            ("dephasing_sigma", self.dephasing_sigma >= 0 and math.isfinite(self.dephasing_sigma)),
            ("rabi_spread", 0 <= self.rabi_spread < 1),
            ("t1", self.t1 > 0), ("t2_markov", self.t2_markov > 0),
            ("bath_sigma", self.bath_sigma >= 0 and math.isfinite(self.bath_sigma)),
            ("bath_correlation_time", self.bath_correlation_time > 0),
            ("polarization", 0 <= self.polarization <= 1),
            ("ac_amplitude", math.isfinite(self.ac_amplitude)),
            ("ac_frequency", self.ac_frequency >= 0 and math.isfinite(self.ac_frequency)),
            ("nodes", self.nodes >= 1),
        )
        for name, ok in checks:
            if not ok:
                raise ValueError(f"SpinSystem: {name} = {getattr(self, name)!r} is out of range")
        if not self.hyperfine or not all(math.isfinite(h) for h in self.hyperfine):
            raise ValueError("SpinSystem: hyperfine must be finite offsets in Hz, e.g. (0.0,)")

    @classmethod
    def from_times(cls, rabi_frequency: float, *, detuning: float = 0.0,
                   hyperfine: Sequence[float] = (0.0,), t2_star: float = math.inf,
                   t2: float = math.inf, bath_correlation_time: float | None = None,
                   t1: float = math.inf, **kwargs: float) -> SpinSystem:
        """A system from the coherence times a physicist quotes.

        Parameters
        ----------
        t2_star
            Ramsey envelope ``exp(−(τ/T2*)²)`` of each hyperfine line (bath included).
        t2
            Hahn-echo coherence time: the echo decays to 1/e at total free evolution T2
            (without the T1 contribution).
        bath_correlation_time
            τc of the bath (default 100·T2, a slow bath: stretched exponent ≈ 3).
        t1
            Longitudinal relaxation time.
        kwargs
            Other :class:`SpinSystem` fields (``polarization``, ``rabi_spread``, ``ac_*``).

        Raises
        ------
        ValueError
            If the bath that gives ``t2`` alone already dephases faster than ``t2_star``: a
            slow bath (τc ≫ T2) has a large static spread, T2*,bath = T2·√(T2/(6τc)); shorten
            ``bath_correlation_time`` or ``t2_star``.
        """
        bath_sigma, tau_c = 0.0, math.inf
        if math.isfinite(t2):
            tau_c = 100.0 * t2 if bath_correlation_time is None else float(bath_correlation_time)
            bath_sigma = bath_sigma_for_t2(t2, tau_c)
        # Ramsey: exp(−(2π)²(σ_qs² + σ_b²)τ²/2) for τ ≪ τc; T2* = √2 / (2π σ_total)
        total = 0.0 if math.isinf(t2_star) else math.sqrt(2) / (2 * math.pi * t2_star)
        rest = total**2 - bath_sigma**2
        if rest < -1e-12 * total**2:
            t2s_bath = math.sqrt(2) / (2 * math.pi * bath_sigma)
            raise ValueError(
                f"the spin bath for T2 = {t2:g} s with correlation time {tau_c:g} s alone gives "
                f"T2* = {t2s_bath:g} s, shorter than t2_star = {t2_star:g} s; give a shorter "
                f"bath_correlation_time (a faster bath) or a shorter t2_star")
        return cls(rabi_frequency, detuning=detuning, hyperfine=tuple(hyperfine),
                   dephasing_sigma=math.sqrt(max(rest, 0.0)), t1=t1, bath_sigma=bath_sigma,
                   bath_correlation_time=tau_c, **kwargs)

    def with_(self, **changes: float) -> SpinSystem:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def members(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """The ensemble: detuning (Hz), Rabi frequency (Hz) and weight of each member."""
        hf = np.asarray(self.hyperfine)
        x, wx = gauss_hermite(self.nodes if self.dephasing_sigma > 0 else 1)
        y, wy = gauss_hermite(min(self.nodes, 12) if self.rabi_spread > 0 else 1)
        det = (self.detuning + hf[:, None, None] + self.dephasing_sigma * x[None, :, None]
               + 0.0 * y[None, None, :])
        rabi = self.rabi_frequency * (1 + self.rabi_spread * y)[None, None, :] + 0.0 * det
        w = (np.full(hf.size, 1.0 / hf.size)[:, None, None] * wx[None, :, None]
             * wy[None, None, :])
        return det.ravel(), rabi.ravel(), w.ravel()


def _expm(g: NDArray[np.float64]) -> NDArray[np.float64]:
    """exp of a batch of 3×3 matrices (..., 3, 3): scaling and squaring with Taylor series."""
    norm = float(np.abs(g).sum(axis=-1).max()) if g.size else 0.0  # largest ∞-norm
    s = max(0, math.ceil(math.log2(norm / 0.25))) if norm > 0.25 else 0
    a = g / (2.0**s)
    eye = np.broadcast_to(np.eye(3), g.shape)
    out = eye + a
    term = a
    for k in range(2, 14):  # ‖a‖ ≤ 1/4: the remainder is below 1e-20
        term = term @ a / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


def _pulse_generator(det: NDArray[np.float64], rabi: NDArray[np.float64],
                     phase: NDArray[np.float64], g1: float,
                     g2: float) -> NDArray[np.float64]:
    """Bloch generator G (..., 3, 3) for angular rates ω = 2π(Ω cos φ, Ω sin φ, Δ)."""
    wx = 2 * np.pi * rabi * np.cos(phase)
    wy = 2 * np.pi * rabi * np.sin(phase)
    wz = 2 * np.pi * det
    shape = np.broadcast(wx, wy, wz).shape
    g = np.zeros((*shape, 3, 3))
    g[..., 0, 0] = g[..., 1, 1] = -g2
    g[..., 2, 2] = -g1
    g[..., 0, 1], g[..., 0, 2] = -wz, wy
    g[..., 1, 0], g[..., 1, 2] = wz, -wx
    g[..., 2, 0], g[..., 2, 1] = -wy, wx
    return g


def _ac_integral(system: SpinSystem, t0: NDArray[np.float64],
                 t1: NDArray[np.float64]) -> NDArray[np.float64]:
    """∫ a·cos(2πf t + φ) dt from t0 to t1 (Hz·s = cycles)."""
    a, f, ph = system.ac_amplitude, system.ac_frequency, system.ac_phase
    if a == 0.0:
        return np.zeros(np.broadcast(t0, t1).shape)
    if f == 0.0:
        return a * math.cos(ph) * (t1 - t0)
    w = 2 * np.pi * f
    return a * (np.sin(w * t1 + ph) - np.sin(w * t0 + ph)) / w


def _rotate_z(m: NDArray[np.float64], angle: NDArray[np.float64], decay_xy: NDArray[np.float64],
              decay_z: NDArray[np.float64]) -> None:
    """In place: rotate (m, p, 3) Bloch vectors about z by angle (m, p) and damp them."""
    c, s = np.cos(angle), np.sin(angle)
    x, y = m[..., 0].copy(), m[..., 1]
    m[..., 0] = (c * x - s * y) * decay_xy
    m[..., 1] = (s * x + c * y) * decay_xy
    m[..., 2] *= decay_z


def _flips(rabi: float, durations: NDArray[np.float64]) -> NDArray[np.float64]:
    """Toggling-frame factor of a pulse: −1 for a rotation near π (mod 2π), else +1."""
    angle = np.mod(2 * np.pi * rabi * durations, 2 * np.pi)
    return np.where(np.abs(angle - np.pi) < np.pi / 2, -1.0, 1.0)


def evolve(kinds: ArrayLike, durations: ArrayLike, phases: ArrayLike,
           system: SpinSystem) -> NDArray[np.float64]:
    """The ms=0 population at the start of every laser pulse of a shot, for every sweep point.

    The shot is played cyclically: simulation starts right after its last laser pulse with
    the spin initialised, so the dark time that ends the shot also precedes its first
    microwave pulse.

    Parameters
    ----------
    kinds
        (n_ops,) :data:`FREE`, :data:`PULSE` or :data:`LASER` per operation (the same for all
        points; keep zero-length operations).
    durations
        (n_points, n_ops) durations in s.
    phases
        (n_points, n_ops) microwave phases in rad (used for pulses).
    system
        The spin and its environment.

    Returns
    -------
    ndarray
        (n_points, n_readouts): the ensemble-mean ms=0 population when each laser pulse (a
        run of consecutive laser operations) starts, in shot order.
    """
    kind = np.asarray(kinds, dtype=np.int64)
    dur = np.atleast_2d(np.asarray(durations, dtype=float))
    ph = np.atleast_2d(np.asarray(phases, dtype=float))
    n_points, n_ops = dur.shape
    if kind.shape != (n_ops,) or ph.shape != dur.shape:
        raise ValueError(f"kinds {kind.shape}, durations {dur.shape} and phases {ph.shape} "
                         f"do not match")
    if np.any(dur < 0) or not np.all(np.isfinite(dur)):
        raise ValueError("durations must be finite and >= 0")
    laser_ops = np.flatnonzero(kind == LASER)
    if laser_ops.size == 0:
        return np.empty((n_points, 0))
    # start right after the last laser operation (the shot repeats cyclically)
    start = int(laser_ops[-1]) + 1
    order = np.r_[np.arange(start, n_ops), np.arange(0, start)]
    kind, dur, ph = kind[order], dur[:, order], ph[:, order]

    det, rabi, weight = system.members()
    n_m = det.size
    g1 = 1.0 / system.t1
    g2 = 0.5 * g1 + 1.0 / system.t2_markov
    z0 = 2.0 * system.polarization - 1.0
    m = np.zeros((n_m, n_points, 3))
    m[..., 2] = z0

    # coherent parts: the pulses between two laser pulses; the bath acts between the first and
    # the last pulse of each part, its dephasing applied just before the last one
    parts: list[tuple[int, int]] = []
    first = last = -1
    for k in range(n_ops):
        if kind[k] == PULSE:
            first = k if first < 0 else first
            last = k
        elif kind[k] == LASER and first >= 0:
            parts.append((first, last))
            first = last = -1
    last_pulse = {lp: fp for fp, lp in parts}
    first_pulse = {fp for fp, _ in parts}

    t_now = np.zeros(n_points)
    t_ref = np.zeros(n_points)  # AC time origin: end of the first pulse of the part
    seg_start: list[NDArray[np.float64]] = []
    seg_end: list[NDArray[np.float64]] = []
    seg_sign: list[NDArray[np.float64]] = []
    sign = np.ones(n_points)
    in_part = False
    readouts: list[NDArray[np.float64]] = []
    in_laser = False
    nominal = system.rabi_frequency
    use_bath = system.bath_sigma > 0
    cache: dict[tuple[float, float], NDArray[np.float64]] = {}

    for k in range(n_ops):
        d = dur[:, k]
        if kind[k] == LASER:
            if not in_laser:
                pop0 = 0.5 * (1.0 + np.tensordot(weight, m[..., 2], axes=(0, 0)))
                readouts.append(pop0)
                m[...] = 0.0
                m[..., 2] = z0
                in_laser = True
                in_part = False
                seg_start, seg_end, seg_sign = [], [], []
            t_now = t_now + d
            continue
        in_laser = False
        if kind[k] == FREE:
            if in_part and use_bath:
                seg_start.append(t_now.copy())
                seg_end.append(t_now + d)
                seg_sign.append(sign.copy())
            angle = 2 * np.pi * (det[:, None] * d[None, :]
                                 + _ac_integral(system, t_now - t_ref, t_now + d - t_ref)[None, :])
            _rotate_z(m, angle, np.exp(-g2 * d)[None, :], np.exp(-g1 * d)[None, :])
            t_now = t_now + d
            continue
        # a microwave pulse
        if k in first_pulse:
            t_ref = t_now + d
            in_part = True
            sign = np.ones(n_points)
        if k in last_pulse and use_bath and seg_start:
            chi = ou_chi(np.stack(seg_start, axis=-1), np.stack(seg_end, axis=-1),
                         np.stack(seg_sign, axis=-1), system.bath_sigma,
                         system.bath_correlation_time)
            m[..., :2] *= np.exp(-chi)[None, :, None]
        if system.ac_amplitude != 0.0:
            # the AC detuning changes during the pulse: slices short enough that its change
            # within one (error ∝ a·2πf·slice²) stays below 1e-6 rad
            slope = 2 * np.pi * abs(system.ac_amplitude) * 2 * np.pi * system.ac_frequency
            dmax = float(d.max())
            n_slices = int(np.clip(math.ceil(math.sqrt(slope * dmax**2 / 1e-6)), 1, 512))
            dd = d / n_slices
            safe_dd = np.where(dd > 0, dd, 1.0)
            for j in range(n_slices):
                a0, a1 = t_now + j * dd - t_ref, t_now + (j + 1) * dd - t_ref
                mean_ac = np.where(dd > 0, _ac_integral(system, a0, a1) / safe_dd, 0.0)
                gen = _pulse_generator(det[:, None] + mean_ac[None, :], rabi[:, None],
                                       ph[None, :, k], g1, g2)
                u = _expm(gen * dd[None, :, None, None])
                m[...] = np.einsum("mpij,mpj->mpi", u, m)
        else:
            keys = list(zip(d.tolist(), ph[:, k].tolist()))
            new = sorted(set(keys) - cache.keys())
            if new:  # every new (duration, phase) at once: (m, n_new, 3, 3)
                nd = np.array([key[0] for key in new])
                nph = np.array([key[1] for key in new])
                gen = _pulse_generator(det[:, None], rabi[:, None], nph[None, :], g1, g2)
                u_new = _expm(gen * nd[None, :, None, None])
                for j, key in enumerate(new):
                    cache[key] = u_new[:, j]
            if len(set(keys)) == 1:
                m[...] = np.einsum("mij,mpj->mpi", cache[keys[0]], m)
            else:
                u = np.stack([cache[key] for key in keys], axis=1)  # (m, p, 3, 3)
                m[...] = np.einsum("mpij,mpj->mpi", u, m)
        if in_part and k not in first_pulse:
            sign = sign * _flips(nominal, d)
        t_now = t_now + d
    return np.stack(readouts, axis=-1)


def readout_photons(rate: float, start: ArrayLike, length: ArrayLike, contrast: float,
                    decay_time: float = 300e-9, reference_window: float = 300e-9
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Expected photons of a gate window for the ms=0 and the ms=±1 state.

    The spin-dependent part of the fluorescence fades as the laser re-polarises the spin:
    the instantaneous contrast is ``c0·exp(−t/decay_time)`` after the laser turns on, with c0
    such that a window ``[0, reference_window]`` sees the mean contrast ``contrast``.

    Parameters
    ----------
    rate
        Detected photon rate of the ms=0 state, 1/s.
    start, length
        Window start after the laser turned on, and its length, s.
    contrast
        Readout contrast: relative drop of the counts of ms=±1 in the reference window.
    decay_time, reference_window
        As above, s.

    Returns
    -------
    bright, dark
        Expected photons per shot for ms=0 and for ms=±1.
    """
    t0 = np.asarray(start, dtype=float)
    tl = np.asarray(length, dtype=float)
    c0 = contrast * reference_window / (decay_time * -math.expm1(-reference_window / decay_time))
    bright = rate * tl
    lost = rate * c0 * decay_time * np.exp(-t0 / decay_time) * -np.expm1(-tl / decay_time)
    return bright, bright - lost


def readout_counts(population0: ArrayLike, rate: float, start: ArrayLike, length: ArrayLike,
                   contrast: float, decay_time: float = 300e-9,
                   reference_window: float = 300e-9) -> NDArray[np.float64]:
    """Expected photons of a gate window when the ms=0 population is ``population0``."""
    bright, dark = readout_photons(rate, start, length, contrast, decay_time, reference_window)
    p = np.asarray(population0, dtype=float)
    return p * bright + (1.0 - p) * dark
