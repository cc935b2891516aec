"""field_from_transitions with a guess: the fit from the guess alone, and when it is trusted.

With ``guess`` the inversion first fits from the guess and skips the global search when that
fit explains the lines (see ``inversion._explains``).  These tests check that it then gives
exactly what the global search gives, that misleading guesses still end at a correct answer,
and that the covariance (from the analytic Jacobian) is the inverse Fisher matrix of an
independent numerical Jacobian.  Lines come from the reference diagonalisation.
"""

from __future__ import annotations

import numpy as np
import pytest
from nv_reference import AXES, D0, lines, signed_permutations

from nvsense.physics import field_from_transitions, inversion

SYMMETRY = np.array(signed_permutations())  # (48, 3, 3)


def _random_field(rng: np.random.Generator, low=0.5e-3, high=50e-3) -> np.ndarray:
    d = rng.normal(size=3)
    return d / np.linalg.norm(d) * rng.uniform(low, high)


@pytest.fixture
def searches(monkeypatch):
    """Counts the global searches (closed-form starts over all pairings / sign patterns / a
    grid), so that a test can tell whether the fit from the guess was taken alone."""
    count = {"n": 0}
    for name in ("_starts_pairings", "_starts_assigned", "_starts_grid"):
        original = getattr(inversion, name)

        def counted(*args, _original=original, **kwargs):
            count["n"] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(inversion, name, counted)
    return count


def _full_search(monkeypatch, *args, **kwargs):
    """The global search, as without the shortcut: the fit from the guess is never trusted."""
    with monkeypatch.context() as m:
        m.setattr(inversion, "_explains", lambda *a: False)
        return field_from_transitions(*args, **kwargs)


def _assert_same(fast, full):
    np.testing.assert_allclose(fast.field, full.field, rtol=0, atol=1e-12)
    assert fast.D == pytest.approx(full.D, abs=0.05)  # Hz; the statistical errors are kHz
    np.testing.assert_allclose(fast.residuals, full.residuals, rtol=0, atol=0.05)
    np.testing.assert_array_equal(fast.assignment, full.assignment)
    # the same set of images (their order follows the fit each search refined last)
    assert len(fast.equivalent_fields) == len(full.equivalent_fields)
    for image in full.equivalent_fields:
        assert np.min(np.linalg.norm(fast.equivalent_fields - image, axis=1)) < 1e-12
    assert (fast.success, fast.message, fast.alternatives) == (
        full.success, full.message, full.alternatives)
    if full.covariance is None:
        assert fast.covariance is None and fast.D_error is None and fast.chi2 is None
    else:
        np.testing.assert_allclose(fast.parameter_covariance, full.parameter_covariance,
                                   rtol=1e-6, atol=0)
        np.testing.assert_allclose(fast.field_errors, full.field_errors, rtol=1e-6)
        if full.D_error is not None:
            assert fast.D_error == pytest.approx(full.D_error, rel=1e-6)
        assert fast.chi2 == pytest.approx(full.chi2, rel=1e-6, abs=1e-9)


# -- the live case: a close guess is fitted alone, with the global search's result ----------------
@pytest.mark.parametrize("assigned", [False, True])
def test_close_guess_is_fitted_alone_and_matches_the_global_search(assigned, searches,
                                                                   monkeypatch):
    rng = np.random.default_rng(21 + assigned)
    for _ in range(12):
        truth = _random_field(rng)
        d = D0 + rng.normal() * 2e6
        sigma = rng.uniform(5e3, 60e3, size=8)
        f = lines(truth, D=d) + rng.normal(size=(4, 2)) * sigma.reshape(4, 2)
        if not assigned:
            order = np.argsort(f.ravel())
            f, sigma = f.ravel()[order], sigma[order]
        else:
            sigma = sigma.reshape(4, 2)
        # 2 % of |B| off in a random direction (more than the previous sweep's field would be)
        guess = truth + 0.02 * _random_field(rng, np.linalg.norm(truth), np.linalg.norm(truth))
        searches["n"] = 0
        fast = field_from_transitions(f, sigma=sigma, guess=guess)
        assert searches["n"] == 0, "the fit from a close guess should have been taken alone"
        full = _full_search(monkeypatch, f, sigma=sigma, guess=guess)
        assert searches["n"] > 0
        _assert_same(fast, full)
        # and it is right: the truth, within the reported errors
        assert np.all(np.abs(fast.field - truth) < 6 * fast.field_errors)
        assert abs(fast.D - d) < 6 * fast.D_error


def test_close_guess_with_exact_lines_and_without_sigma(searches):
    rng = np.random.default_rng(3)
    for _ in range(8):
        truth = _random_field(rng)
        f = np.sort(lines(truth, D=2.8712e9).ravel())
        est = field_from_transitions(f, guess=truth * 1.03)
        assert searches["n"] == 0
        np.testing.assert_allclose(est.field, truth, rtol=0, atol=1e-9)
        assert est.D == pytest.approx(2.8712e9, abs=0.5)
        assert est.covariance is None and len(est.equivalent_fields) == 48


def test_without_sigma_noisy_lines_take_the_global_search(searches):
    """Without uncertainties there is no scale that says the fit from the guess explains
    noisy lines, so the global search decides (as before the shortcut existed)."""
    rng = np.random.default_rng(4)
    truth = _random_field(rng, 2e-3, 20e-3)
    f = np.sort((lines(truth) + rng.normal(size=(4, 2)) * 20e3).ravel())
    est = field_from_transitions(f, guess=truth * 1.01)
    assert searches["n"] > 0
    assert np.linalg.norm(est.field - truth) < 5e-6


def test_fixed_d_with_a_close_guess(searches, monkeypatch):
    rng = np.random.default_rng(6)
    for _ in range(4):
        truth = _random_field(rng, 1e-3, 30e-3)
        f = np.sort((lines(truth, D=2.8705e9) + rng.normal(size=(4, 2)) * 20e3).ravel())
        kwargs = dict(D=2.8705e9, sigma=20e3, guess=truth * 1.02)
        searches["n"] = 0
        fast = field_from_transitions(f, **kwargs)
        assert searches["n"] == 0
        _assert_same(fast, _full_search(monkeypatch, f, **kwargs))
        assert not fast.D_fitted and fast.D_error is None


def test_strain_takes_the_global_search(searches):
    """With strain the symmetric images of a field are near-solutions (a shallow valley of
    them for a field near an NV axis) that the global search reports as alternatives, so a
    guess does not skip it; the answer is still the truth."""
    rng = np.random.default_rng(6)
    for _ in range(3):
        truth = _random_field(rng, 1e-3, 30e-3)
        f = np.sort((lines(truth, E=3e6) + rng.normal(size=(4, 2)) * 20e3).ravel())
        searches["n"] = 0
        est = field_from_transitions(f, E=3e6, sigma=20e3, guess=truth * 1.02)
        assert searches["n"] > 0
        assert np.all(np.abs(est.field - truth) < 6 * est.field_errors)


# -- misleading guesses ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["direction", "magnitude", "image", "zero", "huge"])
def test_misleading_guess_still_gives_a_correct_answer(kind, monkeypatch):
    """A guess far off (another direction, 3× or ⅓ the magnitude, zero, 1 T) or on a symmetric
    image of the field: the answer is the global search's, an image of the truth (within the
    noise), and the image nearest the guess."""
    rng = np.random.default_rng(["direction", "magnitude", "image", "zero", "huge"].index(kind))
    sigma = 20e3
    for _ in range(6):
        truth = _random_field(rng, 1e-3, 40e-3)
        if kind == "direction":
            guess = _random_field(rng, np.linalg.norm(truth), np.linalg.norm(truth))
        elif kind == "magnitude":
            guess = truth * rng.choice([1 / 3, 3.0])
        elif kind == "image":
            guess = SYMMETRY[rng.integers(1, 48)] @ truth
        elif kind == "zero":
            guess = np.zeros(3)
        else:
            guess = _random_field(rng, 1.0, 1.0)
        f = np.sort((lines(truth) + rng.normal(size=(4, 2)) * sigma).ravel())
        est = field_from_transitions(f, sigma=sigma, guess=guess)
        _assert_same(est, _full_search(monkeypatch, f, sigma=sigma, guess=guess))
        images = SYMMETRY @ truth
        if kind == "zero":  # all images are equally near: any one will do
            nearest = images[np.argmin(np.linalg.norm(images - est.field, axis=1))]
        else:
            nearest = images[np.argmin(np.linalg.norm(images - guess, axis=1))]
        assert np.all(np.abs(est.field - nearest) < 6 * est.field_errors)


def test_assigned_lines_with_a_symmetric_image_as_guess(monkeypatch):
    """For assigned lines only ±B give the same lines: an image of the field under the cubic
    group is a wrong guess, and the answer is still ±truth."""
    rng = np.random.default_rng(9)
    for _ in range(6):
        truth = _random_field(rng, 1e-3, 40e-3)
        f = lines(truth) + rng.normal(size=(4, 2)) * 20e3
        guess = SYMMETRY[rng.integers(2, 48)] @ truth
        est = field_from_transitions(f, sigma=20e3, guess=guess)
        _assert_same(est, _full_search(monkeypatch, f, sigma=20e3, guess=guess))
        error = min(np.linalg.norm(est.field - truth), np.linalg.norm(est.field + truth))
        assert error < 6 * np.linalg.norm(est.field_errors)


def _without_rival_checks(monkeypatch, *args, **kwargs):
    """The fit from the guess trusted on its χ² alone (no search for nearby better fits)."""
    with monkeypatch.context() as m:
        m.setattr(inversion, "_rival_images", lambda *a: False)
        return field_from_transitions(*args, **kwargs)


def test_guess_fit_in_a_near_image_minimum_is_not_trusted(monkeypatch):
    """A field 27 µT from the mirror plane y = 0, assigned lines with 300 kHz errors: a guess
    on the image (x, y, z) → (−z, −y, −x) fits into a minimum there with an acceptable χ²
    (≈ 21.5 for 4 degrees of freedom), but the image of that fit refines to a much better
    one (χ² ≈ 1.9).  The shortcut must notice, and the global search's answer is reported."""
    truth = np.array([7.7458e-3, -0.0265e-3, 2.5508e-3])
    rng = np.random.default_rng(0)
    f = lines(truth, D=2.8716e9) + rng.normal(size=(4, 2)) * 300e3
    guess = np.array([-2.551e-3, 0.026e-3, -7.746e-3])
    trapped = _without_rival_checks(monkeypatch, f, sigma=300e3, guess=guess)
    assert 15 < trapped.chi2 < 33  # the trap is real
    est = field_from_transitions(f, sigma=300e3, guess=guess)
    _assert_same(est, _full_search(monkeypatch, f, sigma=300e3, guess=guess))
    assert est.chi2 < 3


@pytest.mark.parametrize("seed", [18, 351])
def test_guess_fit_in_a_worse_nearby_minimum_is_not_trusted(seed, monkeypatch):
    """Unassigned lines of a 1–3 mT field with 1 MHz errors, the guess an image of the field:
    lines a few σ apart, or an axis nearly normal to the field (the sign of its projection
    barely determined), leave nearby minima.  The fit from the guess lands in the worse one
    here (Δχ² > 1), and the global search's answer must win."""
    rng = np.random.default_rng(seed)
    truth = _random_field(rng, 1e-3, 3e-3)
    f = np.sort((lines(truth) + rng.normal(size=(4, 2)) * 1e6).ravel())
    guess = SYMMETRY[rng.integers(1, 48)] @ truth
    full = _full_search(monkeypatch, f, sigma=1e6, guess=guess)
    trapped = _without_rival_checks(monkeypatch, f, sigma=1e6, guess=guess)
    assert trapped.chi2 > full.chi2 + 1  # the trap is real
    _assert_same(field_from_transitions(f, sigma=1e6, guess=guess), full)


# -- the analytic Jacobian, through the covariance -----------------------------------------------
@pytest.mark.parametrize(("E", "fix_d"), [(0.0, False), (4e6, False), (0.0, True)])
def test_covariance_is_the_inverse_fisher_matrix_of_the_reference(E, fix_d):
    """For one line per transition the covariance is (JᵀJ/σ²)⁻¹; J here is the central
    difference of the reference diagonalisation over (Bx, By, Bz, D) in T and Hz."""
    rng = np.random.default_rng(int(E) + fix_d)
    sigma = 10e3
    for _ in range(5):
        truth = _random_field(rng, 1e-3, 40e-3)
        d = 2.8705e9
        steps = [1e-7, 1e-7, 1e-7, 1e2][: 3 if fix_d else 4]
        columns = []
        for k, h in enumerate(steps):
            delta = np.zeros(4)
            delta[k] = h
            plus = lines(truth + delta[:3], D=d + delta[3], E=E).ravel()
            minus = lines(truth - delta[:3], D=d - delta[3], E=E).ravel()
            columns.append((plus - minus) / (2 * h))
        jac = np.stack(columns, axis=-1)
        expected = np.linalg.inv(jac.T @ jac / sigma**2)
        est = field_from_transitions(lines(truth, D=d, E=E), sigma=sigma, E=E,
                                     D=d if fix_d else None, guess=truth)
        np.testing.assert_allclose(est.parameter_covariance, expected, rtol=2e-5,
                                   atol=1e-12 * np.sqrt(np.outer(np.diag(expected),
                                                                 np.diag(expected))).max())


def test_three_axes_take_the_global_search(monkeypatch, searches):
    """Six lines of three axes (D fitted) leave only two degrees of freedom, and other fields
    with another D often fit as well (``alternatives``): only the global search finds them,
    so a guess does not skip it."""
    rng = np.random.default_rng(12)
    axes = AXES[:3]
    with_alternatives = 0
    for _ in range(4):
        truth = _random_field(rng, 2e-3, 30e-3)
        f = np.sort((lines(truth, axes=axes) + rng.normal(size=(3, 2)) * 20e3).ravel())
        searches["n"] = 0
        est = field_from_transitions(f, axes=axes, sigma=20e3, guess=truth * 1.02)
        assert searches["n"] > 0
        assert np.all(np.abs(est.field - truth) < 6 * est.field_errors)
        with_alternatives += bool(est.alternatives)
    assert with_alternatives >= 2


def test_a_fit_the_uncertainties_do_not_allow_is_not_trusted(searches, monkeypatch):
    """Lines 70 kHz off in a pattern no field follows, σ = 20 kHz: every residual stays
    within 5σ (so the lines are accepted), but χ² ≈ 96 for 4 degrees of freedom is no fit
    the uncertainties allow, and such a fit from the guess is no proof that it is the best:
    the global search decides."""
    truth = np.array([3e-3, -7e-3, 12e-3])
    f = np.sort(lines(truth).ravel()) + 70e3 * np.array([1, -1, -1, 1, 1, -1, -1, 1])
    est = field_from_transitions(f, sigma=20e3, guess=truth)
    assert searches["n"] > 0
    assert est.chi2 > 60 and np.max(np.abs(est.residuals)) < 5 * 20e3
    _assert_same(est, _full_search(monkeypatch, f, sigma=20e3, guess=truth))
