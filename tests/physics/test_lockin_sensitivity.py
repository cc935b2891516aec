"""Sine-FM lock-in slope and shot-noise limit, checked against direct numerical integration
of a modulated Lorentzian, the values El-Ella et al. (2017) quote, and a simulated
shot-noise-limited photocurrent demodulated by the software lock-in."""

import numpy as np
import pytest
from scipy import optimize, signal

from nvsense.dsp import SoftwareLockIn
from nvsense.physics import GAMMA_NV_HZ_PER_T, shot_noise_sensitivity
from nvsense.physics.lockin_sensitivity import (
    ELEMENTARY_CHARGE_C,
    fm_first_harmonic,
    fm_lockin_slope,
    fm_mean_dip,
    lockin_shot_noise_floor,
    lockin_shot_noise_sensitivity,
    lorentzian_derivative_signal,
    optimal_modulation_depth,
    photocurrent_shot_noise,
)

WIDTH, C = 1e6, 0.01
PHI = np.linspace(0, 2 * np.pi, 40000, endpoint=False)


def lorentzian(x, width=WIDTH, c=C):
    hw = width / 2
    return c * hw ** 2 / (x ** 2 + hw ** 2)


def numeric_first_harmonic(x, deviation):
    """2⟨S(φ) sin φ⟩ over one period, S = 1 - L(x + δ sin φ): the peak in-phase amplitude."""
    s = 1 - lorentzian(x + deviation * np.sin(PHI))
    return 2 * np.mean(s * np.sin(PHI))


@pytest.mark.parametrize("x", [-3e6, -0.6e6, -0.1e6, 0.0, 0.25e6, 1.4e6])
@pytest.mark.parametrize("deviation", [0.05e6, 0.35e6, 0.9e6, 2.5e6])
def test_first_harmonic_matches_direct_integration(x, deviation):
    assert fm_first_harmonic(x, WIDTH, C, deviation) == pytest.approx(
        numeric_first_harmonic(x, deviation), abs=1e-12)


@pytest.mark.parametrize("deviation", [0.1e6, 0.35e6, 2.0e6])
def test_mean_dip_matches_direct_integration(deviation):
    for x in (-1e6, 0.0, 0.3e6):
        numeric = np.mean(lorentzian(x + deviation * np.sin(PHI)))
        assert fm_mean_dip(x, WIDTH, C, deviation) == pytest.approx(numeric, abs=1e-12)


@pytest.mark.parametrize("deviation", [0.1e6, 0.35e6, 1.0e6])
def test_slope_at_the_centre_matches_a_finite_difference(deviation):
    dx = 1e3
    numeric = (numeric_first_harmonic(dx, deviation)
               - numeric_first_harmonic(-dx, deviation)) / (2 * dx)
    assert fm_lockin_slope(WIDTH, C, deviation) == pytest.approx(numeric, rel=1e-5)


def test_optimum_is_el_ellas_154_c_over_width_at_035_width():
    best = optimize.minimize_scalar(
        lambda d: -(numeric_first_harmonic(1e2, d) - numeric_first_harmonic(-1e2, d)) / 2e2,
        bounds=(0.05e6, 1.5e6), method="bounded", options={"xatol": 10.0})
    # El-Ella et al., Opt. Express 25, 14809 (2017): ≈1.54 C/Δν at δ ≈ 0.35 Δν
    assert best.x / WIDTH == pytest.approx(0.35, abs=0.005)
    assert -best.fun * WIDTH / C == pytest.approx(1.54, abs=0.005)
    assert optimal_modulation_depth(WIDTH) == pytest.approx(best.x, rel=1e-3)
    assert fm_lockin_slope(WIDTH, C, optimal_modulation_depth(WIDTH)) * WIDTH / C == \
        pytest.approx(1.5396, abs=1e-4)


def test_derivative_model_is_the_small_depth_limit():
    x = np.linspace(-3e6, 3e6, 61)
    small = 0.01e6
    exact = fm_first_harmonic(x, WIDTH, C, small)
    model = lorentzian_derivative_signal(x, WIDTH, C, small)
    assert np.max(np.abs(model - exact)) < 1e-3 * np.max(np.abs(exact))
    # and it is not the shape at the optimum depth (the model is a small-δ approximation)
    big = optimal_modulation_depth(WIDTH)
    assert np.max(np.abs(lorentzian_derivative_signal(x, WIDTH, C, big)
                         - fm_first_harmonic(x, WIDTH, C, big))) > 0.05 * C


def test_software_lock_in_on_a_simulated_fm_lorentzian_gives_the_slope():
    fs, f_mod, dev = 200e3, 5e3, optimal_modulation_depth(WIDTH)
    t = np.arange(40000) / fs
    values = []
    for x in (-2e3, 2e3):
        s = 1 - lorentzian(x + dev * np.sin(2 * np.pi * f_mod * t))
        out = SoftwareLockIn(fs, f_mod, time_constant=1e-3, order=4, scale="peak").process(s)
        values.append(out.x[0, 0, -1])
    slope = (values[1] - values[0]) / 4e3
    assert slope == pytest.approx(fm_lockin_slope(WIDTH, C, dev), rel=1e-4)


def test_shot_noise_floor_of_a_simulated_photocurrent_through_the_lock_in():
    # photocurrent q·R·(1 - L(f(t))) with white shot noise √(2qI), demodulated at f_mod
    rng = np.random.default_rng(11)
    fs, f_mod, rate = 100e3, 10e3, 1e15
    dev = optimal_modulation_depth(WIDTH)
    n = 400_000
    t = np.arange(n) / fs
    current = ELEMENTARY_CHARGE_C * rate * (1 - lorentzian(dev * np.sin(2 * np.pi * f_mod * t)))
    noise_sigma = np.sqrt(ELEMENTARY_CHARGE_C * current.mean() * fs)  # 2qI over fs/2
    record = current + noise_sigma * rng.standard_normal(n)
    # a wide filter, no decimation: flat over 10-100 Hz and no aliased noise
    out = SoftwareLockIn(fs, f_mod, time_constant=20e-6, order=2, scale="peak").process(record)
    x = out.x[0, 0, 100:]
    f, psd = signal.welch(x, fs, nperseg=16384)
    band = (f >= 10) & (f <= 100)
    tesla_per_amp = 1 / (ELEMENTARY_CHARGE_C * rate * fm_lockin_slope(WIDTH, C, dev)
                         * GAMMA_NV_HZ_PER_T)
    measured = np.sqrt(psd[band].mean()) * tesla_per_amp
    # 15 bins × ~48 segments averaged: the ASD is within 8 % with p > 1 - 1e-6
    assert measured == pytest.approx(lockin_shot_noise_floor(WIDTH, C, rate), rel=0.08)


def test_sensitivity_conventions_and_the_cw_comparison():
    eta = lockin_shot_noise_sensitivity(WIDTH, C, 1e15)
    assert lockin_shot_noise_floor(WIDTH, C, 1e15) == pytest.approx(np.sqrt(2) * eta)
    # sine FM at the optimum is √2·(3√3/4)/1.5396 ≈ 1.19 above the CW steepest-slope limit
    # (times √(1 − ⟨L⟩): the dip lowers the mean photocurrent and its shot noise)
    ratio = eta / shot_noise_sensitivity(WIDTH, C, 1e15)
    mean_dip = fm_mean_dip(0.0, WIDTH, C, optimal_modulation_depth(WIDTH))
    assert ratio == pytest.approx(np.sqrt(2) * (3 * np.sqrt(3) / 4) / 1.5396
                                  * np.sqrt(1 - mean_dip), rel=1e-4)
    assert lockin_shot_noise_sensitivity(WIDTH, C, 1e15, quantum_efficiency=0.25) == \
        pytest.approx(2 * eta, rel=1e-12)
    # √(2qI): 1 mA → 17.9 pA/√Hz
    assert photocurrent_shot_noise(1e-3) == pytest.approx(1.7901e-11, rel=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(linewidth=0), "linewidth"), (dict(contrast=1.5), "contrast"),
    (dict(photon_rate=-1), "photon_rate"), (dict(deviation=0), "deviation"),
])
def test_bad_inputs_name_the_argument(kwargs, match):
    args = dict(linewidth=WIDTH, contrast=C, photon_rate=1e15, deviation=None) | kwargs
    with pytest.raises(ValueError, match=match):
        lockin_shot_noise_sensitivity(**args)
