"""Field sources of the simulated widefield sample against independent magnetostatics.

The references are computed here without the module's formulas: the Biot–Savart law summed
numerically over short current elements (a straight wire, a small current loop), the closed
form μ0 I / (2π d) of an infinite wire, and a linear field.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants

from nvsense.instruments.simulated.field_sources import (
    FieldMap,
    GradientField,
    PointDipole,
    StraightWire,
    UniformField,
    preset_field_map,
)

MU0 = constants.mu_0


def biot_savart(path: np.ndarray, current: float, points: np.ndarray) -> np.ndarray:
    """Field of a current along the polyline ``path`` (m, shape (k, 3)) by summing
    μ0 I/(4π) dl × r / |r|³ over its segments' midpoints."""
    dl = np.diff(path, axis=0)
    mid = 0.5 * (path[1:] + path[:-1])
    r = points[:, None, :] - mid[None, :, :]
    dist = np.linalg.norm(r, axis=-1, keepdims=True)
    return MU0 * current / (4 * np.pi) * np.sum(np.cross(dl[None], r) / dist**3, axis=1)


POINTS = np.array([[3e-6, 1e-6, 0.0], [-7e-6, 4e-6, 0.0], [0.5e-6, -2e-6, 1e-6],
                   [20e-6, 0.0, -3e-6]])


def test_wire_segment_matches_numerical_biot_savart():
    start, end = np.array([-5e-6, -30e-6, 4e-6]), np.array([8e-6, 25e-6, 6e-6])
    wire = StraightWire(tuple(start), tuple(end), 2e-3)
    path = start + np.linspace(0, 1, 200_001)[:, None] * (end - start)
    expected = biot_savart(path, 2e-3, POINTS)
    np.testing.assert_allclose(wire.field_at(POINTS), expected, rtol=1e-6,
                               atol=1e-9 * np.abs(expected).max())


def test_long_wire_gives_the_infinite_wire_field_and_direction():
    h, current = 5e-6, 1e-3
    wire = StraightWire((0.0, -1.0, h), (0.0, 1.0, h), current)  # 2 m long, along +y
    x = np.linspace(-20e-6, 20e-6, 9)
    points = np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=-1)
    field = wire.field_at(points)
    d = np.hypot(x, h)
    np.testing.assert_allclose(np.linalg.norm(field, axis=-1), MU0 * current / (2 * np.pi * d),
                               rtol=1e-9)
    # right-hand rule: current along +y above the layer; under it (x = 0) B points along −x
    centre = field[4]
    assert centre[0] < 0 and abs(centre[1]) < 1e-20 and abs(centre[2]) < 1e-15


def test_point_dipole_matches_a_small_current_loop():
    a, current, height = 0.2e-6, 1e-3, 6e-6  # loop radius ≪ distance
    phi = np.linspace(0, 2 * np.pi, 20_001)
    loop = np.stack([a * np.cos(phi), a * np.sin(phi), np.full_like(phi, height)], axis=-1)
    dipole = PointDipole((0.0, 0.0, height), (0.0, 0.0, current * np.pi * a**2))
    expected = biot_savart(loop, current, POINTS)
    # the loop is a dipole up to (a/r)² ≈ 1e-3
    np.testing.assert_allclose(dipole.field_at(POINTS), expected, rtol=3e-3,
                               atol=3e-3 * np.abs(expected).max())


def test_gradient_and_uniform_fields_add_up():
    g = ((1.0, 0.0, 0.0), (0.0, 0.0, 2.0), (0.0, -3.0, 0.0))
    fmap = FieldMap((UniformField((1e-6, 2e-6, 3e-6)), GradientField(g, (1e-6, 0.0, 0.0))))
    r = np.array([[2e-6, 1e-6, 4e-6]])
    expected = np.array([1e-6, 2e-6, 3e-6]) + np.array(g) @ (r[0] - [1e-6, 0, 0])
    np.testing.assert_allclose(fmap.field_at(r)[0], expected)


@pytest.mark.parametrize("name", ["uniform", "gradient", "dipoles", "wire"])
def test_presets_have_the_requested_size(name):
    extent, amplitude = 64e-6, 50e-6
    fmap = preset_field_map(name, extent=extent, amplitude=amplitude, bias_direction=(1, 1, 1))
    x = np.linspace(-extent / 2, extent / 2, 65)
    xx, yy = np.meshgrid(x, x)
    field = fmap.field_at(np.stack([xx, yy, np.zeros_like(xx)], axis=-1))
    largest = np.linalg.norm(field, axis=-1).max()
    assert 0.5 * amplitude < largest < 2.5 * amplitude


def test_bad_sources_are_refused():
    with pytest.raises(ValueError, match="distinct"):
        StraightWire((0, 0, 1), (0, 0, 1), 1.0)
    with pytest.raises(ValueError, match="undefined"):
        StraightWire((0, -1, 0), (0, 1, 0), 1.0).field_at(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="unknown field map"):
        preset_field_map("vortex", extent=1e-5)
    with pytest.raises(ValueError, match="three finite"):
        UniformField((1.0, 2.0))  # type: ignore[arg-type]
