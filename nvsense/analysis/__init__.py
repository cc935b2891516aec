"""Reanalysis: noise of B(t) series and widefield ODMR cubes.

Noise (:mod:`.noise`, :mod:`.spectral`, :mod:`.allan`): amplitude spectral density, noise floor,
test tones, Allan deviation and the shot-noise comparison of a magnetometer's B(t).

Widefield (:mod:`.cube`, :mod:`.cube_simulation`, :mod:`.widefield`,
:mod:`.widefield_executor`): cube files, simulated cubes with a known field map, and
pixel-by-pixel fits in one process or on Dask.
"""

from .allan import AllanDeviation, allan_deviation
from .cube import CubeError, bin_pixels, check_cube, open_cube, write_cube
from .cube_simulation import FIELD_MAPS, field_map, simulate_cube, simulated_spectra
from .noise import (
    NoiseReport,
    Tone,
    analyse_noise,
    find_tones,
    noise_band,
    noise_floor,
    shot_noise_floor,
    shot_noise_ratio,
)
from .noise_plots import plot_noise
from .spectral import SpectralDensity, amplitude_spectral_density
from .timeseries import Series, as_series
from .widefield import fit_cube, summarise_fit
from .widefield_executor import Executor, choose_executor
from .widefield_plots import field_map_error, field_rms_error, plot_field_map

__all__ = [
    "FIELD_MAPS",
    "AllanDeviation",
    "CubeError",
    "Executor",
    "NoiseReport",
    "Series",
    "SpectralDensity",
    "Tone",
    "allan_deviation",
    "amplitude_spectral_density",
    "analyse_noise",
    "as_series",
    "bin_pixels",
    "check_cube",
    "choose_executor",
    "field_map",
    "field_map_error",
    "field_rms_error",
    "find_tones",
    "fit_cube",
    "noise_band",
    "noise_floor",
    "open_cube",
    "plot_field_map",
    "plot_noise",
    "shot_noise_floor",
    "shot_noise_ratio",
    "simulate_cube",
    "simulated_spectra",
    "summarise_fit",
    "write_cube",
]
