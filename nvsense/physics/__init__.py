"""NV ground-state physics: constants, axes, Hamiltonian, resonances <-> field.

This layer imports nothing else of nvsense.
"""

from .axes import NV_AXES, axis_frame
from .constants import DZFS_DT_HZ_PER_K, G_NV, GAMMA_NV_HZ_PER_T, ZFS_HZ
from .hamiltonian import spin_hamiltonian, transition_frequencies
from .hyperfine import (
    A_PARALLEL_14N_HZ,
    A_PARALLEL_15N_HZ,
    A_PERP_14N_HZ,
    A_PERP_15N_HZ,
    NUCLEI,
    QUADRUPOLE_14N_HZ,
    hyperfine_offsets,
)

__all__ = [
    "A_PARALLEL_14N_HZ",
    "A_PARALLEL_15N_HZ",
    "A_PERP_14N_HZ",
    "A_PERP_15N_HZ",
    "DZFS_DT_HZ_PER_K",
    "GAMMA_NV_HZ_PER_T",
    "G_NV",
    "NUCLEI",
    "NV_AXES",
    "QUADRUPOLE_14N_HZ",
    "ZFS_HZ",
    "axis_frame",
    "hyperfine_offsets",
    "spin_hamiltonian",
    "transition_frequencies",
]
