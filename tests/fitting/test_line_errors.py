"""Uncertainties that mean what they say (issue 12, items 2 and 11).

* The line positions of the Hamiltonian model are derived quantities: their errors come from
  the Jacobian of the lines with respect to the varied parameters and the covariance.  A
  fixed parameter (E by default) must not enter — it did, and gave the inner lines 87 kHz
  where the scatter is ~5 kHz.  Checked against fit_spectrum and against the scatter of
  repeated simulated measurements.
* Averaging N sweeps and fitting with Poisson weights scaled the reduced χ² by 1/N:
  ``n_averages`` gives the average's weights.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nvsense.fitting import PoissonWeightsWarning, fit_batch, fit_spectrum
from nvsense.physics import NV_AXES, transition_frequencies

F = np.linspace(2.70e9, 3.05e9, 401)
B = np.array([1.0e-3, 2.0e-3, 3.0e-3])
WIDTH = 6e6
COUNTS = 2e5


def _clean(field=B, D=2.8702e9) -> np.ndarray:
    """Ensemble spectrum from the textbook Lorentzian, lines from the Hamiltonian."""
    lines = transition_frequencies(field, D).ravel()
    depth = sum(0.012 / (1 + 4 * ((F - c) / WIDTH) ** 2) for c in lines)
    return COUNTS * (1 - depth)


def test_hamiltonian_line_errors_match_fit_spectrum_and_the_scatter():
    rng = np.random.default_rng(1)
    clean = _clean()
    Y = rng.poisson(clean, size=(300, F.size)).astype(float)
    res = fit_batch(F, Y, "hamiltonian", sigma="poisson", guess={"field": B})
    assert res.success.all()
    scatter = np.std(res.centers, axis=0, ddof=1)
    reported = np.median(res.center_errors, axis=0)
    # 300 runs estimate a standard deviation to ±4 %: ±30 % fails with p ≪ 1e-6
    np.testing.assert_allclose(reported / scatter, 1.0, atol=0.3)
    # the inner lines are no longer an order of magnitude off the outer ones
    assert reported.max() < 3 * reported.min()
    one = fit_spectrum(F, Y[0], "hamiltonian", sigma="poisson", field_guess=B)
    np.testing.assert_allclose(res.center_errors[0], one.center_errors, rtol=0.05)
    # and the field errors agree with the scatter of the fields too
    np.testing.assert_allclose(np.median(res.field_errors, axis=0) /
                               np.std(res.field, axis=0, ddof=1), 1.0, atol=0.3)


def test_fitted_E_does_enter_the_line_errors():
    rng = np.random.default_rng(2)
    Y = rng.poisson(_clean(), size=(3, F.size)).astype(float)
    fixed = fit_batch(F, Y, "hamiltonian", sigma="poisson", guess={"field": B})
    free = fit_batch(F, Y, "hamiltonian", sigma="poisson", guess={"field": B}, fixed={})
    assert np.all(free.center_errors >= fixed.center_errors * (1 - 1e-6))


@pytest.mark.parametrize("n", [1, 10, 50])
def test_averaged_sweeps_with_poisson_weights(n):
    """The average of n sweeps has variance mean/n: with n_averages=n the reduced χ² is ~1
    and the errors match the scatter of repeated averages; without it the χ² is ~1/n."""
    rng = np.random.default_rng(n)
    clean = 1e4 * (1 - 0.05 / (1 + 4 * ((F - 2.87e9) / WIDTH) ** 2))
    avg = rng.poisson(clean, size=(200, n, F.size)).mean(axis=1)
    right = fit_batch(F, avg, sigma="poisson", n_averages=n)
    assert right.success.all()
    # 200 × 399 degrees of freedom: the mean reduced χ² is 1 ± 0.005
    assert np.mean(right.redchi) == pytest.approx(1.0, abs=0.05)
    scatter = np.std(right.centers[:, 0], ddof=1)
    assert np.median(right.center_errors[:, 0]) / scatter == pytest.approx(1.0, abs=0.3)
    if n > 1:
        with pytest.warns(PoissonWeightsWarning, match="n_averages"):
            wrong = fit_batch(F, avg, sigma="poisson")
        assert np.mean(wrong.redchi) == pytest.approx(1.0 / n, rel=0.15)
    one = fit_spectrum(F, avg[0], n_lines=1, sigma="poisson", n_averages=n)
    assert one.redchi == pytest.approx(right.redchi[0], rel=0.02)


def test_poisson_weights_on_data_that_cannot_be_counts_warn():
    clean = 1 - 0.03 / (1 + 4 * ((F - 2.87e9) / WIDTH) ** 2)
    y = clean + np.random.default_rng(0).normal(size=F.size) * 1e-3
    with pytest.warns(PoissonWeightsWarning, match="normalised"):
        fit_batch(F, y, sigma="poisson")
    with pytest.warns(PoissonWeightsWarning, match="negative"):
        fit_spectrum(F, y - 2.0, n_lines=1, sigma="poisson")
    counts = np.random.default_rng(1).poisson(1e4 * clean).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PoissonWeightsWarning)
        fit_batch(F, counts, sigma="poisson")  # whole counts: no warning
        fit_batch(F, counts / 0.01, sigma="poisson", counts_per_unit=0.01)  # a rate, declared
        # photo-electrons (ADU × gain): counts that are not whole numbers, declared as counts
        electrons = counts * 1.0137
        fit_batch(F, electrons, sigma="poisson", counts_per_unit=1.0)
        fit_spectrum(F, electrons, n_lines=1, sigma="poisson", counts_per_unit=1.0)
    with pytest.warns(PoissonWeightsWarning, match="not whole numbers"):
        fit_batch(F, counts * 1.0137, sigma="poisson")  # undeclared: maybe an average


def test_bad_averaging_options():
    from nvsense.fitting import FitInputError

    with pytest.raises(FitInputError, match="n_averages"):
        fit_batch(F, _clean(), sigma="poisson", n_averages=0)
    with pytest.raises(FitInputError, match="counts_per_unit"):
        fit_batch(F, _clean(), sigma="poisson", counts_per_unit=-1.0)


def test_nv_axes_default():  # (a guard that the spectra above use the four NV axes)
    assert np.asarray(NV_AXES).shape == (4, 3)
