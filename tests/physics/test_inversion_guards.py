"""field_from_transitions on the inputs real data brings: wrong units, strain at zero field,
real (underestimated) line uncertainties, and lines outside the sweep (issue 13, item 5).
Lines come from the independent diagonalisation in nv_reference."""

from __future__ import annotations

import numpy as np
import pytest
from nv_reference import D0, lines

from nvsense.physics import field_from_transitions

B_TRUE = np.array([1e-3, 2e-3, 3e-3])


@pytest.mark.parametrize(("scale", "unit"), [(1e-6, "MHz"), (1e-9, "GHz")])
def test_lines_in_the_wrong_unit_are_refused_with_the_unit(scale, unit):
    f = np.sort(lines(B_TRUE).ravel()) * scale
    with pytest.raises(ValueError, match=f"look like {unit}"):
        field_from_transitions(f)
    with pytest.raises(ValueError, match=f"look like {unit}"):
        field_from_transitions(lines(B_TRUE) * scale)


def test_lines_above_any_nv_transition_are_refused():
    with pytest.raises(ValueError, match="above any NV"):
        field_from_transitions([2.87e12, 2.88e12, 2.89e12, 2.9e12])


def test_a_strain_split_pair_is_not_reported_as_a_field():
    """B = 0, E = 5 MHz gives 2865 and 2875 MHz on every axis (REFERENCES.md): a field along
    [100] gives the same two lines, so without E the field is not determined."""
    f = np.unique(np.round(lines(np.zeros(3), E=5e6).ravel(), 3))
    np.testing.assert_allclose(f, [2865e6, 2875e6], atol=1)
    est = field_from_transitions(f)
    assert not est.success
    assert est.strain_E == pytest.approx(5e6, abs=1)
    assert "strain E = 5 MHz" in est.message and "pass E" in est.message
    # with E given (measured at zero field) the lines mean B = 0
    known = field_from_transitions(f, E=5e6, D=D0)
    assert known.strain_E is None
    assert np.linalg.norm(known.field) < 1e-6
    # and a large field's two merged lines (B along [100], 4 mT) are no strain
    merged = np.unique(np.round(lines(np.array([0, 0, 4e-3])).ravel(), 1))
    assert field_from_transitions(merged, sigma=10e3).strain_E is None


def test_underestimated_uncertainties_give_a_goodness_of_fit_not_a_failure():
    """Lines with 60 kHz scatter but stated uncertainties of 20 kHz (what line fits to real
    spectra give): the field comes back with its χ², a small p-value and errors scaled to the
    real scatter, which then cover the truth."""
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(20):
        f = np.sort((lines(B_TRUE) + rng.normal(size=(4, 2)) * 60e3).ravel())
        est = field_from_transitions(f, sigma=20e3, guess=B_TRUE)
        assert est.success
        assert est.chi2_reduced is not None and est.p_value is not None
        if est.errors_scaled:
            assert est.p_value < 1e-3 and "scaled" in est.message
        covered += np.all(np.abs(est.field - B_TRUE) < 4 * est.field_errors)
    assert covered >= 18


def test_a_wrong_line_is_still_refused():
    f = lines(B_TRUE)
    f[2, 0] += 2e6
    with pytest.raises(ValueError, match="no field reproduces"):
        field_from_transitions(f, sigma=20e3)
    # unless the user widens the limit: then it is a (bad) goodness of fit
    est = field_from_transitions(f, sigma=20e3, max_residual=5e6)
    assert est.errors_scaled and est.chi2_reduced > 100


def test_assigned_lines_with_some_not_measured():
    """At 40 mT the lower lines of two axes lie below a 2.0–4.0 GHz sweep: give them as NaN."""
    truth = np.array([20e-3, 25e-3, 22e-3])
    f = lines(truth)
    missing = f.copy()
    missing[0, 0] = missing[1, 0] = np.nan
    est = field_from_transitions(missing, sigma=20e3)
    assert est.success
    assert min(np.linalg.norm(est.field - truth), np.linalg.norm(est.field + truth)) < 1e-6
    assert np.isnan(est.residuals[0, 0]) and np.isfinite(est.residuals[0, 1])
    assert np.all(est.assignment[:2, 0] == -1)
    three = np.full((4, 2), np.nan)
    three[:3, 1] = f[:3, 1]
    with pytest.raises(ValueError, match="cannot determine the field and D"):
        field_from_transitions(three)


def test_unassigned_lines_inside_a_window():
    truth = np.array([15e-3, 30e-3, 5e-3])
    f = np.sort(lines(truth).ravel())
    window = (2.4e9, 3.6e9)
    seen = f[(f > window[0]) & (f < window[1])]
    assert 2 < seen.size < 8
    with pytest.raises(ValueError, match="window"):  # the hint names the option
        field_from_transitions(seen, D=D0)
    est = field_from_transitions(seen, D=D0, window=window, guess=truth * 1.05)
    model = np.sort(est.model_lines.ravel())
    np.testing.assert_allclose(np.sort(model[(model > window[0]) & (model < window[1])]), seen,
                               atol=1e3)
    images = np.array([p @ truth for p in _signed_permutations()])
    assert np.min(np.linalg.norm(images - est.field, axis=1)) < 1e-6


def _signed_permutations():
    from nv_reference import signed_permutations

    return signed_permutations()
