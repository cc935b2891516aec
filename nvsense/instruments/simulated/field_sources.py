"""Magnetic sources over the simulated widefield sample: what a quantum diamond microscope
images.

Positions are in m in the crystal frame, with the NV layer in the plane z = 0 (the image
plane is the crystal x–y plane, as in :mod:`nvsense.analysis.cube_simulation`); sources sit
above it (z > 0, on the diamond surface) or below.  Each source gives its field in T at any
array of positions ``(..., 3)``; a :class:`FieldMap` sums them.  The bias field is not part
of the map: the simulated sample's static field (and coil) adds to it.

- :class:`UniformField`: a constant field.
- :class:`GradientField`: ``B = G · (r − origin)``.
- :class:`PointDipole`: ``B = μ0/(4π) · (3 r̂ (r̂·m) − m) / r³``.
- :class:`StraightWire`: a straight current segment, exact Biot–Savart:
  ``B = μ0 I/(4π d) · (cos θ_A − cos θ_B) · φ̂`` with ``d`` the distance to the wire's line
  and θ the angles to its ends (→ ``μ0 I / (2π d)`` for a long wire).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "FIELD_MAP_PRESETS",
    "MU0",
    "FieldMap",
    "FieldSource",
    "GradientField",
    "PointDipole",
    "StraightWire",
    "UniformField",
    "preset_field_map",
]

#: Vacuum permeability, T·m/A (CODATA 2018).
MU0 = 1.25663706212e-6

#: Names :func:`preset_field_map` knows.
FIELD_MAP_PRESETS = ("none", "uniform", "gradient", "dipoles", "wire")


class FieldSource(Protocol):
    """Anything that gives a field (T) at positions (m)."""

    def field_at(self, r: NDArray[np.float64]) -> NDArray[np.float64]:
        """Field (..., 3) in T at positions ``r`` (..., 3) in m."""


def _vector(value: ArrayLike, name: str) -> NDArray[np.float64]:
    v = np.asarray(value, dtype=float)
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be three finite numbers, not {value!r}")
    return v


@dataclass(frozen=True)
class UniformField:
    """A constant field ``field`` (T)."""

    field: tuple[float, float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", tuple(_vector(self.field, "field")))

    def field_at(self, r: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.broadcast_to(np.asarray(self.field), np.shape(r)).copy()


@dataclass(frozen=True)
class GradientField:
    """``B(r) = gradient @ (r − origin)``: ``gradient[i, j] = ∂B_i/∂x_j`` in T/m."""

    gradient: tuple[tuple[float, float, float], ...]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        g = np.asarray(self.gradient, dtype=float)
        if g.shape != (3, 3) or not np.all(np.isfinite(g)):
            raise ValueError(f"gradient must be a finite 3×3 matrix in T/m, not {self.gradient!r}")
        object.__setattr__(self, "gradient", tuple(map(tuple, g)))
        object.__setattr__(self, "origin", tuple(_vector(self.origin, "origin")))

    def field_at(self, r: NDArray[np.float64]) -> NDArray[np.float64]:
        d = np.asarray(r, dtype=float) - np.asarray(self.origin)
        return d @ np.asarray(self.gradient).T


@dataclass(frozen=True)
class PointDipole:
    """A point magnetic dipole of moment ``moment`` (A·m²) at ``position`` (m)."""

    position: tuple[float, float, float]
    moment: tuple[float, float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "position", tuple(_vector(self.position, "position")))
        object.__setattr__(self, "moment", tuple(_vector(self.moment, "moment")))

    def field_at(self, r: NDArray[np.float64]) -> NDArray[np.float64]:
        d = np.asarray(r, dtype=float) - np.asarray(self.position)
        dist = np.linalg.norm(d, axis=-1, keepdims=True)
        if np.any(dist == 0):
            raise ValueError("a point dipole's field is undefined at its own position; put it "
                             "above or below the NV layer (z ≠ 0)")
        unit = d / dist
        m = np.asarray(self.moment)
        return MU0 / (4 * math.pi) * (3 * unit * (unit @ m)[..., None] - m) / dist**3


@dataclass(frozen=True)
class StraightWire:
    """A straight wire from ``start`` to ``end`` (m) carrying ``current`` (A) from start to end.

    The field is the exact Biot–Savart field of the segment (the current's return path is
    left out, as if it ran far away); a segment much longer than its distance to the NV
    layer gives the long-wire field ``μ0 I / (2π d)``.
    """

    start: tuple[float, float, float]
    end: tuple[float, float, float]
    current: float

    def __post_init__(self) -> None:
        a, b = _vector(self.start, "start"), _vector(self.end, "end")
        if not np.linalg.norm(b - a) > 0:
            raise ValueError("a wire needs distinct start and end points")
        if not math.isfinite(self.current):
            raise ValueError(f"current must be a finite number of A, not {self.current!r}")
        object.__setattr__(self, "start", tuple(a))
        object.__setattr__(self, "end", tuple(b))
        object.__setattr__(self, "current", float(self.current))

    def field_at(self, r: NDArray[np.float64]) -> NDArray[np.float64]:
        a, b = np.asarray(self.start), np.asarray(self.end)
        u = (b - a) / np.linalg.norm(b - a)
        p = np.asarray(r, dtype=float)
        along = (p - a) @ u
        perp = (p - a) - along[..., None] * u  # from the wire's line to the point
        d2 = np.sum(perp * perp, axis=-1)
        if np.any(d2 == 0):
            raise ValueError("the field on the wire itself is undefined; keep the wire off the "
                             "NV layer (z ≠ 0)")
        s_a = -along  # ends' positions along u, relative to the foot of the point
        s_b = (b - a) @ u - along
        factor = s_b / np.sqrt(s_b**2 + d2) - s_a / np.sqrt(s_a**2 + d2)
        scale = MU0 * self.current / (4 * math.pi) * factor / d2
        return scale[..., None] * np.cross(u, perp)


@dataclass(frozen=True)
class FieldMap:
    """The sum of several sources; ``FieldMap()`` is no field."""

    sources: tuple[FieldSource, ...] = ()
    name: str = "custom"

    def field_at(self, r: ArrayLike) -> NDArray[np.float64]:
        """Field (..., 3) in T at positions ``r`` (..., 3) in m."""
        r = np.asarray(r, dtype=float)
        if r.shape[-1:] != (3,):
            raise ValueError(f"positions must have shape (..., 3), not {r.shape}")
        total = np.zeros(r.shape)
        for source in self.sources:
            total += source.field_at(r)
        return total


def preset_field_map(name: str, *, extent: float, amplitude: float = 50e-6,
                     bias_direction: ArrayLike = (0.0, 0.0, 1.0), seed: int = 0,
                     **options: Any) -> FieldMap:
    """A ready-made field map over an image ``extent`` (m) wide, centred on the origin.

    Parameters
    ----------
    name
        ``"none"``; ``"uniform"`` (``amplitude`` along ``bias_direction``);
        ``"gradient"`` (along ``bias_direction``, from −amplitude to +amplitude across x);
        ``"dipoles"`` (three magnetic particles 6–10 % of the extent above the layer, moments
        along random directions, the strongest giving about ``amplitude`` under it;
        ``seed`` places them); ``"wire"`` (a long wire along y through the centre at
        ``standoff`` above the layer, default 8 % of the extent, carrying the current that
        gives ``amplitude`` right under it; ``current`` overrides that).
    extent
        Width of the image in the sample plane, m.
    amplitude
        Size of the map's field, T.
    """
    if not (math.isfinite(extent) and extent > 0):
        raise ValueError(f"extent must be a positive width in m, not {extent!r}")
    direction = _vector(bias_direction, "bias_direction")
    norm = np.linalg.norm(direction)
    direction = direction / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
    unknown = set(options) - {"standoff", "current"}
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for field map {name!r}")
    if name == "none":
        return FieldMap(name="none")
    if name == "uniform":
        return FieldMap((UniformField(tuple(amplitude * direction)),), name)
    if name == "gradient":
        gradient = np.outer(direction, [2 * amplitude / extent, 0.0, 0.0])
        return FieldMap((GradientField(tuple(map(tuple, gradient))),), name)
    if name == "dipoles":
        rng = np.random.default_rng(seed)
        sources = []
        for _ in range(3):
            height = extent * rng.uniform(0.06, 0.10)
            xy = rng.uniform(-0.3, 0.3, 2) * extent
            m_dir = rng.normal(size=3)
            m_dir /= np.linalg.norm(m_dir)
            # |B| right under a dipole at height h is μ0 m /(4π h³) × (1 to 2)
            m = amplitude * 4 * math.pi * height**3 / MU0 / 1.5
            sources.append(PointDipole((xy[0], xy[1], height), tuple(m * m_dir)))
        return FieldMap(tuple(sources), name)
    if name == "wire":
        standoff = float(options.get("standoff", 0.08 * extent))
        current = float(options.get("current", amplitude * 2 * math.pi * standoff / MU0))
        half = 50 * extent  # long compared with the image and the standoff
        return FieldMap((StraightWire((0.0, -half, standoff), (0.0, half, standoff), current),),
                        name)
    raise ValueError(f"unknown field map {name!r}; use one of {', '.join(FIELD_MAP_PRESETS)}")


def as_field_map(value: FieldMap | str | Mapping[str, Any] | Iterable[FieldSource] | None, *,
                 extent: float, bias_direction: ArrayLike) -> FieldMap:
    """A :class:`FieldMap` from a preset name, ``{"name": ..., options}``, sources, or a map."""
    if value is None:
        return FieldMap(name="none")
    if isinstance(value, FieldMap):
        return value
    if isinstance(value, str):
        return preset_field_map(value, extent=extent, bias_direction=bias_direction)
    if isinstance(value, Mapping):
        options = dict(value)
        name = options.pop("name", None)
        if name is None:
            raise ValueError(f"a field map mapping needs 'name', got {value!r}")
        return preset_field_map(str(name), extent=extent, bias_direction=bias_direction,
                                **options)
    return FieldMap(tuple(value))
