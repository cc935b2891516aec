"""NV ground-state physics: constants, axes, Hamiltonian, the forward model of the lines (and its
Jacobian), resonances <-> field, temperature, sensitivity.

All quantities are SI floats (Hz, T, K).  This layer imports nothing else of nvsense.

>>> import numpy as np
>>> from nvsense.physics import transition_frequencies, field_from_transitions
>>> lines = transition_frequencies([1e-3, 2e-3, 3e-3])  # (4 axes, 2) in Hz
>>> np.round(lines[0] / 1e6, 3)
array([2773.726, 2967.918])
>>> np.round(field_from_transitions(lines).field * 1e3, 6)
array([1., 2., 3.])
"""

from .axes import (
    AXIS_LABELS,
    CUTS,
    NV_AXES,
    axis_frame,
    crystal_to_lab,
    lab_frame,
    lab_to_crystal,
    nv_axes_in_lab,
)
from .axial import axial_field, axis_field_components
from .constants import DZFS_DT_HZ_PER_K, G_NV, GAMMA_NV_HZ_PER_T, ZFS_HZ
from .field_estimate import STRAIN_E_MAX_HZ, FieldEstimate
from .forward import frame_line_derivatives, transition_jacobian
from .hamiltonian import (
    axis_frames,
    energy_levels,
    levels_from_frame_field,
    nv_frame_field,
    spin_hamiltonian,
    transition_frequencies,
)
from .hyperfine import (
    A_PARALLEL_14N_HZ,
    A_PARALLEL_15N_HZ,
    A_PERP_14N_HZ,
    A_PERP_15N_HZ,
    NUCLEI,
    QUADRUPOLE_14N_HZ,
    hyperfine_lines,
    hyperfine_offsets,
)
from .inversion import field_from_transitions
from .sensitivity import shot_noise_sensitivity
from .symmetry import axis_symmetries, canonical_field, signed_permutations
from .temperature import ZFS_MODELS, temperature_from_zfs, zfs_at

__all__ = [
    "AXIS_LABELS",
    "A_PARALLEL_14N_HZ",
    "A_PARALLEL_15N_HZ",
    "A_PERP_14N_HZ",
    "A_PERP_15N_HZ",
    "CUTS",
    "DZFS_DT_HZ_PER_K",
    "GAMMA_NV_HZ_PER_T",
    "G_NV",
    "NUCLEI",
    "NV_AXES",
    "QUADRUPOLE_14N_HZ",
    "STRAIN_E_MAX_HZ",
    "ZFS_HZ",
    "ZFS_MODELS",
    "FieldEstimate",
    "axial_field",
    "axis_field_components",
    "axis_frame",
    "axis_frames",
    "axis_symmetries",
    "canonical_field",
    "crystal_to_lab",
    "energy_levels",
    "field_from_transitions",
    "frame_line_derivatives",
    "hyperfine_lines",
    "hyperfine_offsets",
    "lab_frame",
    "lab_to_crystal",
    "levels_from_frame_field",
    "nv_axes_in_lab",
    "nv_frame_field",
    "shot_noise_sensitivity",
    "signed_permutations",
    "spin_hamiltonian",
    "temperature_from_zfs",
    "transition_frequencies",
    "transition_jacobian",
    "zfs_at",
]
