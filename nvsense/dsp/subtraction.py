"""Reference-beam subtraction of laser intensity noise, with a fitted gain.

A pick-off of the excitation laser falls on a reference photodiode.  Its photocurrent carries
the laser's relative intensity noise (RIN) but not the NV signal; subtracting ``g·r`` from the
signal photodiode's ``s`` cancels the RIN when ``g`` matches the ratio of the two DC levels
and the detectors' responses.  Turning a potentiometer until the noise dips is how balanced
detectors are adjusted by hand; here ``g`` is fitted to the data:

``"block_ls"``
    Least squares per block: ``g = Σ s̃ r̃ / Σ r̃²`` with s̃, r̃ the blocks less their straight-line
    trend (the DC levels, which differ on purpose, and slow drifts do not enter the fit).  With
    ``memory`` λ > 0 the sums are exponentially weighted across blocks (recursive least
    squares with forgetting factor λ), which steadies g when blocks are short.
``"lms"``
    Normalised block LMS: ``g ← g + μ·Σ e r̃ / Σ r̃²`` with ``e = s̃ − g r̃`` from the gain
    before the update (a causal adaptive filter; μ in (0, 1]).

Gains are fitted per signal channel against one reference channel.  The NV signal does not
bias the fit because it is uncorrelated with the reference.

:func:`rin_suppression` reports what the subtraction achieved: the ratio, in dB, of the noise
power spectral densities before and after, near the modulation frequency (where a lock-in
reads it) and over the sidebands ``f_mod ± band`` that fold into the lock-in's measurement
band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal

__all__ = ["AdaptiveSubtraction", "RinSuppression", "SubtractionBlock", "rin_suppression"]


@dataclass(frozen=True)
class SubtractionBlock:
    """One block after subtraction.

    Attributes
    ----------
    cleaned
        ``s − g·r``, the shape of the signal block given.
    gain
        The gain used for each signal channel, shape (n_channels,).
    """

    cleaned: NDArray[np.float64]
    gain: NDArray[np.float64]


class AdaptiveSubtraction:
    """Subtract a fitted multiple of the reference photodiode from the signal photodiode(s).

    Parameters
    ----------
    sample_rate
        Sample rate of both records, Hz.
    method
        ``"block_ls"`` (least squares per block, optionally with memory) or ``"lms"``
        (normalised block LMS).
    memory
        Forgetting factor λ in [0, 1) for ``block_ls``: 0 fits each block on its own.
    step
        LMS step μ in (0, 1].
    detrend
        What is removed from each block before fitting: ``"linear"`` (mean and slope: DC
        levels and slow drifts of either beam do not bias the gain) or ``"constant"``.
    n_channels
        Signal channels (each gets its own gain against the one reference).
    """

    def __init__(self, sample_rate: float, *, method: Literal["block_ls", "lms"] = "block_ls",
                 memory: float = 0.0, step: float = 0.5,
                 detrend: Literal["linear", "constant"] = "linear",
                 n_channels: int = 1) -> None:
        fs = float(sample_rate)
        if not (math.isfinite(fs) and fs > 0):
            raise ValueError(f"sample_rate must be a positive number of Hz, not {sample_rate!r}")
        if method not in ("block_ls", "lms"):
            raise ValueError(f"method must be 'block_ls' or 'lms', not {method!r}")
        if not (math.isfinite(memory) and 0 <= memory < 1):
            raise ValueError(f"memory must be a forgetting factor in [0, 1), not {memory!r}")
        if not (math.isfinite(step) and 0 < step <= 1):
            raise ValueError(f"step must be an LMS step in (0, 1], not {step!r}")
        if detrend not in ("linear", "constant"):
            raise ValueError(f"detrend must be 'linear' or 'constant', not {detrend!r}")
        if isinstance(n_channels, bool) or int(n_channels) != n_channels or n_channels < 1:
            raise ValueError(f"n_channels must be a whole number ≥ 1, not {n_channels!r}")
        self.sample_rate = fs
        self.method = method
        self.memory = float(memory)
        self.step = float(step)
        self.detrend = detrend
        self.n_channels = int(n_channels)
        self.reset()

    def reset(self) -> None:
        """Forget the fit (the next block starts a new one)."""
        self._gain: NDArray[np.float64] | None = None
        self._sr = np.zeros(self.n_channels)
        self._rr = 0.0

    @property
    def gain(self) -> NDArray[np.float64] | None:
        """The current gain of each channel (``None`` before the first block)."""
        return None if self._gain is None else self._gain.copy()

    def _fit_inputs(self, s: NDArray[np.float64], r: NDArray[np.float64]
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        both = np.vstack([s, r[None, :]])
        both -= both.mean(axis=1, keepdims=True)
        n = both.shape[1]
        if self.detrend == "linear" and n > 1:
            # least-squares slope against the centred sample index, removed row by row
            k = np.arange(n, dtype=float) - (n - 1) / 2
            slopes = np.einsum("ij,j->i", both, k) / np.dot(k, k)
            both -= slopes[:, None] * k[None, :]
        return both[:-1], both[-1]

    def process(self, signal_block: ArrayLike, reference_block: ArrayLike) -> SubtractionBlock:
        """Fit (or update) the gains on this block and return ``s − g·r``.

        Parameters
        ----------
        signal_block
            Signal photodiode samples, shape (n,) or (n_channels, n).
        reference_block
            Reference photodiode samples of the same instants, shape (n,).
        """
        s_in = np.asarray(signal_block, dtype=float)
        s = s_in[None, :] if s_in.ndim == 1 else s_in
        r = np.asarray(reference_block, dtype=float)
        if s.ndim != 2 or s.shape[0] != self.n_channels or r.shape != (s.shape[1],):
            raise ValueError(f"signal must have shape ({self.n_channels}, n) (or (n,)) and "
                             f"the reference (n,); got {s_in.shape} and {r.shape}")
        s_fit, r_fit = self._fit_inputs(s, r)
        # einsum, not BLAS: a threaded BLAS would spin extra cores for these short products
        sr = np.einsum("ij,j->i", s_fit, r_fit)
        rr = float(np.dot(r_fit, r_fit))
        if rr <= 1e-24 * float(np.dot(r, r)):  # nothing left after the trend: a constant record
            raise ValueError("the reference photodiode record is constant: check that the "
                             "reference beam reaches it (no laser noise to fit against)")
        if self.method == "block_ls" or self._gain is None:
            self._sr = self.memory * self._sr + sr
            self._rr = self.memory * self._rr + rr
            gain = self._sr / self._rr
            used = gain
        else:  # normalised block LMS: output with the a-priori gain, then update
            used = self._gain
            error_corr = sr - used * rr
            gain = used + self.step * error_corr / rr
        self._gain = np.asarray(gain, dtype=float)
        cleaned = s - np.asarray(used)[:, None] * r[None, :]
        return SubtractionBlock(cleaned=cleaned[0] if s_in.ndim == 1 else cleaned,
                                gain=np.asarray(used, dtype=float).copy())


@dataclass(frozen=True)
class RinSuppression:
    """Noise suppression of a subtraction, dB (positive: the noise went down).

    Attributes
    ----------
    at_modulation_db
        Ratio of the mean PSDs within ``band[0]`` of the modulation frequency (the 4 bins
        closest to it on each side, where a line at f_mod leaks, excluded).
    in_band_db
        Ratio of the mean PSDs over the sidebands ``band[0] ≤ |f − f_mod| ≤ band[1]``, the
        noise that folds into the lock-in's measurement band.
    resolution_hz
        Frequency resolution of the spectra used.
    """

    at_modulation_db: float
    in_band_db: float
    resolution_hz: float


def rin_suppression(raw: ArrayLike, cleaned: ArrayLike, sample_rate: float,
                    modulation_frequency: float, *, band: tuple[float, float] = (10.0, 100.0),
                    nperseg: int | None = None) -> RinSuppression:
    """How much :class:`AdaptiveSubtraction` (or any cleaning) lowered the noise near f_mod.

    Parameters
    ----------
    raw, cleaned
        The signal photodiode record before and after subtraction (same length, 1-D).
    sample_rate
        Hz.
    modulation_frequency
        f_mod, Hz.
    band
        (lowest, highest) offset from f_mod, Hz: the lock-in's measurement band (10–100 Hz by
        default, the band of nvsense's noise floors).
    nperseg
        Welch segment length; default the power of two giving bins ≤ band[0]/8.

    Notes
    -----
    The spectra use a Blackman–Harris window (sidelobes below −92 dB, main lobe ±4 bins)
    and leave out the 4 bins on each side of f_mod, so that an NV signal line at f_mod does
    not mask the noise floor beside it.
    """
    a = np.asarray(raw, dtype=float)
    b = np.asarray(cleaned, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"raw and cleaned must be 1-D records of the same length, got "
                         f"{a.shape} and {b.shape}")
    fs = float(sample_rate)
    f_mod = float(modulation_frequency)
    lo, hi = (float(v) for v in band)
    if not (0 < lo < hi and f_mod + hi < fs / 2 and f_mod - hi > 0):
        raise ValueError(f"band {band!r} around {f_mod:g} Hz must satisfy 0 < low < high and "
                         f"stay between 0 and the Nyquist frequency {fs / 2:g} Hz")
    if nperseg is None:
        nperseg = 1 << math.ceil(math.log2(8 * fs / lo))
    if a.size < nperseg:
        raise ValueError(f"the record has {a.size} samples; resolving {lo:g} Hz around "
                         f"{f_mod:g} Hz needs at least {nperseg} ({nperseg / fs:.3g} s)")
    f, p_raw = signal.welch(a, fs, window="blackmanharris", nperseg=nperseg)
    _, p_clean = signal.welch(b, fs, window="blackmanharris", nperseg=nperseg)
    df = f[1] - f[0]
    offset = np.abs(f - f_mod)
    near = (offset <= lo) & (offset > 4 * df)
    side = (offset >= lo) & (offset <= hi)
    if not near.any():
        raise ValueError(f"the spectrum resolution {df:g} Hz is too coarse for a {lo:g} Hz "
                         f"window around f_mod; give a larger nperseg")

    def ratio_db(mask: NDArray[np.bool_]) -> float:
        return float(10 * np.log10(p_raw[mask].mean() / p_clean[mask].mean()))

    return RinSuppression(at_modulation_db=ratio_db(near), in_band_db=ratio_db(side),
                          resolution_hz=float(df))
