"""Independent reference for the physics tests: the NV Hamiltonian built from scratch.

The spin operators are rotated into the crystal frame (S·n, S·x, S·y), so the Zeeman term is
simply γ B·S with B in crystal coordinates, and the matrix is diagonalised numerically.  Nothing
here uses nvsense.physics.
"""

from __future__ import annotations

import itertools

import numpy as np

# CODATA 2018 / SI 2019 values, typed in here rather than imported from the code under test.
PLANCK = 6.62607015e-34
BOHR_MAGNETON = 9.2740100783e-24
G_FACTOR = 2.0028
GAMMA = G_FACTOR * BOHR_MAGNETON / PLANCK  # Hz/T
D0 = 2.870e9

AXES = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3.0)

_S = 1 / np.sqrt(2)
# spin-1 operators in the basis (+1, 0, -1)
SX = np.array([[0, _S, 0], [_S, 0, _S], [0, _S, 0]], dtype=complex)
SY = np.array([[0, -1j * _S, 0], [1j * _S, 0, -1j * _S], [0, 1j * _S, 0]])
SZ = np.diag([1.0, 0.0, -1.0]).astype(complex)
S_CRYSTAL = np.stack([SX, SY, SZ])  # the spin vector operator, components along x, y, z


def _perpendicular_frame(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of the documented NV frame: x is [001] made perpendicular to n (for the NV axes)."""
    ref = np.array([0.0, 0.0, 1.0]) if abs(n[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = ref - (ref @ n) * n
    x /= np.linalg.norm(x)
    return x, np.cross(n, x)


def hamiltonian(b_tesla, axis, D=D0, E=0.0) -> np.ndarray:
    """H/h in Hz: D (S·n)² + E ((S·x)² − (S·y)²) + γ B·S, all in crystal coordinates."""
    n = np.asarray(axis, float) / np.linalg.norm(axis)
    s_n = np.tensordot(n, S_CRYSTAL, axes=1)
    x, y = _perpendicular_frame(n)
    s_x = np.tensordot(x, S_CRYSTAL, axes=1)
    s_y = np.tensordot(y, S_CRYSTAL, axes=1)
    zeeman = GAMMA * np.tensordot(np.asarray(b_tesla, float), S_CRYSTAL, axes=1)
    return D * s_n @ s_n + E * (s_x @ s_x - s_y @ s_y) + zeeman


def lines(b_tesla, D=D0, E=0.0, axes=AXES) -> np.ndarray:
    """(n_axes, 2): transitions from the lowest level to the two others, by diagonalisation."""
    out = []
    for axis in np.atleast_2d(axes):
        levels = np.linalg.eigvalsh(hamiltonian(b_tesla, axis, D, E))
        out.append(levels[1:] - levels[0])
    return np.array(out)


def signed_permutations() -> list[np.ndarray]:
    """The 48 matrices that permute and sign-flip (x, y, z)."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for row, (col, sign) in enumerate(zip(perm, signs)):
                m[row, col] = sign
            mats.append(m)
    return mats
