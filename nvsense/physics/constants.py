"""Physical constants of the NV centre ground state, with their sources.

All values are SI (Hz, T, K).  See ``../shared/REFERENCES.md`` of the project for the list.
"""

from __future__ import annotations

#: Planck constant, J s (exact, SI 2019).
PLANCK_J_S = 6.62607015e-34
#: Bohr magneton, J/T (CODATA 2018).
BOHR_MAGNETON_J_PER_T = 9.2740100783e-24

#: Electron g-factor of the NV ground state (Doherty et al., Phys. Rep. 528, 2013).
G_NV = 2.0028
#: Gyromagnetic ratio g·μB/h of the NV electron spin, Hz/T (≈ 28.03 GHz/T = 2.803 MHz/G).
GAMMA_NV_HZ_PER_T = G_NV * BOHR_MAGNETON_J_PER_T / PLANCK_J_S

#: Ground-state zero-field splitting D at room temperature, Hz (Acosta et al., PRL 104,
#: 070801, 2010).
ZFS_HZ = 2.870e9
#: Temperature coefficient dD/dT near room temperature, Hz/K: −74.2(7) kHz/K between 280 and
#: 330 K (Acosta et al. 2010).
DZFS_DT_HZ_PER_K = -74.2e3
