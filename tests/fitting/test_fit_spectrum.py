"""fit_spectrum (lmfit): known truth, line counting, multiplets, hard cases, the report."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from nvsense.fitting import FitInputError, FitStatus, NoDipFoundError, fit_batch, fit_spectrum

F = np.linspace(2.82e9, 2.92e9, 151)


def lor(f, c, w):
    return 1.0 / (1.0 + 4.0 * ((f - c) / w) ** 2)


def dips(f, centers, width=7e6, contrast=0.03, base=1e5):
    return base * (1 - sum(contrast * lor(f, c, width) for c in centers))


@pytest.mark.parametrize("centers", [[2.87e9], [2.85e9, 2.885e9], [2.84e9, 2.87e9, 2.9e9]])
def test_counts_the_dips_and_recovers_them(centers):
    rng = np.random.default_rng(len(centers))
    y = rng.poisson(dips(F, centers)).astype(float)
    r = fit_spectrum(F, y, sigma="poisson")
    assert r.success, r.message
    assert r.n_lines == len(centers)
    assert np.all(np.abs(r.centers - centers) < 4 * r.center_errors)
    assert r.best_fit.shape == F.shape
    assert r.redchi == pytest.approx(1.0, abs=0.3)


def test_agrees_with_curve_fit_and_batch():
    rng = np.random.default_rng(21)
    y = rng.poisson(dips(F, [2.862e9, 2.881e9], 6e6)).astype(float)

    def model(f, b, c1, w1, a1, c2, w2, a2):
        return b * (1 - a1 * lor(f, c1, w1) - a2 * lor(f, c2, w2))

    popt, pcov = curve_fit(model, F, y, p0=[1e5, 2.86e9, 5e6, 0.02, 2.88e9, 5e6, 0.02],
                           sigma=np.sqrt(y))
    r = fit_spectrum(F, y, n_lines=2, sigma="poisson")
    b = fit_batch(F, y, n_lines=2, sigma="poisson")
    assert r.centers == pytest.approx(popt[[1, 4]], abs=0.05 * r.center_errors.max())
    assert r.center_errors == pytest.approx(np.sqrt(np.diag(pcov))[[1, 4]], rel=0.02)
    assert b.centers[0] == pytest.approx(r.centers, abs=0.05 * r.center_errors.max())
    assert b.center_errors[0] == pytest.approx(r.center_errors, rel=0.02)


def test_descending_sweep_and_report():
    rng = np.random.default_rng(5)
    y = rng.poisson(dips(F, [2.87e9])).astype(float)
    r = fit_spectrum(F[::-1], y[::-1], n_lines=1, sigma="poisson")
    assert r.centers[0] == pytest.approx(2.87e9, abs=4 * r.center_errors[0])
    assert r.best_fit[0] == pytest.approx(y[-1], rel=0.02)  # in the caller's point order
    text = r.report()
    assert "center0" in text and "status: OK" in text and "line 0" in text


def test_multiplet_detection_14n_and_15n():
    rng = np.random.default_rng(15)
    f = np.linspace(2.862e9, 2.878e9, 161)
    a = 2.16e6
    y = rng.poisson(1e5 * (1 - sum(0.02 * lor(f, 2.87e9 + o, 0.9e6) for o in (-a, 0, a))))
    r = fit_spectrum(f, y.astype(float), "14N", sigma="poisson")
    assert r.success and r.n_lines == 1
    assert r.centers[0] == pytest.approx(2.87e9, abs=4 * r.center_errors[0])
    y = rng.poisson(1e5 * (1 - sum(0.02 * lor(f, 2.8705e9 + o, 1.5e6) for o in (-1.515e6,
                                                                               1.515e6))))
    r = fit_spectrum(f, y.astype(float), "15n", sigma="poisson")
    assert r.success and r.n_lines == 1
    assert r.centers[0] == pytest.approx(2.8705e9, abs=4 * r.center_errors[0])


def test_flat_and_nan_input_give_clear_errors():
    with pytest.raises(NoDipFoundError, match="no dip"):
        fit_spectrum(F, np.full(F.size, 1e5))
    y = dips(F, [2.87e9])
    y[7] = np.nan
    with pytest.raises(FitInputError, match="NaN"):
        fit_spectrum(F, y)
    with pytest.raises(FitInputError, match="one value per frequency"):
        fit_spectrum(F, y[:-1])


def test_forced_fit_of_pure_noise_is_flagged():
    rng = np.random.default_rng(0)
    r = fit_spectrum(F, rng.poisson(1e5, F.size).astype(float), n_lines=1, sigma="poisson")
    assert not r.success
    assert r.status in (FitStatus.NOT_SIGNIFICANT, FitStatus.SINGULAR, FitStatus.AT_BOUND)
