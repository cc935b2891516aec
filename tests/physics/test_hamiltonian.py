"""Transition frequencies and levels against numerical diagonalisation, closed forms and
published numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nv_reference import AXES, D0, GAMMA, hamiltonian, lines

from nvsense.physics import (
    NV_AXES,
    energy_levels,
    nv_frame_field,
    spin_hamiltonian,
    transition_frequencies,
)

MHZ = 1e6


def _unit_perpendicular(n: np.ndarray) -> np.ndarray:
    p = np.cross(n, [0.0, 0.0, 1.0])
    return p / np.linalg.norm(p)


components = st.floats(-60e-3, 60e-3, allow_nan=False)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    bx=components, by=components, bz=components,
    d=st.floats(2.80e9, 2.90e9), e=st.floats(0.0, 12e6),
)
def test_matches_numerical_diagonalisation(bx, by, bz, d, e):
    b = np.array([bx, by, bz])
    got = transition_frequencies(b, d, e)
    # below the level anticrossing; the reference keeps the lowest level as ms ≈ 0 as well
    np.testing.assert_allclose(got, lines(b, d, e), rtol=0, atol=1e-3)  # 1 mHz


def test_batch_of_random_fields_matches_diagonalisation_to_micro_hertz():
    rng = np.random.default_rng(0)
    fields = rng.normal(size=(300, 3)) * 15e-3
    d = 2.87e9 + rng.normal(size=300) * 2e6
    e = np.abs(rng.normal(size=300)) * 4e6
    got = transition_frequencies(fields, d, e)
    ref = np.array([lines(b, di, ei) for b, di, ei in zip(fields, d, e)])
    assert got.shape == (300, 4, 2)
    assert np.max(np.abs(got - ref)) < 1e-4  # 0.1 mHz


def test_published_reference_lines():
    """REFERENCES.md: D = 2870 MHz, E = 0, γ = 28.0317 GHz/T."""
    n = NV_AXES[0]
    np.testing.assert_allclose(transition_frequencies(1e-3 * n, axes=n)[0] / MHZ,
                               [2841.968, 2898.032], atol=1e-3)
    np.testing.assert_allclose(transition_frequencies(10e-3 * n, axes=n)[0] / MHZ,
                               [2589.683, 3150.317], atol=1e-3)
    ensemble = np.sort(transition_frequencies([1e-3, 2e-3, 3e-3]).ravel()) / MHZ
    np.testing.assert_allclose(
        ensemble,
        [2773.726, 2808.838, 2842.801, 2873.828, 2877.656, 2907.591, 2938.279, 2967.918],
        atol=1e-3,
    )


def test_zero_field_with_strain_splits_by_2e():
    np.testing.assert_allclose(transition_frequencies([0.0, 0.0, 0.0], E=5e6) / MHZ,
                               np.tile([2865.0, 2875.0], (4, 1)), atol=1e-9)


@pytest.mark.parametrize("b_tesla", [1e-5, 1e-3, 0.02, 0.09])
def test_axial_closed_form(b_tesla):
    for n in NV_AXES:
        f = transition_frequencies(b_tesla * n, axes=n)[0]
        np.testing.assert_allclose(f, [D0 - GAMMA * b_tesla, D0 + GAMMA * b_tesla], atol=1e-5)


@pytest.mark.parametrize("b_tesla", [1e-8, 1e-6, 1e-4, 3e-3, 0.05])
def test_perpendicular_closed_form_including_tiny_fields(b_tesla):
    """Field ⊥ axis, E = 0: f₋ = (D + R)/2, f₊ = R with R = √(D² + 4(γB)²).  The splitting
    R − f₋ ≈ (γB)²/D is tiny for small fields; it must still be right to ~µHz."""
    n = NV_AXES[1]
    b = GAMMA * b_tesla
    r = np.sqrt(np.longdouble(D0) ** 2 + 4 * np.longdouble(b) ** 2)
    expected = np.array([(D0 + r) / 2, r], dtype=np.longdouble)
    got = transition_frequencies(b_tesla * _unit_perpendicular(n), axes=n)[0]
    assert np.max(np.abs(got - expected)) < 5e-6
    splitting = float(expected[1] - expected[0])
    assert got[1] - got[0] == pytest.approx(splitting, rel=1e-6, abs=1e-5)


def test_linear_shortcut_bias_as_published():
    """REFERENCES.md: B∥ ≈ (f₊ − f₋)/(2γ) is off by about −9 µT at 10 mT, 54.7° off axis, and
    by +0.48 mT at 10 mT perpendicular; the exact model must show exactly that bias."""
    n = NV_AXES[0]
    perp = _unit_perpendicular(n)
    theta = np.arccos(1 / np.sqrt(3))  # 54.7°
    field = 10e-3 * (np.cos(theta) * n + np.sin(theta) * perp)
    f = transition_frequencies(field, axes=n)[0]
    bias = (f[1] - f[0]) / (2 * GAMMA) - 10e-3 * np.cos(theta)
    assert bias == pytest.approx(-9e-6, abs=0.5e-6)
    f = transition_frequencies(10e-3 * perp, axes=n)[0]
    assert (f[1] - f[0]) / (2 * GAMMA) == pytest.approx(0.48e-3, abs=0.01e-3)


def test_level_anticrossing_at_d_over_gamma():
    """The ms = 0 and ms = −1 levels cross at B∥ = D/γ ≈ 102.4 mT: the lower transition goes
    to zero there (to within the documented ~100 Hz of the closed form at an exact crossing)."""
    n = NV_AXES[0]
    b_lac = D0 / GAMMA
    assert b_lac == pytest.approx(102.4e-3, abs=0.1e-3)
    near = transition_frequencies(0.999 * b_lac * n, axes=n)[0, 0]
    assert near == pytest.approx(D0 - GAMMA * 0.999 * b_lac, abs=1e-3)
    assert transition_frequencies(b_lac * n, axes=n)[0, 0] == pytest.approx(0.0, abs=100.0)


def test_strain_levels_match_reference_frame_convention():
    """With E ≠ 0 the lines depend on the azimuth of B⊥ in the NV frame (x = [001] made
    perpendicular to the axis); the code must use that convention."""
    for n in NV_AXES:
        perp = _unit_perpendicular(n)
        other = np.cross(n, perp)
        for phi in np.linspace(0, np.pi, 5):
            b = 3e-3 * (np.cos(phi) * perp + np.sin(phi) * other) + 1e-3 * n
            np.testing.assert_allclose(transition_frequencies(b, E=7e6, axes=n)[0],
                                       lines(b, E=7e6, axes=n)[0], atol=1e-4)


def test_array_d_and_e_broadcast_per_field():
    """One D (and E) per spectrum: D of shape B.shape[:-1], shared by all axes."""
    rng = np.random.default_rng(3)
    fields = rng.normal(size=(5, 3)) * 4e-3
    d = np.linspace(2.86e9, 2.88e9, 5)
    e = np.linspace(0, 4e6, 5)
    got = transition_frequencies(fields, d, e)
    for i in range(5):
        np.testing.assert_allclose(got[i], lines(fields[i], d[i], e[i]), atol=1e-4)
    # a grid of D for one field: the batch shape comes from D
    grid = transition_frequencies(fields[0], d)
    assert grid.shape == (5, 4, 2)
    np.testing.assert_allclose(grid[2], lines(fields[0], d[2]), atol=1e-4)
    # (n_spectra, n_points) style batches
    many = transition_frequencies(fields[None, :, :].repeat(3, axis=0), d[None, :])
    assert many.shape == (3, 5, 4, 2)
    np.testing.assert_allclose(many[1, 3], lines(fields[3], d[3]), atol=1e-4)


def test_mismatched_d_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="broadcast"):
        transition_frequencies(np.zeros((5, 3)), np.full(4, D0))


@pytest.mark.parametrize("bad", [[1e-3, 2e-3], np.zeros((4, 2)), 1e-3])
def test_field_must_have_three_components(bad):
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        transition_frequencies(bad)


def test_single_axis_and_custom_axes():
    b = np.array([1e-3, -2e-3, 0.5e-3])
    assert transition_frequencies(b, axes=NV_AXES[2]).shape == (1, 2)
    np.testing.assert_allclose(transition_frequencies(b, axes=NV_AXES[2])[0],
                               lines(b, axes=AXES[2])[0], atol=1e-4)
    # un-normalised axis vectors are normalised
    np.testing.assert_allclose(transition_frequencies(b, axes=[[2, 2, 2]]),
                               transition_frequencies(b, axes=NV_AXES[:1]), atol=1e-6)


def test_energy_levels_are_the_eigenvalues():
    b = np.array([4e-3, -1e-3, 2.5e-3])
    levels = energy_levels(b, 2.871e9, 3e6)
    for k, n in enumerate(AXES):
        np.testing.assert_allclose(levels[k], np.linalg.eigvalsh(hamiltonian(b, n, 2.871e9, 3e6)),
                                   atol=1e-4)
    np.testing.assert_allclose(levels.sum(axis=-1), 2 * 2.871e9, rtol=1e-14)


def test_spin_hamiltonian_matches_reference_matrix_spectrum():
    b = np.array([2e-3, 1e-3, -3e-3])
    for n in NV_AXES:
        h = spin_hamiltonian(b, 2.869e9, 2e6, n)
        np.testing.assert_allclose(h, h.conj().T)
        np.testing.assert_allclose(np.linalg.eigvalsh(h),
                                   np.linalg.eigvalsh(hamiltonian(b, n, 2.869e9, 2e6)), atol=1e-4)
    batch = spin_hamiltonian(np.tile(b, (3, 1)), np.array([2.86e9, 2.87e9, 2.88e9]))
    assert batch.shape == (3, 3, 3)
    assert batch[2, 0, 0].real == pytest.approx(2.88e9 + GAMMA * (b @ NV_AXES[0]))


def test_nv_frame_field_projects_on_each_axis():
    b = np.array([1e-3, 2e-3, 3e-3])
    frame = nv_frame_field(b)
    np.testing.assert_allclose(frame[:, 2], GAMMA * AXES @ b, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(frame, axis=1), GAMMA * np.linalg.norm(b),
                               rtol=1e-12)
