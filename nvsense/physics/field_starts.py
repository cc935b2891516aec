"""Starting points of the field inversion: closed-form candidate fields from line pairs, every
pairing of unassigned lines into axes, and a coarse grid of directions and magnitudes.

Each function returns a short list of parameter vectors (γB in MHz, then D in MHz when D is
fitted) for :meth:`nvsense.physics.line_problem.LineProblem.refine`, best first.  Per axis, the
two lines of a spin-1 with E = 0 fix |B∥| and |B⊥| exactly
(:func:`nvsense.physics.axis_field_components`); the signs of the projections and the pairing
of unassigned lines into axes are what the candidates enumerate.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import permutations, product

import numpy as np
from numpy.typing import NDArray

from .axial import axis_field_components
from .constants import GAMMA_NV_HZ_PER_T, ZFS_HZ
from .line_problem import MHZ, LineProblem
from .symmetry import axis_symmetries

__all__ = [
    "fields_from_pairs",
    "matching_positions",
    "matchings",
    "sign_patterns",
    "starts_assigned",
    "starts_grid",
    "starts_pairings",
]


def sign_patterns(n: int) -> NDArray[np.float64]:
    """(2^(n-1), n) sign patterns with the first sign +1 (B and −B are equivalent)."""
    rest = np.array(list(product((1.0, -1.0), repeat=n - 1))).reshape(-1, n - 1)
    return np.concatenate([np.ones((rest.shape[0], 1)), rest], axis=1)


def fields_from_pairs(
    pairs: NDArray[np.float64], d: NDArray[np.float64], axes: NDArray[np.float64], E: float
) -> NDArray[np.float64]:
    """Candidate fields (…, S, 3) in T from per-axis line pairs (…, n, 2) in Hz and D (…):
    |B∥|, |B⊥| per axis (E = 0 inversion), every projection sign pattern, least squares."""
    b_par, b_perp = axis_field_components(pairs[..., 0], pairs[..., 1], d[..., None])
    if E:  # strain adds E² to the apparent |b|²: remove it from the projections
        excess = (E / GAMMA_NV_HZ_PER_T) ** 2
        b_par = np.sqrt(np.maximum(b_par**2 - excess, 0.0))
    signs = sign_patterns(axes.shape[0])  # (S, n)
    proj = b_par[..., None, :] * signs  # (…, S, n)
    fields = proj @ np.linalg.pinv(axes).T  # least squares of axes·B = proj
    rank = np.linalg.matrix_rank(axes)
    if rank < 3:  # two axes: the component normal to their plane comes from |B|
        normal = np.linalg.svd(axes)[2][-1]
        total2 = np.mean(b_par**2 + b_perp**2, axis=-1)[..., None]
        extra = np.sqrt(np.maximum(total2 - np.sum(fields**2, axis=-1), 0.0))[..., None]
        fields = np.concatenate([fields + extra * normal, fields - extra * normal], axis=-2)
    return fields


def _d_grid(problem: LineProblem, step: float, half_width: float) -> NDArray[np.float64]:
    if problem.D_fixed is not None:
        return np.array([problem.D_fixed])
    return ZFS_HZ + np.arange(-half_width, half_width + step / 2, step)


def _best_rows(x: NDArray[np.float64], cost: NDArray[np.float64], count: int):
    order = np.argsort(cost, axis=None)[: 4 * count]
    picked: list[NDArray[np.float64]] = []
    for idx in order:
        cand = x.reshape(-1, x.shape[-1])[idx]
        if all(np.max(np.abs(cand - p)) > 1e-3 for p in picked):
            picked.append(cand)
        if len(picked) == count:
            break
    return picked


def starts_assigned(problem: LineProblem) -> list[NDArray[np.float64]]:
    """Closed-form candidates for lines assigned to their axes (every line given)."""
    pairs = (problem.y[problem.fixed] * MHZ).reshape(problem.n_axes, 2)
    d = _d_grid(problem, 1e6, 12e6)  # (G,)
    fields = fields_from_pairs(np.broadcast_to(pairs, (d.size, *pairs.shape)), d,
                               problem.axes, problem.E)  # (G, S, 3)
    x = problem.pack(fields, np.broadcast_to(d[:, None], fields.shape[:-1]))
    a = problem.fixed
    cost = np.sum(((problem.model(x) - problem.y[a]) / problem.s[a]) ** 2, axis=-1)
    return _best_rows(x, cost, 2)


def matchings(items: tuple[int, ...]) -> list[list[tuple[int, int]]]:
    """Every way to split ``items`` into pairs (each pair in the order of ``items``)."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for i, partner in enumerate(rest):
        for tail in matchings(rest[:i] + rest[i + 1:]):
            out.append([(first, partner), *tail])
    return out


@lru_cache(maxsize=8)
def matching_positions(n: int) -> NDArray[np.intp]:
    """(P, n, 2): every split of 2n sorted positions into n pairs (each pair ascending)."""
    out = np.array(matchings(tuple(range(2 * n))), dtype=np.intp)
    out.setflags(write=False)
    return out


def starts_pairings(problem: LineProblem) -> list[NDArray[np.float64]]:
    """Every way to split 2n unassigned lines into per-axis pairs, for every order of axes."""
    n = problem.n_axes
    y = problem.y * MHZ
    order = np.argsort(y)
    pairings = order[matching_positions(n)]  # (P, n, 2), pairs ascending
    perms = _axis_orders(problem.axes)
    assign = pairings[:, perms].reshape(-1, n, 2)  # (C, n, 2) measured index per model line
    ascending = (y[assign[..., 0]] <= y[assign[..., 1]])[..., None]
    assign = np.where(ascending, assign, assign[..., ::-1])
    d = _d_grid(problem, 5e6, 10e6)
    pairs = y[assign]  # (C, n, 2)
    fields = fields_from_pairs(pairs[None], np.broadcast_to(d[:, None], (d.size, pairs.shape[0])),
                               problem.axes, problem.E)  # (G, C, S, 3)
    dd = np.broadcast_to(d[:, None, None], fields.shape[:-1])
    x = problem.pack(fields, dd)
    model = problem.model(x)  # (G, C, S, 2n)
    target = problem.y[assign.reshape(-1, 2 * n)][None, :, None, :]
    scale = problem.s[assign.reshape(-1, 2 * n)][None, :, None, :]
    cost = np.sum(((model - target) / scale) ** 2, axis=-1)
    return _best_rows(x, cost, 4)


def _axis_orders(axes: NDArray[np.float64]) -> NDArray[np.intp]:
    """The orders in which line pairs must be tried on the axes.  When the axes' symmetries
    permute them in every possible way (the four NV axes: the cubic group acts as all 24
    permutations), one order stands for all: the others give symmetric images."""
    return _axis_orders_cached(axes.tobytes(), axes.shape[0])


@lru_cache(maxsize=32)
def _axis_orders_cached(key: bytes, n: int) -> NDArray[np.intp]:
    axes = np.frombuffer(key, dtype=float).reshape(n, 3)
    signed = np.concatenate([axes, -axes])
    realised = set()
    for m in axis_symmetries(axes):
        images = axes @ m.T
        nearest = np.argmin(np.linalg.norm(images[:, None] - signed[None], axis=-1), axis=1)
        realised.add(tuple(int(j) % n for j in nearest))
    every = list(permutations(range(n)))
    out = np.array([every[0]] if len(realised) == len(every) else every)
    out.setflags(write=False)
    return out


def _fibonacci_sphere(count: int) -> NDArray[np.float64]:
    i = np.arange(count) + 0.5
    z = 1 - 2 * i / count
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=-1)


def _grid_directions(axes: NDArray[np.float64], count: int = 4800) -> NDArray[np.float64]:
    """Unit vectors covering the sphere once modulo the axes' symmetry group (for the NV axes
    the 1/48 wedge), so that grid candidates are not repeats of each other."""
    group = axis_symmetries(axes)
    directions = _fibonacci_sphere(count)
    images = np.einsum("gij,nj->ngi", group, directions)  # (N, m, 3)
    weights = np.zeros(3)
    for i, axis in enumerate(axes[:3]):
        weights = weights + 10.0 ** (-3 * i) * axis
    canonical = images[np.arange(len(directions)), np.argmax(images @ weights, axis=1)]
    keep = np.all(np.isclose(canonical, directions, atol=1e-12), axis=1)
    return directions[keep] if np.any(keep) else directions


def starts_grid(problem: LineProblem) -> list[NDArray[np.float64]]:
    """Coarse search over directions and magnitudes (any number of lines, any axes).  For
    unassigned lines a candidate is scored by the distance of every measured line to its
    nearest model line and of every model line (inside the window) to its nearest measured
    line; for assigned lines (some not measured) by the distance of each measured line to its
    own model line."""
    y = problem.y * MHZ
    spread = max(np.max(np.abs(y - ZFS_HZ)), 1e6) / GAMMA_NV_HZ_PER_T
    magnitudes = spread * np.geomspace(0.6, 4.0, 14)
    directions = _grid_directions(problem.axes) if not problem.assigned else _fibonacci_sphere(
        1200)
    d = _d_grid(problem, 5e6, 10e6)
    fields = magnitudes[:, None, None] * directions[None, :, :]  # (M, N, 3)
    fields = np.broadcast_to(fields[None], (d.size, *fields.shape))
    dd = np.broadcast_to(d[:, None, None], fields.shape[:-1])
    x = problem.pack(fields, dd)
    model = problem.model(x)  # (..., 2n)
    if problem.assigned:
        a = problem.fixed
        used = a >= 0
        target = problem.y[a[used]]
        cost = np.sum(((model[..., used] - target) / problem.s[a[used]]) ** 2, axis=-1)
    else:
        dist = ((model[..., None, :] - problem.y[:, None]) / problem.s[:, None]) ** 2
        inside = problem.inside(model)  # (..., 2n)
        to_model = np.min(dist, axis=-2)  # (..., 2n): each model line to its nearest
        cost = (np.sum(np.min(dist, axis=-1), axis=-1)
                + np.sum(np.where(inside, to_model, 0.0), axis=-1))
    return _best_rows(x, cost, 8)
