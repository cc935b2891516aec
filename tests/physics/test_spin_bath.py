"""The spin bath (Ornstein–Uhlenbeck detuning noise) and the coherence times it produces.

Checked against a direct numerical double integral, a Monte Carlo of OU noise paths, the
closed-form echo decay, and the slow-bath scaling T2(N) = T2(1)·N^(2/3) (de Lange et al.,
Science 330, 60, 2010).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from nvsense.physics.spin_bath import bath_sigma_for_t2, echo_chi, ou_chi
from nvsense.physics.spin_dynamics import FREE, LASER, PULSE, SpinSystem, evolve


def _double_integral(starts, ends, signs, sigma, tau_c, n=1500):
    """χ = ½(2πσ)² ∫∫ y(t) y(t') e^{−|t−t'|/τc}, by the midpoint rule on a fine grid."""
    t = np.linspace(starts[0], ends[-1], n + 1)
    mid = 0.5 * (t[1:] + t[:-1])
    dt = t[1] - t[0]
    y = np.zeros_like(mid)
    for a, b, s in zip(starts, ends, signs):
        y[(mid >= a) & (mid < b)] = s
    kernel = np.exp(-np.abs(mid[:, None] - mid[None, :]) / tau_c)
    return 0.5 * (2 * np.pi * sigma) ** 2 * float(y @ kernel @ y) * dt * dt


@pytest.mark.parametrize("tau_c", [0.3e-6, 3e-6, 1e-3])
def test_ou_chi_equals_the_double_integral_for_uneven_segments(tau_c):
    starts = np.array([0.0, 0.8e-6, 2.1e-6, 2.5e-6])
    ends = np.array([0.7e-6, 2.0e-6, 2.5e-6, 4.0e-6])
    signs = np.array([1.0, -1.0, 1.0, -1.0])
    sigma = 3e4
    ours = float(ou_chi(starts, ends, signs, sigma, tau_c))
    ref = _double_integral(starts, ends, signs, sigma, tau_c, n=3000)
    assert ours == pytest.approx(ref, rel=2e-3)


def test_echo_closed_form_and_quasi_static_limit():
    sigma, tau_c = 5e4, 20e-6
    for total in (1e-6, 10e-6, 80e-6):
        two = ou_chi([0, total / 2], [total / 2, total], [1, -1], sigma, tau_c)
        assert float(two) == pytest.approx(float(echo_chi(total, sigma, tau_c)), rel=1e-9)
    # quasi-static: a Ramsey segment dephases as exp(−(2πστ)²/2), an echo not at all
    assert float(ou_chi([0], [1e-6], [1], sigma, math.inf)) == pytest.approx(
        0.5 * (2 * np.pi * sigma * 1e-6) ** 2)
    assert float(ou_chi([0, 1e-6], [1e-6, 2e-6], [1, -1], sigma, math.inf)) == 0.0


def test_ou_chi_matches_a_monte_carlo_of_noise_paths():
    """Exact OU paths (AR(1) steps): ⟨cos φ⟩ of an echo equals exp(−χ) within 4σ."""
    rng = np.random.default_rng(20240611)
    sigma, tau_c, total, n_steps, n_paths = 1e5, 2e-6, 6e-6, 600, 40000
    dt = total / n_steps
    rho = math.exp(-dt / tau_c)
    delta = sigma * rng.standard_normal(n_paths)
    phase = np.zeros(n_paths)
    for k in range(n_steps):
        # integrate each step exactly enough: midpoint of the two ends (dt ≪ τc)
        nxt = rho * delta + sigma * math.sqrt(1 - rho**2) * rng.standard_normal(n_paths)
        sign = 1.0 if (k + 0.5) * dt < total / 2 else -1.0
        phase += sign * 2 * np.pi * 0.5 * (delta + nxt) * dt
        delta = nxt
    mc = np.cos(phase)
    expected = math.exp(-float(echo_chi(total, sigma, tau_c)))
    assert abs(mc.mean() - expected) < 4 * mc.std() / math.sqrt(n_paths) + 2e-3


def _decoupling_chi(total, n_pulses, sigma, tau_c):
    """χ of CPMG-N with ideal pulses: spacing τ = T/N, first and last half gaps τ/2."""
    tau = total / n_pulses
    edges = np.r_[0.0, tau / 2 + tau * np.arange(n_pulses), total]
    signs = (-1.0) ** np.arange(n_pulses + 1)
    return float(ou_chi(edges[:-1], edges[1:], signs, sigma, tau_c))


def test_t2_grows_as_n_to_the_two_thirds_in_a_slow_bath():
    t2, tau_c = 50e-6, 1e4 * 50e-6
    sigma = bath_sigma_for_t2(t2, tau_c)
    t2_of = {}
    for n in (1, 8, 64):
        t2_of[n] = brentq(lambda t, n=n: _decoupling_chi(t, n, sigma, tau_c) - 1.0,
                          1e-7, 50 * t2)
    assert t2_of[1] == pytest.approx(t2, rel=1e-6)
    for n in (8, 64):
        assert t2_of[n] / t2_of[1] == pytest.approx(n ** (2 / 3), rel=0.01)
    # and the echo decay is a stretched exponential of power 3 there
    t = np.array([0.3, 0.6, 1.0, 1.5]) * t2
    chi = echo_chi(t, sigma, tau_c)
    np.testing.assert_allclose(chi, (t / t2) ** 3, rtol=0.01)


def test_from_times_gives_the_ramsey_and_echo_envelopes_it_promises():
    rabi = 1e9  # hard pulses: 0.25 ns π/2
    t2s, t2 = 1e-6, 40e-6
    system = SpinSystem.from_times(rabi, t2_star=t2s, t2=t2, t1=math.inf, nodes=40)
    half, pi = 1 / (4 * rabi), 1 / (2 * rabi)
    taus = np.array([0.0, 0.5e-6, 1e-6, 1.5e-6])
    kinds = [FREE, PULSE, FREE, PULSE, LASER]
    dur = np.column_stack([np.full(4, 1e-6), np.full(4, half), taus, np.full(4, half),
                           np.full(4, 3e-6)])
    pop = evolve(kinds, dur, np.zeros_like(dur), system)[:, 0]
    # π/2 – τ – π/2 about the same axis: P0 = (1 − coherence)/2
    coherence = 1 - 2 * pop
    np.testing.assert_allclose(coherence, np.exp(-(taus / t2s) ** 2), atol=2e-3)
    # Hahn echo: π/2 – τ – π – τ – π/2 at total 2τ = T2 is 1/e
    kinds = [FREE, PULSE, FREE, PULSE, FREE, PULSE, LASER]
    arms = np.array([0.25, 0.5]) * t2
    dur = np.column_stack([np.full(2, 1e-6), np.full(2, half), arms, np.full(2, pi), arms,
                           np.full(2, half), np.full(2, 3e-6)])
    phases = np.zeros_like(dur)
    phases[:, 5] = np.pi  # x, x, −x: the refocused state ends in ms=±1, P0 = (1 − coherence)/2
    pop = evolve(kinds, dur, phases, system)[:, 0]
    coherence = 1 - 2 * pop
    expected = np.exp(-echo_chi(2 * arms, system.bath_sigma, system.bath_correlation_time))
    np.testing.assert_allclose(coherence, expected, atol=2e-3)
    assert coherence[1] == pytest.approx(math.exp(-1), abs=2e-3)


def test_from_times_refuses_a_bath_that_dephases_faster_than_t2_star():
    with pytest.raises(ValueError, match="bath_correlation_time"):
        SpinSystem.from_times(10e6, t2_star=10e-6, t2=20e-6, bath_correlation_time=1.0)
