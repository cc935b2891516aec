"""Amplitude spectral density of a time series (Welch), one-sided, in unit/√Hz.

Scaling convention: the one-sided power spectral density S(f) integrates to the variance over
0 … fs/2, so white noise of standard deviation σ per sample at rate fs has
``ASD = σ · √(2 / fs)``; a sinusoid of peak amplitude A carries power A²/2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from .timeseries import Series, as_series

__all__ = ["SpectralDensity", "amplitude_spectral_density", "default_segment_length"]


@dataclass(frozen=True)
class SpectralDensity:
    """A one-sided Welch spectral density estimate.

    Attributes
    ----------
    frequency
        Bin frequencies from 0 to fs/2, Hz.
    psd
        One-sided power spectral density, unit²/Hz.
    unit
        Unit of the series (``"T"`` for fields): the ASD is in unit/√Hz.
    sample_rate
        Sample rate of the series, Hz.
    segment_length
        Samples per Welch segment.
    n_segments
        Number of (50 % overlapping) segments averaged.
    dof
        Effective degrees of freedom of each bin's estimate (χ² distributed), taking the
        correlation of overlapping windowed segments into account.
    lobe_bins
        Half-width, in bins, of the window's main lobe plus a margin: the bins that hold a
        pure tone's power.
    window
        Name of the window.
    """

    frequency: NDArray[np.float64]
    psd: NDArray[np.float64]
    unit: str
    sample_rate: float
    segment_length: int
    n_segments: int
    dof: float
    lobe_bins: int
    window: str

    @property
    def asd(self) -> NDArray[np.float64]:
        """One-sided amplitude spectral density, unit/√Hz."""
        return np.sqrt(self.psd)

    @property
    def resolution(self) -> float:
        """Bin spacing, Hz."""
        return self.sample_rate / self.segment_length

    def to_dataarray(self) -> Any:
        """The ASD as an ``xarray.DataArray`` over ``frequency`` (Hz)."""
        import xarray as xr

        return xr.DataArray(
            self.asd,
            coords={"frequency": ("frequency", self.frequency, {"units": "Hz"})},
            dims="frequency",
            name="asd",
            attrs={"units": f"{self.unit}/sqrt(Hz)", "long_name": "amplitude spectral density",
                   "window": self.window, "segment_length": self.segment_length,
                   "n_segments": self.n_segments},
        )


def default_segment_length(n_samples: int) -> int:
    """Welch segment length used when none is asked for.

    A power of two near n/8, so about 15 half-overlapping segments are averaged (a ±25 %
    scatter per bin), but never shorter than 256 samples (or the whole series if shorter), so
    that short series keep a usable frequency resolution.
    """
    target = n_samples // 8
    if target >= 256:
        return int(2 ** np.floor(np.log2(target)))
    return min(n_samples, 256)


def amplitude_spectral_density(
    data: Any,
    sample_rate: float | None = None,
    *,
    variable: str | None = None,
    resolution: float | None = None,
    segment_length: int | None = None,
    window: str = "hann",
    detrend: str | bool = "linear",
) -> SpectralDensity:
    """One-sided amplitude spectral density (Welch's method, 50 % overlap).

    Parameters
    ----------
    data, sample_rate, variable
        The series: see :func:`nvsense.analysis.as_series` (numpy array with ``sample_rate``
        in Hz, or an xarray object with a ``time`` coordinate in s).
    resolution
        Wanted bin spacing in Hz; sets the segment length to ``sample_rate / resolution``.
    segment_length
        Samples per segment (instead of ``resolution``).  Default:
        :func:`default_segment_length`.
    window
        Any window name ``scipy.signal.get_window`` knows.  The Hann window suits noise and
        tones alike.
    detrend
        ``"linear"`` (default: removes each segment's drift), ``"constant"`` or ``False``.

    Returns
    -------
    SpectralDensity
        ``.frequency`` (Hz), ``.asd`` (unit/√Hz), ``.psd``; white noise of standard deviation
        σ per sample gives ``σ·√(2/fs)``.
    """
    series = as_series(data, sample_rate, variable=variable)
    nperseg = _segment_length(series, resolution, segment_length)
    taper = signal.get_window(window, nperseg)
    noverlap = nperseg // 2
    frequency, psd = signal.welch(series.values, fs=series.sample_rate, window=taper,
                                  nperseg=nperseg, noverlap=noverlap, detrend=detrend,
                                  scaling="density", return_onesided=True)
    n_segments = (series.values.size - noverlap) // (nperseg - noverlap)
    return SpectralDensity(
        frequency=frequency,
        psd=psd,
        unit=series.unit,
        sample_rate=series.sample_rate,
        segment_length=nperseg,
        n_segments=n_segments,
        dof=_welch_dof(taper, n_segments, nperseg - noverlap),
        lobe_bins=_lobe_bins(taper),
        window=window,
    )


def _segment_length(series: Series, resolution: float | None, segment_length: int | None) -> int:
    n = series.values.size
    if resolution is not None and segment_length is not None:
        raise ValueError("give either resolution or segment_length, not both")
    if resolution is not None:
        if not resolution > 0:
            raise ValueError(f"resolution must be a positive number of Hz, not {resolution!r}")
        segment_length = int(np.ceil(series.sample_rate / resolution))
        if segment_length > n:
            raise ValueError(
                f"a resolution of {resolution:g} Hz needs {segment_length} samples but the "
                f"series has {n} ({series.duration:g} s): record longer or ask for at least "
                f"{series.sample_rate / n:.3g} Hz")
    if segment_length is None:
        return default_segment_length(n)
    segment_length = int(segment_length)
    if not 8 <= segment_length <= n:
        raise ValueError(f"segment_length must be between 8 and the series length {n}, "
                         f"not {segment_length}")
    return segment_length


def _welch_dof(taper: NDArray[np.float64], n_segments: int, step: int) -> float:
    """Equivalent χ² degrees of freedom of a Welch estimate (Welch 1967, eq. for overlapped
    segments): 2K / (1 + 2 Σ_j (1 − j/K) ρ_j²), ρ_j the window overlap correlation."""
    norm = float(np.sum(taper**2))
    total = 0.0
    for j in range(1, n_segments):
        shift = j * step
        if shift >= taper.size:
            break
        rho = float(np.sum(taper[shift:] * taper[:-shift])) / norm
        total += (1.0 - j / n_segments) * rho**2
    return 2.0 * n_segments / (1.0 + 2.0 * total)


def _lobe_bins(taper: NDArray[np.float64]) -> int:
    """Bins either side of a tone's peak that hold (nearly) all of its power: twice the
    window's equivalent noise bandwidth in bins (Hann: 1.5 bins → 4), so a tone falling
    between two bins is still captured whole."""
    enbw_bins = taper.size * float(np.sum(taper**2)) / float(np.sum(taper)) ** 2
    return int(np.ceil(2.0 * enbw_bins)) + 1
