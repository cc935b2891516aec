"""The spin-dynamics simulator against QuTiP's master equation for the same pulses.

Each case builds the Hamiltonian and collapse operators independently in QuTiP (two-level
system, H/h = (Δ/2)σz + (Ω/2)(cos φ σx + sin φ σy), T1 as σ± at 1/(2T1), Markovian dephasing as
σz), evolves the same piecewise sequence with ``qutip.mesolve`` segment by segment, averages
over the same ensemble members (hyperfine lines, Gauss–Hermite detuning nodes computed here)
and compares the ms=0 populations: they must agree to 1e-3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nvsense.physics.spin_dynamics import FREE, LASER, PULSE, SpinSystem, evolve

qutip = pytest.importorskip("qutip")

TOL = 1e-3


def _qutip_shot(ops, det, rabi, *, t1=math.inf, t2m=math.inf, pol=1.0, ac=None):
    """ms=0 population at the laser (the last op), by mesolve, for one ensemble member.

    ``ops`` is a list of (kind, duration_s, phase_rad); ``ac`` is (amplitude_hz, freq_hz,
    phase_rad) with time counted from the end of the first pulse.
    """
    sx, sy, sz = qutip.sigmax(), qutip.sigmay(), qutip.sigmaz()
    rho = qutip.Qobj(np.diag([pol, 1 - pol]))
    c_ops = []
    if math.isfinite(t1):
        rate = 1 / (2 * t1)
        c_ops += [math.sqrt(rate) * qutip.sigmap(), math.sqrt(rate) * qutip.sigmam()]
    if math.isfinite(t2m):
        c_ops.append(math.sqrt(1 / t2m / 2) * sz)
    t = 0.0
    # the AC field's time origin: the end of the first pulse
    ends = np.cumsum([d for _, d, _ in ops])
    t_ref = next(float(e) for (k, _, _), e in zip(ops, ends) if k == PULSE)
    opts = {"atol": 1e-11, "rtol": 1e-9, "nsteps": 100000}
    for kind, dur, phase in ops:
        if kind == LASER:
            return float(qutip.expect(qutip.basis(2, 0).proj(), rho))
        if dur == 0:
            continue
        drive = 0.0 if kind == FREE else rabi
        h0 = 2 * np.pi * (det / 2 * sz + drive / 2 * (math.cos(phase) * sx + math.sin(phase) * sy))
        if ac is not None:
            a, f, ph = ac
            offset = t_ref

            def coeff(tt, a=a, f=f, ph=ph, offset=offset, start=t):
                return 2 * np.pi * a / 2 * math.cos(2 * np.pi * f * (start + tt - offset) + ph)

            h = qutip.QobjEvo([h0, [sz, coeff]])
        else:
            h = h0
        steps = max(3, int(dur / 2e-9))
        res = qutip.mesolve(h, rho, np.linspace(0, dur, steps), c_ops, options=opts)
        rho = res.states[-1]
        t += dur
    raise AssertionError("no laser operation")


def _reference(ops, system: SpinSystem, nodes: int, *, ac=None):
    """Ensemble mean by QuTiP over hyperfine lines and Gauss–Hermite detuning nodes."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    if system.dephasing_sigma == 0:
        x, w = np.zeros(1), np.ones(1)
    total = 0.0
    for hf in system.hyperfine:
        for xi, wi in zip(x, w):
            det = system.detuning + hf + system.dephasing_sigma * xi
            total += wi / len(system.hyperfine) * _qutip_shot(
                ops, det, system.rabi_frequency, t1=system.t1, t2m=system.t2_markov,
                pol=system.polarization, ac=ac)
    return total


def _ours(ops_per_point, system):
    kinds = [k for k, _, _ in ops_per_point[0]]
    durations = [[d for _, d, _ in ops] for ops in ops_per_point]
    phases = [[p for _, _, p in ops] for ops in ops_per_point]
    return evolve(kinds, durations, phases, system)[:, 0]


def _tail():
    return [(LASER, 3e-6, 0.0)]


def test_detuned_rabi_with_t1_and_markovian_dephasing_matches_mesolve():
    system = SpinSystem(8e6, detuning=2.5e6, t1=3e-6, t2_markov=2e-6, polarization=0.9)
    points = [[(FREE, 1e-6, 0.0), (PULSE, tau, 0.7), *_tail()]
              for tau in (0.0, 37e-9, 120e-9, 333e-9)]
    ours = _ours(points, system)
    ref = [_reference(ops, system, 1) for ops in points]
    np.testing.assert_allclose(ours, ref, atol=TOL)
    # the closed form without relaxation, as a sanity check of the reference itself
    pure = SpinSystem(8e6, detuning=2.5e6)
    omega = math.hypot(8e6, 2.5e6)
    exact = [1 - (8e6 / omega) ** 2 * math.sin(math.pi * omega * tau) ** 2
             for tau in (0.0, 37e-9, 120e-9, 333e-9)]
    np.testing.assert_allclose(_ours(points, pure), exact, atol=1e-9)


def test_ramsey_with_14n_lines_and_quasi_static_spread_matches_mesolve():
    system = SpinSystem(10e6, detuning=1.3e6, hyperfine=(-2.16e6, 0.0, 2.16e6),
                        dephasing_sigma=2e5, t1=50e-6, polarization=0.95, nodes=8)
    half = 25e-9
    points = [[(FREE, 1e-6, 0.0), (PULSE, half, 0.0), (FREE, tau, 0.0), (PULSE, half, 0.0),
               *_tail()] for tau in (0.0, 150e-9, 610e-9, 1.4e-6)]
    ours = _ours(points, system)
    ref = [_reference(ops, system, 8) for ops in points]
    np.testing.assert_allclose(ours, ref, atol=TOL)


def test_echo_and_xy8_with_finite_pulses_and_an_ac_field_match_mesolve():
    # y pulses (phase π/2) and −x readout pulses check the phase convention too
    system = SpinSystem(12e6, detuning=0.4e6, t1=20e-6, polarization=0.9,
                        ac_amplitude=3e5, ac_frequency=1 / (2 * 300e-9), ac_phase=0.3)
    half, pi = 1 / (4 * 12e6), 1 / (2 * 12e6)
    tau = 300e-9
    xy8 = [0, 1, 0, 1, 1, 0, 1, 0]
    seq = [(FREE, 1e-6, 0.0), (PULSE, half, 0.0), (FREE, tau / 2 - pi / 2, 0.0)]
    for k, axis in enumerate(xy8 * 2):
        seq.append((PULSE, pi, axis * math.pi / 2))
        seq.append((FREE, (tau - pi) if k < 15 else (tau / 2 - pi / 2), 0.0))
    echo = [(FREE, 1e-6, 0.0), (PULSE, half, 0.0), (FREE, 400e-9, 0.0), (PULSE, pi, 0.0),
            (FREE, 400e-9, 0.0), (PULSE, half, math.pi)]
    ac = (system.ac_amplitude, system.ac_frequency, system.ac_phase)
    for ops in ([*seq, (PULSE, half, math.pi), *_tail()], [*echo, *_tail()]):
        ours = _ours([ops], system)[0]
        ref = _reference(ops, system, 1, ac=ac)
        assert abs(ours - ref) < TOL, (ours, ref)
    # the AC field really moved the XY8 signal (the comparison is not trivially at 0 or 1)
    still = _ours([[*seq, (PULSE, half, math.pi), *_tail()]], system.with_(ac_amplitude=0.0))[0]
    moved = _ours([[*seq, (PULSE, half, math.pi), *_tail()]], system)[0]
    assert abs(still - moved) > 0.05


def test_t1_decay_after_a_pi_pulse_matches_mesolve():
    system = SpinSystem(10e6, t1=2e-6, polarization=0.8)
    pi = 50e-9
    points = [[(FREE, 1e-6, 0.0), (PULSE, pi, 0.0), (FREE, tau, 0.0), *_tail()]
              for tau in (0.0, 1e-6, 4e-6)]
    ours = _ours(points, system)
    ref = [_reference(ops, system, 1) for ops in points]
    np.testing.assert_allclose(ours, ref, atol=TOL)
