"""D(T) models and the shot-noise sensitivity formula."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from nv_reference import GAMMA

from nvsense.physics import ZFS_HZ, ZFS_MODELS, shot_noise_sensitivity, temperature_from_zfs, zfs_at


def test_linear_model_slope_and_reference_point():
    assert zfs_at(300.0) == pytest.approx(ZFS_HZ)
    # Acosta et al. 2010: dD/dT = −74.2 kHz/K between 280 and 330 K
    assert (zfs_at(330.0) - zfs_at(280.0)) / 50.0 == pytest.approx(-74.2e3, rel=1e-12)
    assert zfs_at(310.0) == pytest.approx(2869.258e6)
    t = np.array([281.0, 295.5, 329.0])
    np.testing.assert_allclose(temperature_from_zfs(zfs_at(t)), t, atol=1e-9)
    assert temperature_from_zfs(2.8695e9) == pytest.approx(300 + 0.5e6 / 74.2e3)


def test_own_calibration_point():
    d = zfs_at(300.0, reference=(296.0, 2.8703e9))
    assert d == pytest.approx(2.8703e9 - 4 * 74.2e3)
    assert temperature_from_zfs(d, reference=(296.0, 2.8703e9)) == pytest.approx(300.0)


def test_published_polynomials():
    # Chen et al. 2011: D(0) = 2.87771 GHz; Toyli et al. 2012 cubic at 700 K: 2.81461 GHz
    assert zfs_at(5.0, model="chen2011") == pytest.approx(2.87771e9, abs=30e3)
    assert zfs_at(700.0, model="toyli2012") == pytest.approx(2.81461e9, abs=1e3)
    # the three models agree at room temperature to within 0.4 MHz (≈ 5 K)
    at_300 = [zfs_at(300.0, model=m) for m in ZFS_MODELS]
    assert max(at_300) - min(at_300) < 0.4e6
    # and their slopes near 300 K are all within the −70 to −80 kHz/K published spread
    for name, model in ZFS_MODELS.items():
        assert -80e3 < model.slope(300.0) < -70e3, name


@pytest.mark.parametrize("model", list(ZFS_MODELS))
def test_round_trip_over_each_range(model):
    m = ZFS_MODELS[model]
    t = np.linspace(m.t_min, m.t_max, 41)
    d = zfs_at(t, model=model)
    assert np.all(np.diff(d) < 0)  # monotonic: the inverse is unique
    np.testing.assert_allclose(temperature_from_zfs(d, model=model), t, atol=1e-6)


def test_outside_the_range_raises_or_warns():
    with pytest.raises(ValueError, match="280-330 K"):
        zfs_at(350.0)
    with pytest.raises(ValueError, match="outside the range"):
        temperature_from_zfs(2.85e9)
    with pytest.warns(RuntimeWarning, match="outside"):
        d = zfs_at(340.0, strict=False)
    assert d == pytest.approx(ZFS_HZ - 40 * 74.2e3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(temperature_from_zfs(np.nan))  # NaN passes through quietly
    with pytest.raises(ValueError, match="unknown D"):
        zfs_at(300.0, model="nonsense")


def test_sensitivity_published_value():
    # REFERENCES.md: 1 MHz, 1 %, 1e12 /s → 2.75 nT/√Hz
    assert shot_noise_sensitivity(1e6, 0.01, 1e12) == pytest.approx(2.75e-9, abs=0.01e-9)


def test_sensitivity_is_inverse_max_slope_of_a_lorentzian():
    """η = σ_signal / slope: with R photons/s the shot noise of the normalised signal is
    1/√R per √Hz; the slope of a Lorentzian dip 1 − C/(1 + (2δ/Δν)²) is found numerically."""
    width, contrast, rate = 2.3e6, 0.027, 4e10
    detuning = np.linspace(0, 3 * width, 200001)
    dip = 1 - contrast / (1 + (2 * detuning / width) ** 2)
    slope = np.max(np.gradient(dip, detuning))  # per Hz of line shift
    expected = (1 / np.sqrt(rate)) / (slope * GAMMA)  # T/√Hz
    assert shot_noise_sensitivity(width, contrast, rate) == pytest.approx(expected, rel=1e-5)
    # the steepest point is at Δν/(2√3)
    assert detuning[np.argmax(np.gradient(dip, detuning))] == pytest.approx(
        width / (2 * np.sqrt(3)), rel=1e-3)


def test_sensitivity_scaling_and_broadcast():
    eta = shot_noise_sensitivity([1e6, 2e6], 0.01, [1e12, 4e12])
    assert eta[1] == pytest.approx(eta[0])  # twice the width, four times the light


@pytest.mark.parametrize("args", [(0, 0.01, 1e12), (1e6, 0, 1e12), (1e6, 1.5, 1e12),
                                  (1e6, 0.01, -1), (np.nan, 0.01, 1e12)])
def test_sensitivity_bad_input(args):
    with pytest.raises(ValueError):
        shot_noise_sensitivity(*args)
