"""NV ground-state physics: constants, axes, Hamiltonian, resonances <-> field.

This layer imports nothing else of nvsense.
"""

from .axes import NV_AXES, axis_frame
from .constants import DZFS_DT_HZ_PER_K, G_NV, GAMMA_NV_HZ_PER_T, ZFS_HZ
from .hamiltonian import spin_hamiltonian, transition_frequencies

__all__ = [
    "DZFS_DT_HZ_PER_K",
    "GAMMA_NV_HZ_PER_T",
    "G_NV",
    "NV_AXES",
    "ZFS_HZ",
    "axis_frame",
    "spin_hamiltonian",
    "transition_frequencies",
]
