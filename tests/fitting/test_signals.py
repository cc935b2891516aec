"""Signal kinds (dips, peaks, the dispersive lines of FM lock-in detection), their detection,
and the plausibility flags that stop a wrong kind from "succeeding" (issue 13, item 3).

Spectra are built from the textbook line shapes written here."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.fitting import (
    FitStatus,
    detect_signal,
    fit_batch,
    fit_spectrum,
    lorentzian_derivative,
)

F = np.linspace(2.85e9, 2.89e9, 201)


def lor(f, c, w):
    return 1.0 / (1.0 + 4.0 * ((f - c) / w) ** 2)


def dispersive(f, c, w):
    """d/du of 1/(1 + 4u²), scaled to extrema ±1: −(32/3√3)·u/(1 + 4u²)²."""
    u = (f - c) / w
    return -(32 / (3 * np.sqrt(3))) * u / (1 + 4 * u * u) ** 2


def test_dispersive_shape_is_the_scaled_lorentzian_derivative():
    u = np.linspace(-3, 3, 6001)
    s = lorentzian_derivative(u)
    assert s.max() == pytest.approx(1.0, abs=1e-6) and s.min() == pytest.approx(-1.0, abs=1e-6)
    assert u[np.argmax(s)] == pytest.approx(-1 / (2 * np.sqrt(3)), abs=1e-3)
    np.testing.assert_allclose(np.gradient(lor(u, 0, 1), u) / (3 * np.sqrt(3) / 4), s, atol=2e-5)


LOCKIN = 2e-3 + 0.8 * dispersive(F, 2.8642e9, 4e6) + 0.5 * dispersive(F, 2.8771e9, 5e6)


@pytest.fixture
def lockin():
    """Two FM lock-in lines (the derivative of two ODMR dips) on a small offset, with noise."""
    rng = np.random.default_rng(4)
    return LOCKIN + rng.normal(size=F.size) * 0.02


def test_lockin_lines_are_detected_and_fitted_in_both_fitters(lockin):
    assert detect_signal(F, lockin) == "derivative"
    fit = fit_spectrum(F, lockin, signal_kind="auto")
    assert fit.success and fit.signal == "derivative" and fit.n_lines == 2
    assert np.all(np.abs(fit.centers - [2.8642e9, 2.8771e9]) < 5 * fit.center_errors)
    assert np.all(np.abs(fit.widths - [4e6, 5e6]) < 5 * fit.width_errors)
    assert np.all(np.abs(fit.contrasts - [0.8, 0.5]) < 5 * fit.contrast_errors)  # amplitudes
    rng = np.random.default_rng(5)
    Y = LOCKIN + rng.normal(size=(200, F.size)) * 0.02
    res = fit_batch(F, Y, n_lines=2, signal="derivative")
    assert res.success.mean() > 0.99
    scatter = np.std(res.centers, axis=0)
    np.testing.assert_allclose(np.median(res.center_errors, axis=0) / scatter, 1.0, atol=0.3)
    np.testing.assert_allclose(np.mean(res.centers, axis=0), [2.8642e9, 2.8771e9],
                               atol=5 * scatter.max() / np.sqrt(200) + 1e3)


def test_a_lockin_recording_fitted_as_dips_is_not_a_success(lockin):
    """Issue 13: lock-in lines fitted as dips "succeeded" with contrasts of 0.8–0.9, lines on
    the flat edges and a baseline far above the data."""
    res = fit_batch(F, lockin + 1.0, n_lines=2)  # (shifted: dips need a positive baseline)
    bad = fit_batch(F, lockin, n_lines=2)
    for r in (res, bad):
        assert not r.success[0]


def test_peaks_are_detected_fitted_and_not_taken_for_dips():
    rng = np.random.default_rng(6)
    clean = 1e3 + 400 * lor(F, 2.8655e9, 3e6) + 250 * lor(F, 2.874e9, 3e6)
    y = rng.poisson(clean).astype(float)
    assert detect_signal(F, y) == "peaks"
    fit = fit_spectrum(F, y, sigma="poisson", signal_kind="auto")
    assert fit.success and fit.signal == "peaks" and fit.n_lines == 2
    assert np.all(np.abs(fit.contrasts - [400, 250]) < 5 * fit.contrast_errors)  # in counts
    assert np.all(np.abs(fit.centers - [2.8655e9, 2.874e9]) < 5 * fit.center_errors)
    as_dips = fit_batch(F, y, n_lines=2, sigma="poisson")
    assert not as_dips.success[0]


def test_dips_stay_dips():
    rng = np.random.default_rng(8)
    y = rng.poisson(1e4 * (1 - 0.03 * lor(F, 2.87e9, 5e6))).astype(float)
    assert detect_signal(F, y) == "dips"
    fit = fit_spectrum(F, y, sigma="poisson", signal_kind="auto")
    assert fit.success and fit.signal == "dips" and fit.n_lines == 1


def test_implausible_dips_are_flagged():
    """A 'dip' deeper than half the signal is no NV line: IMPLAUSIBLE, not OK."""
    rng = np.random.default_rng(9)
    y = rng.poisson(1e4 * (1 - 0.8 * lor(F, 2.87e9, 5e6))).astype(float)
    res = fit_batch(F, y, sigma="poisson")
    assert res.status[0] == FitStatus.IMPLAUSIBLE
    assert fit_spectrum(F, y, n_lines=1, sigma="poisson").status == FitStatus.IMPLAUSIBLE


@pytest.mark.parametrize("steps_inside, plausible", [(0.3, False), (6.0, True)])
def test_a_line_on_the_sweeps_edge_is_implausible(steps_inside, plausible):
    """A line centred within one step of the sweep's end had its middle unmeasured: it cannot be
    told from a baseline slope, and the flat edges are where wrong models park spare lines."""
    step = F[1] - F[0]
    rng = np.random.default_rng(10)
    y = 1.0 - 0.03 * lor(F, F[0] + steps_inside * step, 5e6) + rng.normal(0, 1e-4, F.size)
    res = fit_batch(F, y, n_lines=1)
    fit = fit_spectrum(F, y, n_lines=1)
    assert res.centers[0, 0] == pytest.approx(F[0] + steps_inside * step, abs=0.1 * step)
    if plausible:
        assert res.success[0] and fit.success
    else:
        assert res.status[0] == FitStatus.IMPLAUSIBLE and fit.status == FitStatus.IMPLAUSIBLE
