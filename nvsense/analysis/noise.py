"""Noise of a magnetometer's B(t): test tones, noise floor, comparison with the shot-noise limit.

The tracking magnetometer reports ``noise_floor(series, sample_rate)``: the ASD of B(t) between
10 Hz and a third of the output rate, detected tones excluded.  :func:`analyse_noise` gathers
everything (ASD, floor, tones, Allan deviation, shot-noise ratio) in one report for notebooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import ndimage, stats

from ..physics import shot_noise_sensitivity
from .allan import AllanDeviation, allan_deviation
from .spectral import SpectralDensity, amplitude_spectral_density
from .timeseries import as_series

__all__ = [
    "NOISE_BAND_LOW_HZ",
    "NoiseReport",
    "Tone",
    "analyse_noise",
    "find_tones",
    "noise_band",
    "noise_floor",
    "shot_noise_floor",
    "shot_noise_ratio",
]

#: Lower edge of the default noise band, Hz (above most drift, below the dither rates).
NOISE_BAND_LOW_HZ = 10.0
#: Default upper edge of the noise band as a fraction of the sample rate (well inside the
#: output filter of a tracking loop).
NOISE_BAND_HIGH_FRACTION = 1.0 / 3.0

# Bins of the running median that stands for the local noise level under the tones: wide
# enough to ignore a tone's lobe, narrow enough to follow 1/f noise.
_BASELINE_BINS = 31


@dataclass(frozen=True)
class Tone:
    """A sinusoid found in a spectral density.

    Attributes
    ----------
    frequency
        Frequency, Hz (power-weighted centroid of the peak, a fraction of a bin accurate).
    amplitude
        Peak amplitude of the sinusoid, in the series' unit (T for fields): the power under the
        peak, noise removed, is A²/2.  The window's effect is corrected by integrating the
        whole main lobe, so it does not depend on where the tone falls between bins.
    significance
        Peak power over the local noise power.
    """

    frequency: float
    amplitude: float
    significance: float


def noise_band(sample_rate: float, f_lo: float | None = None,
               f_hi: float | None = None) -> tuple[float, float]:
    """The band a noise floor is taken over: ``f_lo`` (default 10 Hz) to ``f_hi`` (default a
    third of the sample rate).

    Raises
    ------
    ValueError
        If the band is empty or reaches beyond the Nyquist frequency.
    """
    lo = NOISE_BAND_LOW_HZ if f_lo is None else float(f_lo)
    hi = NOISE_BAND_HIGH_FRACTION * sample_rate if f_hi is None else float(f_hi)
    if lo < 0 or not lo < hi:
        raise ValueError(f"the noise band {lo:g}–{hi:g} Hz is empty (sample rate "
                         f"{sample_rate:g} Hz): choose f_lo < f_hi, e.g. f_lo={hi / 10:.3g}")
    if hi > sample_rate / 2 * (1 + 1e-9):
        raise ValueError(f"f_hi={hi:g} Hz is above the Nyquist frequency "
                         f"{sample_rate / 2:g} Hz of this series; lower it")
    return lo, hi


def find_tones(
    data: Any,
    sample_rate: float | None = None,
    *,
    variable: str | None = None,
    f_lo: float | None = None,
    f_hi: float | None = None,
    false_alarm: float = 1e-3,
    max_tones: int | None = None,
    **welch: Any,
) -> list[Tone]:
    """Detect sinusoidal tones (e.g. a test coil's field) in a series.

    A bin is a tone candidate when its power exceeds the local noise level (a running median,
    corrected for the bias of a median of χ² values) by the factor a white-noise bin would pass
    with probability ``false_alarm`` / number of bins searched.  Each peak's amplitude comes
    from the power integrated over the window's main lobe minus the noise in it.

    Parameters
    ----------
    data, sample_rate, variable
        The series (see :func:`nvsense.analysis.as_series`), or a :class:`SpectralDensity`
        already computed.
    f_lo, f_hi
        Frequency range searched, Hz.  Default: above the first few bins up to Nyquist.
    false_alarm
        Probability that pure white noise gives a spurious tone anywhere in the range.
    max_tones
        Return at most this many (the strongest).
    **welch
        Passed to :func:`amplitude_spectral_density` (``resolution``, ``window``, ...).

    Returns
    -------
    list of Tone
        Strongest first.
    """
    density = _density(data, sample_rate, variable, welch)
    return _find_tones(density, f_lo, f_hi, false_alarm, max_tones)


def noise_floor(
    data: Any,
    sample_rate: float | None = None,
    f_lo: float | None = None,
    f_hi: float | None = None,
    *,
    variable: str | None = None,
    statistic: Literal["median", "mean"] = "median",
    exclude_tones: bool = True,
    **welch: Any,
) -> float:
    """Noise floor of a series: its ASD between ``f_lo`` and ``f_hi``, tones excluded.

    The tracking magnetometer's ``noise_floor_t_per_rthz`` is ``noise_floor(b, rate)``.

    Parameters
    ----------
    data, sample_rate, variable
        The series: a numpy array of B in T with ``sample_rate`` in Hz, or an xarray
        DataArray/Dataset with a ``time`` coordinate (see :func:`nvsense.analysis.as_series`),
        or a :class:`SpectralDensity`.
    f_lo, f_hi
        Band, Hz.  Default 10 Hz to a third of the sample rate.
    statistic
        ``"median"`` (default; robust to spurs too weak to be detected, corrected for the
        median's bias on χ²-distributed bins so white noise gives its true density) or
        ``"mean"`` (root of the mean power density).
    exclude_tones
        Leave out the bins of tones found by :func:`find_tones` (default).
    **welch
        Passed to :func:`amplitude_spectral_density`.

    Returns
    -------
    float
        Noise density in unit/√Hz (T/√Hz for a field).
    """
    density = _density(data, sample_rate, variable, welch)
    lo, hi = noise_band(density.sample_rate, f_lo, f_hi)
    # search the whole spectrum: a tone just outside the band still leaks into its edge bins
    tones = _find_tones(density, None, None, 1e-3, None) if exclude_tones else []
    return _floor(density, lo, hi, tones, statistic)


def shot_noise_floor(linewidth: float, contrast: float, count_rate: float) -> float:
    """The CW-ODMR shot-noise limit as a one-sided amplitude spectral density, T/√Hz.

    The sensitivity η of Dréau et al. / Barry et al.
    (:func:`nvsense.physics.shot_noise_sensitivity`) is defined as δB·√t: the standard
    deviation of a t-second average times √t.  White noise of one-sided density ρ averages to
    ρ/√(2t) (a t-second boxcar has a noise bandwidth of 1/(2t)), so a magnetometer at the
    shot-noise limit shows a floor of √2·η in an ASD such as :func:`noise_floor`.  Compare a
    measured floor with this value, not with η itself.
    """
    return float(np.sqrt(2.0) * shot_noise_sensitivity(linewidth, contrast, count_rate))


def shot_noise_ratio(
    measured: float,
    *,
    linewidth: float,
    contrast: float,
    count_rate: float,
) -> float:
    """Measured noise floor over the CW-ODMR shot-noise limit (≥ 1 in practice).

    Both as one-sided ASDs: the limit is :func:`shot_noise_floor` = √2·η (see there).

    Parameters
    ----------
    measured
        Noise floor in T/√Hz (e.g. from :func:`noise_floor`).
    linewidth, contrast, count_rate
        FWHM in Hz, fractional contrast, detected photon rate in 1/s, as passed to
        :func:`nvsense.physics.shot_noise_sensitivity`.
    """
    if not (np.isfinite(measured) and measured > 0):
        raise ValueError(f"the measured noise floor must be a positive T/√Hz, not {measured!r}")
    return float(measured) / shot_noise_floor(linewidth, contrast, count_rate)


@dataclass(frozen=True)
class NoiseReport:
    """Everything :func:`analyse_noise` measured on one series.

    Attributes
    ----------
    spectrum
        The ASD (:class:`SpectralDensity`).
    band
        (f_lo, f_hi) of the noise floor, Hz.
    floor
        Noise floor in unit/√Hz.
    tones
        Tones found in the whole spectrum, strongest first.
    allan
        Overlapping Allan deviation.
    shot_noise_limit
        CW-ODMR shot-noise limit in T/√Hz, when the line parameters were given.
    """

    spectrum: SpectralDensity
    band: tuple[float, float]
    floor: float
    tones: list[Tone] = field(default_factory=list)
    allan: AllanDeviation | None = None
    shot_noise_limit: float | None = None

    @property
    def unit(self) -> str:
        """Unit of the series."""
        return self.spectrum.unit

    @property
    def shot_noise_ratio(self) -> float | None:
        """Floor over the shot-noise limit, or ``None`` when the limit is unknown."""
        if self.shot_noise_limit is None:
            return None
        return self.floor / self.shot_noise_limit

    def summary(self) -> dict[str, Any]:
        """Plain numbers for a table or JSON (SI units)."""
        ratio = self.shot_noise_ratio
        return {
            "unit": self.unit,
            "sample_rate_hz": self.spectrum.sample_rate,
            "band_hz": list(self.band),
            "noise_floor_per_rthz": self.floor,
            "tones": [{"frequency_hz": t.frequency, "amplitude": t.amplitude}
                      for t in self.tones],
            "shot_noise_limit_per_rthz": self.shot_noise_limit,
            "shot_noise_ratio": ratio,
        }


def analyse_noise(
    data: Any,
    sample_rate: float | None = None,
    f_lo: float | None = None,
    f_hi: float | None = None,
    *,
    variable: str | None = None,
    linewidth: float | None = None,
    contrast: float | None = None,
    count_rate: float | None = None,
    statistic: Literal["median", "mean"] = "median",
    false_alarm: float = 1e-3,
    **welch: Any,
) -> NoiseReport:
    """ASD, noise floor, tones, Allan deviation and shot-noise comparison of one series.

    Parameters are those of :func:`noise_floor`; give ``linewidth``, ``contrast`` and
    ``count_rate`` (all three) to compare with the shot-noise limit.
    """
    series = as_series(data, sample_rate, variable=variable)
    density = amplitude_spectral_density(series, **welch)
    band = noise_band(series.sample_rate, f_lo, f_hi)
    tones = _find_tones(density, None, None, false_alarm, None)
    floor = _floor(density, band[0], band[1], tones, statistic)
    line = (linewidth, contrast, count_rate)
    if any(v is not None for v in line) and any(v is None for v in line):
        raise ValueError("give linewidth, contrast and count_rate together for the shot-noise "
                         "limit, or none of them")
    limit = None if linewidth is None else shot_noise_floor(*line)
    return NoiseReport(
        spectrum=density,
        band=band,
        floor=floor,
        tones=tones,
        allan=allan_deviation(series),
        shot_noise_limit=limit,
    )


# --- internals ---------------------------------------------------------------------------


def _density(data: Any, sample_rate: float | None, variable: str | None,
             welch: dict[str, Any]) -> SpectralDensity:
    if isinstance(data, SpectralDensity):
        if welch or sample_rate is not None or variable is not None:
            raise ValueError("a SpectralDensity is already computed: pass no sample_rate, "
                             "variable or Welch options with it")
        return data
    return amplitude_spectral_density(data, sample_rate, variable=variable, **welch)


def _median_bias(dof: float) -> float:
    """Median of a χ²_ν/ν variable: what a running median of white-noise bins reads, as a
    fraction of their mean."""
    return float(stats.chi2.median(dof) / dof)


def _find_tones(density: SpectralDensity, f_lo: float | None, f_hi: float | None,
                false_alarm: float, max_tones: int | None) -> list[Tone]:
    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm must be a probability between 0 and 1, not {false_alarm}")
    psd, freq, h = density.psd, density.frequency, density.lobe_bins
    size = min(_BASELINE_BINS, psd.size if psd.size % 2 else psd.size - 1)
    baseline = ndimage.median_filter(psd, size=max(size, 1), mode="nearest")
    baseline = baseline / _median_bias(density.dof)
    # Skip DC (detrended away) and the first lobe; stay a lobe short of Nyquist.
    searched = np.zeros(psd.size, dtype=bool)
    searched[h + 1:psd.size - 1] = True
    if f_lo is not None:
        searched &= freq >= f_lo
    if f_hi is not None:
        searched &= freq <= f_hi
    n_searched = int(searched.sum())
    if n_searched == 0:
        return []
    threshold = stats.chi2.isf(false_alarm / n_searched, density.dof) / density.dof
    ratio = np.where(searched, psd / np.maximum(baseline, np.finfo(float).tiny), 0.0)
    tones: list[Tone] = []
    df = density.resolution
    while True:
        k = int(np.argmax(ratio))
        if ratio[k] <= threshold:
            break
        lobe = slice(max(k - h, 1), min(k + h + 1, psd.size))
        excess = np.clip(psd[lobe] - baseline[lobe], 0.0, None)
        power = float(np.sum(excess)) * df
        frequency = float(np.sum(excess * freq[lobe]) / np.sum(excess))
        tones.append(Tone(frequency, float(np.sqrt(2.0 * power)), float(ratio[k])))
        # the whole lobe belongs to this tone; a neighbour must stand clear of it
        ratio[max(k - 2 * h, 0):k + 2 * h + 1] = 0.0
        if max_tones is not None and len(tones) >= max_tones:
            break
    return tones


def _floor(density: SpectralDensity, lo: float, hi: float, tones: list[Tone],
           statistic: str) -> float:
    freq = density.frequency
    keep = (freq >= lo) & (freq <= hi) & (freq > 0)
    for tone in tones:
        keep &= np.abs(freq - tone.frequency) > (density.lobe_bins + 0.5) * density.resolution
    if not keep.any():
        raise ValueError(f"no spectral bin left between {lo:g} and {hi:g} Hz (bin spacing "
                         f"{density.resolution:.3g} Hz): widen the band or record longer")
    power = density.psd[keep]
    if statistic == "median":
        return float(np.sqrt(np.median(power) / _median_bias(density.dof)))
    if statistic == "mean":
        return float(np.sqrt(np.mean(power)))
    raise ValueError(f"statistic must be 'median' or 'mean', not {statistic!r}")
