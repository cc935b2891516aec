"""The forward model's Jacobian (nvsense.physics.transition_jacobian) against numerical
diagonalisation of an independently built Hamiltonian (nv_reference) and against the fitters'
compiled closed form (nvsense.fitting.nv_transitions), which must agree with physics."""

from __future__ import annotations

import numpy as np
import pytest
from nv_reference import AXES, D0, GAMMA, lines

from nvsense.physics import (
    GAMMA_NV_HZ_PER_T,
    frame_line_derivatives,
    transition_frequencies,
    transition_jacobian,
)


def _numerical_jacobian(B, D, E, axes=AXES) -> np.ndarray:
    """d(lines)/d(Bx, By, Bz, D, E) by central differences of the diagonalised reference."""
    p = np.array([*B, D, E], dtype=float)
    steps = np.array([2e-8, 2e-8, 2e-8, 500.0, 500.0])  # 0.56 kHz in γB, 0.5 kHz in D and E
    out = np.empty((len(np.atleast_2d(axes)), 2, 5))
    for k in range(5):
        up, down = p.copy(), p.copy()
        up[k] += steps[k]
        down[k] -= steps[k]
        out[..., k] = (lines(up[:3], up[3], up[4], axes) - lines(down[:3], down[3], down[4],
                                                               axes)) / (2 * steps[k])
    return out


@pytest.mark.parametrize("seed", range(6))
def test_jacobian_matches_numerical_diagonalisation(seed):
    rng = np.random.default_rng(seed)
    B = rng.normal(size=3) * rng.uniform(0.5e-3, 30e-3) / np.sqrt(3)
    D = D0 + rng.normal() * 2e6
    E = abs(rng.normal()) * 4e6
    values, jac = transition_jacobian(B, D, E)
    np.testing.assert_allclose(values, lines(B, D, E), rtol=0, atol=1e-3)  # Hz
    reference = _numerical_jacobian(B, D, E)
    # field derivatives are O(γ) = 2.8e10 Hz/T, D and E derivatives O(1)
    np.testing.assert_allclose(jac[..., :3], reference[..., :3], rtol=0, atol=GAMMA * 2e-6)
    np.testing.assert_allclose(jac[..., 3:], reference[..., 3:], rtol=0, atol=2e-6)


def test_jacobian_matches_the_fitters_compiled_kernel():
    from nvsense.fitting.nv_transitions import transitions_closed_form

    rng = np.random.default_rng(11)
    for _ in range(20):
        B = rng.normal(size=3) * 10e-3
        D, E = D0 + rng.normal() * 1e6, abs(rng.normal()) * 3e6
        values, jac = transition_jacobian(B, D, E)
        t, dt = transitions_closed_form(B, D, E)
        np.testing.assert_allclose(values, t, rtol=0, atol=1e-3)
        np.testing.assert_allclose(jac, dt, rtol=1e-7, atol=1e-6)


def test_closed_form_on_the_axis_and_batch_shapes():
    # field along the axis: f∓ = D ∓ γB exactly, d/dB∥ = ∓γ, d/dD = 1
    values, jac = transition_jacobian([0, 0, 2e-3], D0, 0.0, axes=[0, 0, 1])
    np.testing.assert_allclose(values[0], [D0 - GAMMA_NV_HZ_PER_T * 2e-3,
                                           D0 + GAMMA_NV_HZ_PER_T * 2e-3], rtol=1e-12)
    np.testing.assert_allclose(jac[0, :, 2], [-GAMMA_NV_HZ_PER_T, GAMMA_NV_HZ_PER_T], rtol=1e-9)
    np.testing.assert_allclose(jac[0, :, 3], [1.0, 1.0], atol=1e-9)
    # batches: one D per field, as transition_frequencies
    B = np.array([[1e-3, 2e-3, 3e-3], [0.0, 0.0, 0.0]])
    values, jac = transition_jacobian(B, [2.87e9, 2.871e9], [0.0, 5e6])
    assert values.shape == (2, 4, 2) and jac.shape == (2, 4, 2, 5)
    np.testing.assert_allclose(values, transition_frequencies(B, [2.87e9, 2.871e9],
                                                              [0.0, 5e6]))


def test_degenerate_levels_fall_back_to_differences():
    """At B = 0 with strain the lines are D ± E: d/dD = 1, d/dE = ∓1, finite everywhere."""
    values, jac = transition_jacobian(np.zeros(3), D0, 5e6)
    np.testing.assert_allclose(values, np.tile([D0 - 5e6, D0 + 5e6], (4, 1)))
    assert np.all(np.isfinite(jac))
    np.testing.assert_allclose(jac[..., 3], 1.0, atol=1e-6)
    np.testing.assert_allclose(jac[..., 4], np.tile([-1.0, 1.0], (4, 1)), atol=1e-6)
    # and B = E = 0 (all three levels ms = ±1 degenerate): no NaN
    assert np.all(np.isfinite(transition_jacobian(np.zeros(3), D0, 0.0)[1]))


def test_frame_derivatives_are_unit_free():
    """The NV-frame function is homogeneous: MHz in, MHz out, same numbers as Hz / 1e6."""
    b = np.array([30e6, -20e6, 50e6])
    hz = frame_line_derivatives(*b, D0, 2e6)
    mhz = frame_line_derivatives(*(b / 1e6), D0 / 1e6, 2.0)
    np.testing.assert_allclose(hz[0] / 1e6, mhz[0], rtol=1e-12)
    np.testing.assert_allclose(hz[1], mhz[1], rtol=1e-9)
