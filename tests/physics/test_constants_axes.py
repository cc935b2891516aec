"""Constants against CODATA (scipy.constants) and published values; axes and lab frames."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants

from nvsense.physics import (
    A_PARALLEL_14N_HZ,
    A_PARALLEL_15N_HZ,
    A_PERP_14N_HZ,
    A_PERP_15N_HZ,
    AXIS_LABELS,
    CUTS,
    GAMMA_NV_HZ_PER_T,
    NV_AXES,
    ZFS_HZ,
    axis_frame,
    crystal_to_lab,
    hyperfine_lines,
    hyperfine_offsets,
    lab_frame,
    lab_to_crystal,
    nv_axes_in_lab,
)

TETRAHEDRAL = np.degrees(np.arccos(1 / np.sqrt(3)))  # 54.7356°


def test_gyromagnetic_ratio_from_codata():
    mu_b = constants.physical_constants["Bohr magneton"][0]
    # the code uses CODATA 2018 for μB, scipy may have a newer set: they agree to 1e-8
    assert GAMMA_NV_HZ_PER_T == pytest.approx(2.0028 * mu_b / constants.h, rel=1e-8)
    assert GAMMA_NV_HZ_PER_T == pytest.approx(28.0317e9, abs=0.0001e9)  # 2.803 MHz/G
    assert ZFS_HZ == 2.870e9


def test_hyperfine_constants_within_published_ranges():
    # Doherty et al. 2013: 14N A∥ −2.14 to −2.16 MHz, A⊥ ≈ −2.70 MHz; Felton et al. 2009: 15N
    assert -2.17e6 <= A_PARALLEL_14N_HZ <= -2.13e6
    assert A_PERP_14N_HZ == pytest.approx(-2.70e6, abs=0.05e6)
    assert A_PARALLEL_15N_HZ == pytest.approx(3.03e6, abs=0.02e6)
    assert A_PERP_15N_HZ == pytest.approx(3.65e6, abs=0.05e6)


def test_hyperfine_components():
    np.testing.assert_allclose(hyperfine_offsets("14N"), [-2.16e6, 0.0, 2.16e6])
    np.testing.assert_allclose(np.diff(hyperfine_offsets("15n")), [3.03e6])
    assert hyperfine_offsets(None).tolist() == [0.0]
    lines = hyperfine_lines(np.array([[2.8e9, 2.9e9]]), "14N")
    assert lines.shape == (1, 2, 3)
    np.testing.assert_allclose(lines[0, 1], [2.9e9 - 2.16e6, 2.9e9, 2.9e9 + 2.16e6])
    with pytest.raises(ValueError, match="nucleus"):
        hyperfine_offsets("13C")


def test_nv_axes_order_and_geometry():
    expected = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    np.testing.assert_allclose(NV_AXES, expected)
    assert AXIS_LABELS == ("[111]", "[1-1-1]", "[-11-1]", "[-1-11]")
    np.testing.assert_allclose(NV_AXES.sum(axis=0), 0, atol=1e-15)
    np.testing.assert_allclose(NV_AXES.T @ NV_AXES, 4 / 3 * np.eye(3), atol=1e-15)
    cosines = NV_AXES @ NV_AXES.T
    np.testing.assert_allclose(cosines[~np.eye(4, dtype=bool)], -1 / 3)  # 109.47°
    with pytest.raises(ValueError):
        NV_AXES[0, 0] = 1.0  # read-only: shared by every module


def test_axis_frame_is_right_handed_with_z_along_axis():
    for n in [*NV_AXES, np.array([0, 0, 1.0]), np.array([0.3, -0.2, 0.9])]:
        frame = axis_frame(n)
        np.testing.assert_allclose(frame @ frame.T, np.eye(3), atol=1e-14)
        assert np.linalg.det(frame) == pytest.approx(1.0)
        np.testing.assert_allclose(frame[2], n / np.linalg.norm(n))
    # for the NV axes, x lies in the {110} mirror plane containing the axis and [001]
    for n in NV_AXES:
        x = axis_frame(n)[0]
        assert np.dot(np.cross(n, [0, 0, 1]), x) == pytest.approx(0.0, abs=1e-14)
    with pytest.raises(ValueError, match="non-zero"):
        axis_frame([0, 0, 0])


@pytest.mark.parametrize("cut", CUTS)
def test_lab_frames_are_proper_rotations_with_z_normal_to_the_face(cut):
    r = lab_frame(cut)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(r) == pytest.approx(1.0)
    normal = np.array([int(c) for c in cut], dtype=float)
    np.testing.assert_allclose(r[2], normal / np.linalg.norm(normal))
    v = np.array([[1e-3, -2e-3, 0.5e-3], [0.0, 1.0, 2.0]])
    np.testing.assert_allclose(lab_to_crystal(crystal_to_lab(v, cut), cut), v, atol=1e-15)
    assert lab_frame(f"({cut})") is r


def test_100_plate_axes_at_54_7_degrees_projecting_on_the_edges():
    axes = nv_axes_in_lab("100")
    np.testing.assert_allclose(np.degrees(np.arccos(np.abs(axes[:, 2]))), TETRAHEDRAL)
    # in-plane projections along ±x or ±y (the <110> edges)
    inplane = axes[:, :2]
    assert np.all(np.isclose(np.min(np.abs(inplane), axis=1), 0.0, atol=1e-15))


def test_111_plate_has_axis_0_normal_and_others_at_109_degrees():
    axes = nv_axes_in_lab("111")
    np.testing.assert_allclose(axes[0], [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(axes[1:, 2], -1 / 3)
    # 110: two axes in the surface plane
    assert np.sum(np.isclose(nv_axes_in_lab("110")[:, 2], 0.0, atol=1e-15)) == 2
    with pytest.raises(ValueError, match="cut"):
        lab_frame("311")
