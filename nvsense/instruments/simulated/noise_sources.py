"""Seeded noise generators for the simulated photodiode chain, streaming in blocks.

:class:`PowerLawNoise` draws a record whose one-sided amplitude spectral density is

    A(f) = white · √(1 + (corner / f)^α)       (white above ``corner``, 1/f^α below it),

the shape of a laser's relative intensity noise, of a microwave source's amplitude and phase
noise, and of urban magnetic field noise.  The 1/f^α part is white Gaussian noise shaped by a
chain of first-order pole–zero sections (four per decade, poles p and zeros p·10^{α/8},
spread from ``f_min`` to the Nyquist frequency: a rational approximation of 1/f^α, ripple
below 0.1 dB), scaled so that it averages to the target over its band.  The filter state and
the random stream carry over from block to block: a record drawn in blocks of any size is the
one drawn at once.

Each generator owns its ``numpy.random.Generator``; :func:`spawn_generators` derives
independent ones from one seed, so every noise source of a simulated bench is reproducible and
independent of the others.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import signal

__all__ = ["PowerLawNoise", "spawn_generators"]


def spawn_generators(seed: int | None, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed`` (``None``: fresh entropy)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


class PowerLawNoise:
    """Gaussian noise with ASD ``white·√(1 + (corner/f)^α)`` per √Hz, one-sided.

    Parameters
    ----------
    sample_rate
        Hz.
    white
        ASD above the corner, in the record's unit per √Hz (0: no white part).
    corner
        Frequency (Hz) where the 1/f^α part equals the white part; 0: white only.
    alpha
        Exponent of the PSD below the corner (1 for 1/f noise, 2 for a random walk).
    f_min
        Below this frequency the 1/f^α part levels off (the record stays finite), Hz.
    rng
        The random generator (seeded by the caller).
    """

    def __init__(self, sample_rate: float, white: float, corner: float = 0.0, *,
                 alpha: float = 1.0, f_min: float = 0.01,
                 rng: np.random.Generator | None = None) -> None:
        fs = float(sample_rate)
        if not (math.isfinite(fs) and fs > 0):
            raise ValueError(f"sample_rate must be positive, not {sample_rate!r}")
        for name, value in (("white", white), ("corner", corner), ("f_min", f_min)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number ≥ 0, not {value!r}")
        if not (math.isfinite(alpha) and 0 < alpha <= 3):
            raise ValueError(f"alpha must be in (0, 3], not {alpha!r}")
        if corner > 0 and not 0 < f_min < corner:
            raise ValueError(f"f_min ({f_min:g} Hz) must be positive and below the corner "
                             f"({corner:g} Hz)")
        self.sample_rate = fs
        self.white = float(white)
        self.corner = float(corner)
        self.alpha = float(alpha)
        self.f_min = float(f_min)
        self.rng = rng if rng is not None else np.random.default_rng()
        self._sigma_white = self.white * math.sqrt(fs / 2)  # per-sample σ of the white part
        self._sos: NDArray[np.float64] | None = None
        self._state: NDArray[np.float64] | None = None
        if self.white > 0 and self.corner > 0:
            self._sos = self._design()
            self._state = np.zeros((self._sos.shape[0], 2))

    def _design(self) -> NDArray[np.float64]:
        """First-order pole-zero sections, bilinear, scaled to the target on average."""
        fs = self.sample_rate
        nyquist = fs / 2
        step = 10.0 ** 0.25  # four poles per decade
        ratio = step ** (self.alpha / 2)  # zero/pole ratio giving a PSD slope of -alpha
        sections = []
        pole = self.f_min
        while pole < nyquist * 0.9:
            zero = pole * ratio
            # analog (1 + s/wz)/(1 + s/wp), prewarped, then bilinear
            wz = 2 * fs * math.tan(math.pi * min(zero, 0.999 * nyquist) / fs)
            wp = 2 * fs * math.tan(math.pi * pole / fs)
            b, a = signal.bilinear([1 / wz, 1.0], [1 / wp, 1.0], fs)
            sections.append([b[0], b[1], 0.0, a[0], a[1], 0.0])
            pole *= step
        sos = np.array(sections, dtype=float)
        sos[:, :3] /= sos[:, 3:4]
        sos[:, 3:] /= sos[:, 3:4]
        # input noise of unit one-sided PSD has per-sample σ = √(fs/2); scale the chain so
        # that log|H| matches the 1/f^α target on average between 10·f_min and nyquist/10
        grid = np.geomspace(10 * self.f_min, nyquist / 10, 200)
        _, h = signal.sosfreqz(sos, worN=grid, fs=fs)
        target = self.white * (self.corner / grid) ** (self.alpha / 2)
        sos[0, :3] *= math.exp(float(np.mean(np.log(target / np.abs(h)))))
        return sos

    def __call__(self, n: int) -> NDArray[np.float64]:
        """The next ``n`` samples."""
        if n < 0:
            raise ValueError(f"n must be ≥ 0, not {n}")
        out = np.zeros(n)
        if self.white == 0 or n == 0:
            return out
        if self._sos is None:
            return self._sigma_white * self.rng.standard_normal(n)
        # one draw of (n, 2): sample k's two numbers come next in the stream whatever the
        # block size, so blocks continue the record exactly
        draws = self.rng.standard_normal((n, 2))
        pink, self._state = signal.sosfilt(self._sos, draws[:, 0] * math.sqrt(
            self.sample_rate / 2), zi=self._state)
        return pink + self._sigma_white * draws[:, 1]

    def asd(self, frequency: float | NDArray[np.float64]) -> NDArray[np.float64]:
        """The target one-sided ASD at ``frequency`` (Hz), without the low-frequency roll-off."""
        f = np.asarray(frequency, dtype=float)
        if self.corner == 0:
            return np.full(f.shape, self.white)
        return self.white * np.sqrt(1 + (self.corner / f) ** self.alpha)
