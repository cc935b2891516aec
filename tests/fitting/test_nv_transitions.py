"""The closed-form transitions used by the Hamiltonian fits, against exact diagonalisation."""

import numpy as np
import pytest

from nvsense.fitting.nv_transitions import transitions_closed_form
from nvsense.physics import transition_frequencies


def test_reference_lines_from_references_md():
    # REFERENCES.md: D = 2870 MHz, E = 0; 1 mT on axis and B = (1, 2, 3) mT.
    t, _ = transitions_closed_form(np.array([1, 1, 1]) / np.sqrt(3) * 1e-3)
    assert t[0] / 1e6 == pytest.approx([2841.968, 2898.032], abs=0.05)
    t, _ = transitions_closed_form([1e-3, 2e-3, 3e-3])
    expected = [2773.726, 2808.838, 2842.801, 2873.828, 2877.656, 2907.591, 2938.279, 2967.918]
    assert np.sort(t.ravel()) / 1e6 == pytest.approx(expected, abs=0.05)


def test_matches_diagonalisation_for_random_fields_and_strain():
    rng = np.random.default_rng(0)
    for _ in range(300):
        B = rng.normal(size=3) * rng.uniform(0, 0.03)
        D = rng.uniform(2.86e9, 2.88e9)
        E = rng.uniform(-10e6, 10e6)
        t, _ = transitions_closed_form(B, D, E)
        assert np.max(np.abs(t - transition_frequencies(B, D, E))) < 1.0  # Hz


def test_small_field_near_degeneracy_is_precise():
    for B in ([0, 0, 0], [1e-7, 0, 0], [0, 0, 3e-6], [2e-6, -1e-6, 5e-7]):
        t, _ = transitions_closed_form(np.asarray(B, dtype=float))
        assert np.max(np.abs(t - transition_frequencies(np.asarray(B, dtype=float)))) < 1.0


def test_derivatives_match_finite_differences_of_the_exact_lines():
    rng = np.random.default_rng(1)
    for _ in range(20):
        B = rng.normal(size=3) * 3e-3
        D, E = 2.8705e9, rng.uniform(0, 5e6)
        _, dt = transitions_closed_form(B, D, E)
        h = 1e-8
        for j in range(3):
            dB = np.zeros(3)
            dB[j] = h
            num = (transition_frequencies(B + dB, D, E) - transition_frequencies(B - dB, D, E))
            assert np.allclose(num / (2 * h), dt[..., j], rtol=1e-4, atol=2e3)
        num = (transition_frequencies(B, D + 50, E) - transition_frequencies(B, D - 50, E)) / 100
        assert np.allclose(num, dt[..., 3], atol=1e-4)
        num = (transition_frequencies(B, D, E + 50) - transition_frequencies(B, D, E - 50)) / 100
        assert np.allclose(num, dt[..., 4], atol=1e-4)
