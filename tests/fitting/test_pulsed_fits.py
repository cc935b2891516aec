"""Pulsed fits on data from the spin-dynamics simulator: recovered values vs the truth (3 % or
2σ), and fits that must not claim success."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nvsense.fitting.pulsed import (
    PulsedStatus,
    fit_decoupling,
    fit_hahn_echo,
    fit_pulsed_odmr,
    fit_rabi,
    fit_ramsey,
    fit_t1,
    relaxometry_rate,
)
from nvsense.physics import hyperfine_offsets
from nvsense.physics.spin_dynamics import SpinSystem
from nvsense.pulses import hahn_echo, normalised_signal, rabi, ramsey, t1, xy8
from nvsense.pulses.simulate import expected_counts

RATE, CONTRAST = 1e6, 0.3  # an ensemble readout: 0.3 photons per 300 ns window


def _measure(program, system, passes, seed):
    rng = np.random.default_rng(seed)
    mean = expected_counts(program, system, rate=RATE, contrast=CONTRAST) * passes
    return normalised_signal(rng.poisson(mean), program.readouts)


def _close(value, error, truth, rel=0.03):
    return abs(value - truth) <= max(rel * truth, 2 * error)


@pytest.mark.parametrize("seed", [1, 2])
def test_rabi_frequency_and_pi_pulse(seed):
    truth = 12.5e6
    system = SpinSystem(truth, polarization=0.9, rabi_spread=0.04, t1=1e-3)
    program = rabi(np.arange(0, 300e-9, 3e-9))
    sig, err = _measure(program, system, 30_000, seed)
    fit = fit_rabi(program.sweep.values, sig, sigma=err)
    assert fit.success, fit.message
    assert _close(fit["rabi_frequency"], fit.error("rabi_frequency"), truth)
    assert fit["pi_pulse"] == pytest.approx(1 / (2 * fit["rabi_frequency"]))
    assert math.isfinite(fit["decay_time"])  # the spread of Ω damps it
    d = fit.as_dict()
    assert d["rabi_frequency_hz"] == fit["rabi_frequency"] and "pi_pulse_s_error" in d


def test_ramsey_t2_star_and_detuning_with_14n_beats():
    t2s, det = 1.2e-6, 3.3e6
    system = SpinSystem.from_times(15e6, detuning=det, hyperfine=hyperfine_offsets("14N"),
                                   t2_star=t2s, t2=100e-6, t1=5e-3, polarization=0.85)
    program = ramsey(np.arange(0, 3.6e-6, 12e-9), 1 / (4 * 15e6) // 1e-9 * 1e-9)
    sig, err = _measure(program, system, 40_000, 7)
    fit = fit_ramsey(program.sweep.values, sig, sigma=err, nucleus="14N")
    assert fit.success, fit.message
    assert _close(fit["t2_star"], fit.error("t2_star"), t2s)
    assert _close(fit["detuning"], fit.error("detuning"), det, rel=0.01)
    assert fit.as_dict()["t2star_s"] == fit["t2_star"]


def test_hahn_echo_t2_and_its_stretched_exponent():
    t2 = 60e-6
    system = SpinSystem.from_times(15e6, t2_star=0.5e-6, t2=t2, bath_correlation_time=1000 * t2,
                                   t1=math.inf, polarization=0.85)
    program = hahn_echo(np.linspace(1e-6, 90e-6, 45), 17e-9, 33e-9)
    sig, err = _measure(program, system, 40_000, 3)
    fit = fit_hahn_echo(program.sweep.values, sig, sigma=err)
    assert fit.success, fit.message
    assert _close(fit["t2"], fit.error("t2"), t2)
    assert fit["exponent"] == pytest.approx(3.0, abs=max(0.45, 2 * fit.error("exponent")))
    np.testing.assert_allclose(fit.x, 2 * np.asarray(program.sweep.values))


def test_xy8_t2_grows_as_n_to_the_two_thirds():
    t2 = 40e-6
    # a slow bath (τc = 10⁴ T2) has a large static spread: T2* ≈ 0.004·T2
    system = SpinSystem.from_times(25e6, t2_star=0.1e-6, t2=t2, bath_correlation_time=1e4 * t2,
                                   t1=math.inf, polarization=0.85)
    found = {}
    for units in (1, 4):
        n = 8 * units
        t2n = t2 * n ** (2 / 3)
        taus = np.linspace(60e-9, 2.2 * t2n / n, 36)
        program = xy8(taus, 10e-9, 20e-9, units)
        sig, err = _measure(program, system, 30_000, 5 + units)
        fit = fit_decoupling(program.sweep.values, sig, n, sigma=err, offset=0.0)
        assert fit.success, fit.message
        assert _close(fit["t2"], fit.error("t2"), t2n, rel=0.05)
        found[n] = fit["t2"]
    assert found[32] / found[8] == pytest.approx(4 ** (2 / 3), rel=0.08)


def test_t1_from_the_difference_of_the_two_initial_states_and_relaxometry():
    truth = 2e-3
    system = SpinSystem(10e6, t1=truth, polarization=0.85)
    program = t1(np.linspace(1e-6, 8e-3, 40), pi_pulse=50e-9)
    sig, err = _measure(program, system, 60_000, 4)
    fit = fit_t1(program.sweep.values, sig, sigma=err, offset=0.0)
    assert fit.success, fit.message
    assert _close(fit["t1"], fit.error("t1"), truth)
    rate, rate_err = relaxometry_rate(fit["t1"], fit.error("t1"), 5e-3, 0.1e-3)
    assert rate == pytest.approx(1 / fit["t1"] - 1 / 5e-3)
    assert rate_err > 0
    with pytest.raises(ValueError, match="t1_intrinsic"):
        relaxometry_rate(1e-3, 1e-5, 0.0)


def test_fits_that_must_not_claim_success():
    rng = np.random.default_rng(0)
    t = np.arange(0, 300e-9, 3e-9)
    noise = 1 + 0.01 * rng.standard_normal(t.size)
    assert not fit_rabi(t, noise, sigma=np.full(t.size, 0.01)).success
    # an oscillation at 95 % of the Nyquist frequency
    fast = 1 + 0.1 * np.cos(2 * np.pi * 0.95 / (2 * 3e-9) * t)
    fit = fit_rabi(t, fast + 0.001 * rng.standard_normal(t.size))
    assert not fit.success and fit.status in (PulsedStatus.UNDERSAMPLED, PulsedStatus.AT_BOUND)
    # a decay far slower than the range sampled
    tt = np.linspace(1e-6, 10e-6, 30)
    slow = 0.1 * np.exp(-((tt / 200e-6) ** 2)) + 0.001 * rng.standard_normal(tt.size)
    fit = fit_hahn_echo(tt, slow, tau_is="total", offset=0.0)
    assert not fit.success
    assert fit.status in (PulsedStatus.IMPLAUSIBLE, PulsedStatus.NOT_SIGNIFICANT,
                          PulsedStatus.AT_BOUND)
    bad = fit_t1(tt, np.full(tt.size, np.nan))
    assert bad.status == PulsedStatus.BAD_INPUT and not bad.success


def test_pulsed_odmr_reuses_fit_spectrum():
    f = np.linspace(2.86e9, 2.88e9, 101)
    y = 1 - 0.2 / (1 + ((f - 2.8712e9) / 0.5e6) ** 2)
    fit = fit_pulsed_odmr(f, y + 0.002 * np.random.default_rng(1).standard_normal(f.size))
    assert fit.success
    assert fit.centers[0] == pytest.approx(2.8712e9, abs=20e3)


def test_rabi_held_in_phase_is_not_a_success_when_the_data_start_out_of_phase():
    """φ held at 0 on an oscillation that starts at φ = 0.6 rad (a delay before the pulse)
    biases the frequency: WRONG_MODEL, and free_phase=True recovers the truth.  Data in phase
    (20 seeds) are not flagged."""
    t = np.arange(10e-9, 1.25e-6, 50e-9)
    f, sigma = 1.4e6, 0.001
    clean = 1.07 + 0.045 * np.exp(-t / 1e-6) * np.cos(2 * np.pi * f * t + 0.6)
    y = clean + sigma * np.random.default_rng(3).standard_normal(t.size)
    held = fit_rabi(t, y, sigma=np.full(t.size, sigma))
    assert not held.success and held.status == PulsedStatus.WRONG_MODEL
    free = fit_rabi(t, y, sigma=np.full(t.size, sigma), free_phase=True)
    assert free.success and _close(free["rabi_frequency"], free.error("rabi_frequency"), f)
    in_phase = 1.07 + 0.045 * np.exp(-t / 1e-6) * np.cos(2 * np.pi * f * t)
    for seed in range(20):
        noisy = in_phase + sigma * np.random.default_rng(seed).standard_normal(t.size)
        fit = fit_rabi(t, noisy, sigma=np.full(t.size, sigma))
        assert fit.success, (seed, fit.message)
