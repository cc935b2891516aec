"""Symmetries of a set of NV axes: which field vectors give the same ODMR lines.

Each axis's pair of lines is unchanged when the field is reversed (time reversal) and, with
strain E = 0, depends only on |B·n| and |B×n|.  Any orthogonal map that sends the set of
signed axes {±nᵢ} onto itself therefore maps a field to one with the same *ensemble* of lines
(the lines move from axis to axis).  For the four NV axes these maps are the 48 signed
permutations of (x, y, z), the cubic point group.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import permutations, product

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["axis_symmetries", "canonical_field", "signed_permutations"]


def axis_symmetries(axes: ArrayLike) -> NDArray[np.float64]:
    """Orthogonal 3×3 maps that send the set of signed axes {±nᵢ} onto itself.

    Parameters
    ----------
    axes
        Axis vectors, shape (n_axes, 3) (normalised here).

    Returns
    -------
    ndarray
        Shape (m, 3, 3), identity first.  m = 48 for the four NV axes; 8 for two of them.  For
        a single axis the (continuous) group is not enumerated: only ±1 are returned.
    """
    axes = np.atleast_2d(np.asarray(axes, dtype=float))
    axes = axes / np.linalg.norm(axes, axis=-1, keepdims=True)
    return _symmetries(np.round(axes, 12).tobytes(), axes.shape[0])


@lru_cache(maxsize=32)
def _symmetries(key: bytes, n: int) -> NDArray[np.float64]:
    axes = np.frombuffer(key, dtype=float).reshape(n, 3)
    signed = np.concatenate([axes, -axes])  # index j: axis j % n, sign by j // n
    found = [np.eye(3), -np.eye(3)]
    basis, images = _basis_and_images(axes, signed)
    if images:  # (every candidate at once: ~1300 for the four NV axes)
        m = np.stack(images) @ np.linalg.inv(basis)  # (K, 3, 3)
        orthogonal = np.all(np.isclose(m @ np.swapaxes(m, 1, 2), np.eye(3), atol=1e-9),
                            axis=(1, 2))
        mapped = axes @ np.swapaxes(m, 1, 2)  # (K, n, 3)
        distance = np.linalg.norm(mapped[:, :, None] - signed[None, None], axis=-1)
        # every axis must land on ± some axis
        onto = np.all(np.min(distance, axis=2) < 1e-9, axis=1)
        for candidate in m[orthogonal & onto]:
            if not any(np.allclose(candidate, f, atol=1e-9) for f in found):
                found.append(candidate)
    result = np.stack(found)
    result.setflags(write=False)
    return result


def signed_permutations(B: ArrayLike) -> NDArray[np.float64]:
    """The 48 signed permutations of the field vector ``B`` (shape (48, 3)): the fields that
    give the same ensemble lines as ``B`` for the four NV axes (E = 0), ``B`` itself first."""
    B = np.asarray(B, dtype=float)
    if B.shape != (3,):
        raise ValueError(f"B must be one field vector of shape (3,), not shape {B.shape}")
    out = []
    for perm in permutations(range(3)):
        for signs in product((1.0, -1.0), repeat=3):
            out.append(np.asarray(signs) * B[list(perm)])
    return np.array(out)


def canonical_field(B: ArrayLike, reference: ArrayLike | None = None) -> NDArray[np.float64]:
    """The signed permutation of ``B`` nearest to ``reference``, or the canonical one
    (components non-negative, descending: |Bx| ≥ |By| ≥ |Bz|) when no reference is given."""
    B = np.asarray(B, dtype=float)
    if reference is None:
        return np.sort(np.abs(B))[::-1].copy()
    eq = signed_permutations(B)
    return eq[np.argmin(np.sum((eq - np.asarray(reference, dtype=float)) ** 2, axis=1))]


def _basis_and_images(
    axes: NDArray[np.float64], signed: NDArray[np.float64]
) -> tuple[NDArray[np.float64], list[NDArray[np.float64]]]:
    """A basis built from the axes (as columns) and every candidate image of it."""
    n = axes.shape[0]
    if n >= 3:
        triple = next(
            (t for t in product(range(n), repeat=3)
             if len(set(t)) == 3 and abs(np.linalg.det(axes[list(t)])) > 1e-6),
            None,
        )
        if triple is not None:
            basis = axes[list(triple)].T
            images = [
                signed[list(js)].T
                for js in product(range(2 * n), repeat=3)
                if len({j % n for j in js}) == 3
            ]
            return basis, images
    if n >= 2:
        pair = next(
            ((i, k) for i in range(n) for k in range(i + 1, n)
             if np.linalg.norm(np.cross(axes[i], axes[k])) > 1e-6),
            None,
        )
        if pair is not None:
            i, k = pair
            basis = np.stack([axes[i], axes[k], _unit(np.cross(axes[i], axes[k]))], axis=1)
            images = []
            for j0, j1 in product(range(2 * n), repeat=2):
                if j0 % n == j1 % n:
                    continue
                normal = _unit(np.cross(signed[j0], signed[j1]))
                for sign in (1.0, -1.0):
                    images.append(np.stack([signed[j0], signed[j1], sign * normal], axis=1))
            return basis, images
    return np.eye(3), []


def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v
