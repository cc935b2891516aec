"""Hamiltonian model: field vector from lines, and full-spectrum fits recovering a known field."""

import numpy as np
import pytest

from nvsense.fitting import (
    FitInputError,
    canonical_field,
    field_from_lines,
    fit_batch,
    fit_spectrum,
    symmetric_equivalents,
)
from nvsense.physics import transition_frequencies

F8 = np.linspace(2.70e9, 3.05e9, 201)
B_TRUE = np.array([1e-3, 3e-3, 6e-3])
CONTRASTS = np.array([0.015, 0.012, 0.018, 0.014])


def spectrum(B, rng, width=8e6, contrasts=CONTRASTS, base=1e5, D=2.87e9):
    """Eight Lorentzian dips at the exact (diagonalised) lines of each axis, Poisson noise."""
    t = transition_frequencies(B, D)
    clean = np.ones_like(F8)
    for axis in range(4):
        for line in t[axis]:
            clean -= contrasts[axis] / (1 + 4 * ((F8 - line) / width) ** 2)
    return rng.poisson(base * clean).astype(float)


def test_symmetric_equivalents_give_the_same_lines():
    lines = np.sort(transition_frequencies(B_TRUE).ravel())
    eq = symmetric_equivalents(B_TRUE)
    assert eq.shape == (48, 3)
    for B in eq:
        assert np.allclose(np.sort(transition_frequencies(B).ravel()), lines, atol=1.0)


@pytest.mark.parametrize("B", [[1e-3, 2e-3, 3e-3], [0, 0, 2e-3], [1e-3, 1e-3, 1e-3],
                               [2e-3, 2e-3, 0], [5e-3, -2e-3, 7e-3], [3e-4, 1e-4, 2e-4]])
def test_field_from_lines_inverts_exact_lines(B):
    B = np.asarray(B, dtype=float)
    lines = np.unique(np.round(transition_frequencies(B).ravel(), -2))  # coincident merged
    found, rms = field_from_lines(lines)
    # 1 µT: fields along symmetric directions leave a direction to which the (merged) lines
    # are only quadratically sensitive.
    assert np.allclose(found, canonical_field(B), atol=1e-6)
    assert rms < 1e3
    predicted = np.sort(transition_frequencies(found).ravel())
    assert np.abs(predicted[:, None] - lines[None, :]).min(axis=0).max() < 2e3
    near = field_from_lines(lines, field_guess=B + 1e-4)[0]
    assert np.allclose(near, B, atol=1e-6)


def test_field_from_lines_rejects_too_many_lines():
    with pytest.raises(FitInputError, match="at most 8"):
        field_from_lines(np.linspace(2.8e9, 2.9e9, 9))


def test_fit_spectrum_recovers_field_vector():
    rng = np.random.default_rng(31)
    y = spectrum(B_TRUE, rng)
    r = fit_spectrum(F8, y, "hamiltonian", sigma="poisson", field_guess=B_TRUE * 1.1)
    assert r.success, r.message
    assert np.all(np.abs(r.field - B_TRUE) < 4 * r.field_errors)
    assert np.all(r.field_errors < 5e-5)
    assert r.D == pytest.approx(2.87e9, abs=4 * r.D_error)
    assert r.centers.size == 8
    lines = np.sort(transition_frequencies(B_TRUE).ravel())
    assert np.all(np.abs(r.centers - lines) < 4 * r.center_errors)
    assert r.axis_contrasts == pytest.approx(CONTRASTS, abs=0.003)
    # without a field guess: the canonical symmetric equivalent
    r2 = fit_spectrum(F8, y, "hamiltonian", sigma="poisson")
    assert np.allclose(r2.field, canonical_field(r.field), atol=1e-6)


def test_fit_batch_hamiltonian_matches_fit_spectrum_and_truth():
    rng = np.random.default_rng(32)
    Y = np.stack([spectrum(B_TRUE, rng) for _ in range(12)])
    rb = fit_batch(F8, Y, "hamiltonian", sigma="poisson", guess={"field": B_TRUE * 1.05})
    assert rb.success.all()
    pull = (rb.field - B_TRUE) / rb.field_errors
    assert np.abs(pull).max() < 4.5
    assert rb.centers.shape == (12, 8) and rb.transitions.shape == (12, 4, 2)
    rs = fit_spectrum(F8, Y[0], "hamiltonian", sigma="poisson", guess={"field": B_TRUE})
    assert rb.field[0] == pytest.approx(rs.field, abs=0.05 * rs.field_errors.max())
    assert rb.field_errors[0] == pytest.approx(rs.field_errors, rel=0.05)
    assert rb.center_errors[0] == pytest.approx(rs.center_errors, rel=0.1)
    # data-only start (no seed) finds the same fit up to the symmetry
    r0 = fit_batch(F8, Y[:2], "hamiltonian", sigma="poisson")
    assert r0.success.all()
    assert np.allclose(np.sort(np.abs(r0.field), axis=1), np.sort(np.abs(rb.field[:2]),
                                                                  axis=1), atol=1e-6)


def test_hamiltonian_resolves_overlapping_lines():
    # B = (1, 2, 3) mT puts two lines 3.8 MHz apart under 8 MHz widths: the independent
    # 8-line fit cannot separate them; the Hamiltonian model (10 parameters) can.
    rng = np.random.default_rng(33)
    B = np.array([1e-3, 2e-3, 3e-3])
    y = spectrum(B, rng, base=1e6)
    r = fit_spectrum(F8, y, "hamiltonian", sigma="poisson", field_guess=B)
    assert r.success
    assert np.all(np.abs(r.field - B) < 4 * r.field_errors)
