"""fit_batch on known-truth synthetic spectra, against truth, scipy and the Cramér–Rao bound.

Spectra are built here from the textbook formulas (not from nvsense's model code).
"""

import warnings

import h5py
import numpy as np
import pytest
from scipy.optimize import curve_fit

from nvsense.fitting import FitInputError, FitStatus, fit_batch

F = np.linspace(2.82e9, 2.92e9, 101)
A14 = 2.16e6


def lor(f, c, w):
    return 1.0 / (1.0 + 4.0 * ((f - c) / w) ** 2)


def gau(f, c, w):
    return np.exp(-4.0 * np.log(2.0) * ((f - c) / w) ** 2)


def one_dip(f, base, c, w, a):
    return base * (1.0 - a * lor(f, c, w))


def single_dips(n, seed=0, counts=1e5):
    rng = np.random.default_rng(seed)
    c = rng.uniform(2.85e9, 2.89e9, n)
    w = rng.uniform(6e6, 10e6, n)
    a = rng.uniform(0.02, 0.04, n)
    clean = one_dip(F[None, :], counts, c[:, None], w[:, None], a[:, None])
    return rng.poisson(clean).astype(float), c, w, a


def crb_center(base, c, w, a, f=F):
    """Cramér–Rao bound of the center for Poisson noise (Fisher information of 4 params)."""
    u = (f - c) / w
    L = 1.0 / (1.0 + 4.0 * u * u)
    dL = -8.0 * u * L * L
    m = base * (1 - a * L)
    J = np.stack([1 - a * L, base * a * dL / w, base * a * dL * u / w, -base * L])
    fisher = (J / m) @ J.T
    return float(np.sqrt(np.linalg.inv(fisher)[1, 1]))


@pytest.fixture(scope="module")
def single():
    Y, c, w, a = single_dips(600, seed=11)
    return Y, c, w, a, fit_batch(F, Y, sigma="poisson")


def test_single_dip_recovers_truth_within_errors(single):
    _Y, c, w, a, r = single
    assert r.success.mean() >= 0.995
    ok = r.success
    pull = (r.centers[ok, 0] - c[ok]) / r.center_errors[ok, 0]
    assert abs(pull.mean()) < 0.15
    assert 0.85 < pull.std() < 1.15
    assert np.std((r.widths[ok, 0] - w[ok]) / r.width_errors[ok, 0]) < 1.2
    assert np.std((r.contrasts[ok, 0] - a[ok]) / r.contrast_errors[ok, 0]) < 1.2
    assert r.baseline == pytest.approx(1e5, rel=0.01)
    assert np.all(r.n_iter[ok] < 30)
    assert r.redchi[ok].mean() == pytest.approx(1.0, abs=0.05)


def test_single_dip_errors_near_cramer_rao_bound(single):
    _Y, c, w, a, r = single
    ok = r.success
    bound = np.array([crb_center(1e5, ci, wi, ai) for ci, wi, ai in zip(c, w, a)])
    ratio = np.sqrt(np.mean(((r.centers[ok, 0] - c[ok]) / bound[ok]) ** 2))
    assert 0.85 < ratio < 1.2
    assert np.median(r.center_errors[ok, 0] / bound[ok]) == pytest.approx(1.0, abs=0.1)


def test_single_dip_agrees_with_curve_fit(single):
    Y, _c, _w, _a, r = single
    for i in range(40):
        p0 = [Y[i].max(), r.centers[i, 0] + 1e6, 8e6, 0.03]
        popt, pcov = curve_fit(one_dip, F, Y[i], p0=p0, sigma=np.sqrt(Y[i]))
        assert r.centers[i, 0] == pytest.approx(popt[1], abs=0.05 * r.center_errors[i, 0])
        assert r.widths[i, 0] == pytest.approx(popt[2], abs=0.05 * r.width_errors[i, 0])
        assert r.center_errors[i, 0] == pytest.approx(np.sqrt(pcov[1, 1]), rel=0.02)


def test_two_gaussians_with_linear_baseline_agree_with_curve_fit():
    rng = np.random.default_rng(5)

    def model(f, b0, b1, c1, w1, a1, c2, w2, a2):
        base = b0 + b1 * (f - 2.87e9)
        return base * (1 - a1 * gau(f, c1, w1) - a2 * gau(f, c2, w2))

    truth = [1e4, 2e-5, 2.85e9, 7e6, 0.05, 2.885e9, 9e6, 0.04]
    Y = rng.normal(model(F, *truth), 20.0, size=(30, F.size))
    r = fit_batch(F, Y, "gaussian", 2, baseline="linear", sigma=20.0)
    assert r.success.all()
    for i in range(10):
        popt, _ = curve_fit(model, F, Y[i], p0=[1e4, 0, 2.852e9, 6e6, 0.04, 2.883e9, 8e6, 0.03])
        assert r.centers[i] == pytest.approx(popt[[2, 5]], abs=0.05 * r.center_errors[i].max())
        assert r.baseline_slope[i] == pytest.approx(popt[1], rel=1e-3, abs=1e-9)
    pull = (r.centers - np.array(truth)[[2, 5]]) / r.center_errors
    assert np.all(np.abs(pull) < 5)


def test_eight_lines_recover_truth():
    rng = np.random.default_rng(8)
    f = np.linspace(2.68e9, 3.07e9, 201)
    lines = np.array([2713.5, 2750.8, 2821.8, 2855.4, 2921.1, 2951.5, 3009.5, 3037.0]) * 1e6
    clean = 1e6 * (1 - sum(0.015 * lor(f, c, 8e6) for c in lines))
    Y = rng.poisson(np.broadcast_to(clean, (40, f.size))).astype(float)
    r = fit_batch(f, Y, "lorentzian", 8, sigma="poisson")
    assert r.success.mean() >= 0.95
    pull = (r.centers[r.success] - lines) / r.center_errors[r.success]
    assert 0.7 < pull.std() < 1.3
    assert np.all(np.abs(r.widths[r.success] - 8e6) < 5 * r.width_errors[r.success])


@pytest.mark.parametrize("model, offsets, width", [("14n", (-A14, 0, A14), 0.8e6),
                                                   ("14n", (-A14, 0, A14), 3e6),
                                                   ("15n", (-1.515e6, 1.515e6), 1e6)])
def test_multiplets_agree_with_curve_fit(model, offsets, width):
    rng = np.random.default_rng(14)
    f = np.linspace(2.862e9, 2.878e9, 161)

    def multiplet(f, base, c, w, a):
        return base * (1 - a * sum(lor(f, c + o, w) for o in offsets))

    Y = rng.poisson(multiplet(f, 2e5, 2.8702e9, width, 0.02), size=(20, f.size)).astype(float)
    r = fit_batch(f, Y, model, 1, sigma="poisson")
    assert r.success.all()
    assert r.centers.shape == (20, 1)
    for i in range(5):
        popt, pcov = curve_fit(multiplet, f, Y[i], p0=[2e5, 2.8701e9, width * 1.2, 0.015],
                               sigma=np.sqrt(Y[i]))
        assert r.centers[i, 0] == pytest.approx(popt[1], abs=0.05 * r.center_errors[i, 0])
        assert r.center_errors[i, 0] == pytest.approx(np.sqrt(pcov[1, 1]), rel=0.03)
    assert np.abs((r.centers[:, 0] - 2.8702e9) / r.center_errors[:, 0]).max() < 4.5


def test_seeds_shared_and_per_spectrum_and_center_window():
    Y, c, _w, _a = single_dips(50, seed=3)
    first = fit_batch(F, Y, sigma="poisson")
    # per-spectrum seeds from a previous result converge at once to the same answer
    again = fit_batch(F, Y, sigma="poisson", guess=first)
    assert np.allclose(again.centers, first.centers, atol=1e3)
    assert again.n_iter.mean() < first.n_iter.mean()
    # one shared seed for all spectra with a ±25 MHz window (widefield practice)
    shared = fit_batch(F, Y, sigma="poisson", guess={"centers": [2.87e9], "widths": 8e6},
                       bounds={"center_window": 25e6, "width": (3e6, 40e6)})
    assert shared.success.all()
    assert np.allclose(shared.centers, first.centers, atol=0.05 * first.center_errors.max())
    # a window that excludes the true line: flagged AT_BOUND, not silently wrong
    narrow = fit_batch(F, Y[:5], sigma="poisson", guess={"centers": c[:5] + 8e6},
                       bounds={"center_window": 2e6})
    assert np.all(narrow.status == FitStatus.AT_BOUND)


def test_live_tracking_with_previous_line_fit():
    rng = np.random.default_rng(4)
    prev = None
    for k in range(5):  # the line drifts by 0.5 MHz per sweep
        y = rng.poisson(one_dip(F, 1e5, 2.86e9 + k * 0.5e6, 7e6, 0.03)).astype(float)
        r = fit_batch(F, y, guess=prev, sigma="poisson")
        fit = r[0]
        assert fit.success
        assert fit.centers[0] == pytest.approx(2.86e9 + k * 0.5e6, abs=5 * fit.center_errors[0])
        prev = fit


def test_bad_rows_are_flagged_not_raised():
    Y, _c, _w, _a = single_dips(8, seed=9)
    Y[0, 10] = np.nan
    Y[1] = 1e5  # flat
    Y[2] = np.random.default_rng(0).poisson(1e5, F.size)  # zero contrast, pure noise
    Y[3] = one_dip(F, 1e5, 2.95e9, 5e6, 0.05)  # the line is outside the sweep
    Y[4, :] = np.inf
    r = fit_batch(F, Y, sigma="poisson")
    assert r.status[0] == FitStatus.BAD_INPUT and np.isnan(r.centers[0, 0])
    assert r.status[4] == FitStatus.BAD_INPUT
    for i in (1, 2, 3):
        assert not r.success[i], FitStatus(r.status[i])
    assert r.success[5:].all()
    assert r.status_counts()["BAD_INPUT"] == 2


def test_overlapping_lines_and_edge_lines_do_not_crash():
    rng = np.random.default_rng(2)
    y1 = one_dip(F, 1e5, 2.869e9, 8e6, 0.03) * (1 - 0.03 * lor(F, 2.871e9, 8e6))
    y2 = one_dip(F, 1e5, 2.822e9, 6e6, 0.03)  # center 2 MHz from the first point
    Y = rng.poisson(np.stack([y1, y2])).astype(float)
    r = fit_batch(F, Y, n_lines=2, sigma="poisson")
    assert r.centers.shape == (2, 2) and np.all(r.status >= 0)
    edge = fit_batch(F, Y[1], sigma="poisson")
    assert edge.success[0]
    assert edge.centers[0, 0] == pytest.approx(2.822e9, abs=5 * edge.center_errors[0, 0])


def test_descending_sweep_and_chunking_give_the_same_result():
    Y, *_ = single_dips(30, seed=6)
    ref = fit_batch(F, Y, sigma="poisson")
    rev = fit_batch(F[::-1], Y[:, ::-1], sigma="poisson")
    chunked = fit_batch(F, Y, sigma="poisson", chunk_size=7, n_threads=1)
    assert np.allclose(rev.centers, ref.centers, rtol=0, atol=1.0)
    assert np.allclose(chunked.centers, ref.centers, rtol=0, atol=1e-3)
    assert np.array_equal(chunked.status, ref.status)


def test_streams_rows_from_an_h5py_dataset(tmp_path):
    Y, c, *_ = single_dips(40, seed=7)
    path = tmp_path / "cube.h5"
    with h5py.File(path, "w") as h5:
        h5["spectra"] = Y.astype(np.float32)
    with h5py.File(path, "r") as h5:
        r = fit_batch(F, h5["spectra"], sigma="poisson", chunk_size=16)
    assert r.success.all()
    assert np.all(np.abs(r.centers[:, 0] - c) < 5 * r.center_errors[:, 0])


def test_unweighted_errors_match_curve_fit_scaled_covariance():
    rng = np.random.default_rng(12)
    y = one_dip(F, 1.0, 2.87e9, 8e6, 0.02) + rng.normal(0, 1e-3, F.size)
    r = fit_batch(F, y)
    popt, pcov = curve_fit(one_dip, F, y, p0=[1, 2.871e9, 7e6, 0.015])
    assert r.centers[0, 0] == pytest.approx(popt[1], abs=1e3)
    assert r.center_errors[0, 0] == pytest.approx(np.sqrt(pcov[1, 1]), rel=0.02)


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "voigt"}, "unknown model"),
    ({"n_lines": 0}, "n_lines"),
    ({"bounds": {"centre": (1, 2)}}, "unknown bounds key"),
    ({"guess": {"centers": [1, 2, 3]}}, "guess"),
    ({"sigma": -1.0}, "sigma"),
    ({"sigma": "gaussian"}, "sigma"),
    ({"baseline": "cubic"}, "baseline"),  # quadratic is a baseline since issue 13
    ({"max_iter": 0}, "max_iter"),
])
def test_bad_options_raise_one_clear_error(kwargs, match):
    Y, *_ = single_dips(2)
    with pytest.raises(FitInputError, match=match):
        fit_batch(F, Y, **kwargs)


def test_bad_shapes_raise_clear_errors():
    Y, *_ = single_dips(2)
    with pytest.raises(FitInputError, match="shape"):
        fit_batch(F, Y[:, :50])
    with pytest.raises(FitInputError, match="increasing or decreasing"):
        fit_batch(np.r_[F[:50], F[:51]], Y)
    with pytest.raises(FitInputError, match="points"):
        fit_batch(F[:5], Y[:, :5], n_lines=2)


def test_no_warnings_on_nan_input():
    Y, *_ = single_dips(3)
    Y[:] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = fit_batch(F, Y, sigma="poisson")
    assert np.all(r.status == FitStatus.BAD_INPUT)
