"""The tail probabilities and the linear assignment that spare an ODMR run SciPy's imports
(``nvsense.physics.tails``, ``nvsense.physics.assignment``), checked against SciPy itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment as scipy_assignment
from scipy.special import chdtrc, chdtri, ndtri

from nvsense.physics.assignment import linear_sum_assignment
from nvsense.physics.tails import chi2_isf, chi2_sf, normal_isf


@pytest.mark.parametrize("p", [*np.logspace(-300, -1, 60), *np.linspace(0.02, 0.98, 25),
                               *(1 - np.logspace(-15, -2, 10))])
def test_normal_isf_is_scipys(p):
    assert normal_isf(p) == pytest.approx(-ndtri(p), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 7, 10, 50, 280, 1000, 5000])
def test_chi2_tail_and_quantile_are_scipys(dof):
    for p in [*np.logspace(-200, -1, 40), *np.linspace(0.05, 0.95, 10)]:
        assert chi2_isf(p, dof) == pytest.approx(chdtri(dof, p), rel=1e-11)
    for x in np.logspace(-3, 4, 60):
        ref = chdtrc(dof, x)
        if ref > 1e-290:
            assert chi2_sf(x, dof) == pytest.approx(ref, rel=1e-11)


def test_tails_at_the_ends_and_outside():
    assert normal_isf(0.0) == math.inf and normal_isf(1.0) == -math.inf
    assert normal_isf(0.5) == 0.0
    assert math.isnan(normal_isf(1.5)) and math.isnan(normal_isf(-0.1))
    assert chi2_isf(0.0, 3) == math.inf and chi2_isf(1.0, 3) == 0.0
    assert math.isnan(chi2_isf(0.5, 0)) and math.isnan(chi2_sf(1.0, -1))
    assert chi2_sf(0.0, 3) == 1.0 and chi2_sf(math.inf, 3) == 0.0
    # closed forms: χ² with 2 degrees of freedom is exponential, P(χ² > x) = exp(-x/2)
    assert chi2_sf(7.0, 2) == pytest.approx(math.exp(-3.5), rel=1e-14)
    assert chi2_isf(1e-6, 2) == pytest.approx(-2 * math.log(1e-6), rel=1e-13)


def test_linear_assignment_is_scipys_also_with_ties_and_forbidden_pairs():
    rng = np.random.default_rng(11)
    for trial in range(3000):
        nr, nc = (int(v) for v in rng.integers(0, 9, size=2))
        if trial % 3 == 0:
            cost = rng.normal(size=(nr, nc))
        elif trial % 3 == 1:  # many ties: the same choice among equal costs
            cost = rng.integers(0, 3, size=(nr, nc)).astype(float)
        else:
            cost = rng.integers(0, 5, size=(nr, nc)).astype(float)
            cost[rng.random((nr, nc)) < 0.2] = np.inf
        try:
            expected = scipy_assignment(cost)
        except ValueError:
            with pytest.raises(ValueError):
                linear_sum_assignment(cost)
            continue
        rows, cols = linear_sum_assignment(cost)
        np.testing.assert_array_equal(rows, expected[0])
        np.testing.assert_array_equal(cols, expected[1])


def test_linear_assignment_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        linear_sum_assignment(np.array([[1.0, np.nan], [0.0, 1.0]]))
